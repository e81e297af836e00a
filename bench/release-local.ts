// Benchmark of the release engineer's loop (issue 21), step by step, this checkout
// against a base commit in the same run: each step is the real script started as a
// user starts it (the checkout's own tsx), on warm caches, timed as a whole process;
// the two checkouts alternate (base, this, base, this, ...) so that a machine whose
// speed drifts affects both alike. Prints one table: the median of the runs of each
// step (with min-max), base beside this. Figures, not a verdict: nothing here fails
// on a time.
//
// Steps: tsx's own start (the floor under every step), the no-op build-target.ts (linux-x64,
// built already; through the tsx CLI, and as node --import tsx), generate-manifest.ts
// and verify-artifacts.ts --record (release size: 1,020,000 results per binary),
// publish-all.ts --dry-run against the embedded registry (its verify record removed
// first, so it verifies as a first dry run does), and npm run release:local's script.
//
// Run: npx tsx bench/release-local.ts [--base <commit>] [--runs 3] [--steps a,b] [--targets a,b]
//      --base defaults to HEAD~1; the base is checked out in a git worktree under
//      .cache/bench-base-<commit> (made once, its node_modules linked to this checkout's).
//      --steps: tsx-start, noop-build, noop-build-node, manifest, verify, publish-dry-run, release-local
//      (default: all).
//      --no-base: this checkout alone.
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import minimist from 'minimist';
import { run } from '../scripts/lib/core/exec.ts';
import { DEFAULT_PIN, REPO_ROOT } from '../scripts/lib/core/paths.ts';
import { readPin } from '../scripts/lib/core/pin.ts';

const args = minimist(process.argv.slice(2), {
  string: ['base', 'runs', 'steps', 'targets'],
  default: { base: 'HEAD~1', runs: '3', targets: 'linux-x64,linux-arm64' },
});
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, not ${args.runs}`);
const targets = String(args.targets);
const version = readPin(DEFAULT_PIN).version;

interface Checkout {
  label: string;
  dir: string;
  /** this checkout's bench folder: its dist, logs */
  work: string;
}

const commitOf = async (dir: string, ref = 'HEAD') =>
  (await run(['git', '-C', dir, 'rev-parse', '--short', ref], { what: 'git rev-parse' })).stdout.trim();

async function baseCheckout(ref: string): Promise<Checkout> {
  const sha = await commitOf(REPO_ROOT, ref);
  const dir = join(REPO_ROOT, '.cache', `bench-base-${sha}`);
  if (!existsSync(join(dir, 'package.json')))
    await run(['git', '-C', REPO_ROOT, 'worktree', 'add', '--detach', dir, sha], { what: 'git worktree add' });
  // this checkout's installs, linked: the project's, and the staging registry's (setup.sh installs it)
  for (const modules of ['node_modules', 'tools/registry9/node_modules'])
    if (!existsSync(join(dir, modules)) && existsSync(join(dir, dirname(modules))))
      symlinkSync(join(REPO_ROOT, modules), join(dir, modules));
  return { label: `base ${sha}`, dir, work: join(REPO_ROOT, '.cache', 'bench-release-local', sha) };
}

/** Run argv in the checkout, its output appended to a log; the wall time in seconds. */
function timed(c: Checkout, argv: string[], log: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fd = openSync(join(c.work, log), 'a');
    const t0 = performance.now();
    const child = spawn(argv[0], argv.slice(1), {
      cwd: c.dir,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, NO_COLOR: '1', GITHUB_STEP_SUMMARY: '' },
    });
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(fd);
      const s = (performance.now() - t0) / 1000;
      if (code !== 0) reject(new Error(`${argv.join(' ')} in ${c.dir} failed (exit ${code}): see ${c.work}/${log}`));
      else resolve(s);
    });
  });
}

const tsx = (c: Checkout) => join(c.dir, 'node_modules', '.bin', 'tsx');

/**
 * A checkout's dry-run command line: `stage --dry-run` since publishing became subcommands (`--dry-run` before),
 * with `--allow-unmeasured` where the checkout has it (a four-target set made here rehearses: darwin cannot run).
 */
function rehearsing(c: Checkout): string[] {
  const text = readFileSync(join(c.dir, 'scripts', 'generate-manifest.ts'), 'utf8');
  return text.includes('allow-unmeasured') && /darwin/.test(targets) ? ['--allow-unmeasured'] : [];
}

function publishDryRun(c: Checkout): string[] {
  const text = readFileSync(join(c.dir, 'scripts', 'publish-all.ts'), 'utf8');
  const rehearse = text.includes('allow-unmeasured') && /darwin/.test(targets) ? ['--allow-unmeasured'] : [];
  return text.includes("name: 'stage'") ? ['stage', '--dry-run', ...rehearse] : ['--dry-run'];
}
const dist = (c: Checkout) => join(c.work, 'dist');

interface Step {
  name: string;
  /** runs not counted, first */
  warmup: number;
  before?: (c: Checkout) => Promise<void>;
  argv: (c: Checkout) => string[];
  /**
   * All of one checkout's runs, then the other's (each after its warm-up), not alternating: for steps whose state
   * outside the checkout (the build root's snapshot beside it) two checkouts may keep in different forms, where each
   * run would undo the other's.
   */
  inBlocks?: boolean;
}

const STEPS: Record<string, Step> = {
  // the floor under every step started through tsx: what a script that does nothing takes
  'tsx-start': {
    name: "tsx's own start (tsx -e '')",
    warmup: 1,
    argv: (c) => [tsx(c), '-e', ''],
  },
  'noop-build': {
    name: 'no-op build-target.ts --target linux-x64',
    warmup: 1,
    inBlocks: true,
    argv: (c) => [tsx(c), 'scripts/build-target.ts', '--target', 'linux-x64', '--dist', dist(c)],
  },
  // as the release chain, the tests and the benchmarks start a script (scripts/lib/core/run-script.ts): no tsx CLI
  'noop-build-node': {
    name: 'the same, as node --import tsx',
    warmup: 1,
    inBlocks: true,
    argv: (c) => [
      process.execPath,
      '--import',
      'tsx',
      'scripts/build-target.ts',
      '--target',
      'linux-x64',
      '--dist',
      dist(c),
    ],
  },
  manifest: {
    name: 'generate-manifest.ts',
    warmup: 0,
    argv: (c) => [tsx(c), 'scripts/generate-manifest.ts', '--targets', targets, ...rehearsing(c), '--dist', dist(c)],
  },
  verify: {
    name: 'verify-artifacts.ts --record',
    warmup: 0,
    argv: (c) => [
      tsx(c),
      'scripts/verify-artifacts.ts',
      '--record',
      '--targets',
      targets,
      ...rehearsing(c),
      '--dist',
      dist(c),
    ],
  },
  'publish-dry-run': {
    name: 'publish-all.ts --dry-run (embedded registry)',
    warmup: 0,
    // no verify record: the dry run verifies, as the release engineer's first one does
    before: (c) => rm(join(dist(c), `verified-${version}.json`), { force: true }),
    argv: (c) => [
      tsx(c),
      'scripts/publish-all.ts',
      ...publishDryRun(c),
      '--registry',
      'local',
      '--targets',
      targets,
      '--dist',
      dist(c),
    ],
  },
  'release-local': {
    name: 'release:local (the script, after setup.sh)',
    warmup: 0,
    inBlocks: true, // it builds: the build root's snapshot
    argv: (c) => [tsx(c), 'scripts/release-local.ts', '--dist', join(c.work, 'dist-release-local')],
  },
};

const chosen = args.steps ? String(args.steps).split(',') : Object.keys(STEPS);
for (const s of chosen) if (!STEPS[s]) throw new Error(`--steps: no step "${s}" (${Object.keys(STEPS).join(', ')})`);

const here: Checkout = {
  label: `this ${await commitOf(REPO_ROOT)}`,
  dir: REPO_ROOT,
  work: join(REPO_ROOT, '.cache', 'bench-release-local', 'this'),
};
// minimist reads --no-base as base=false
const checkouts = args.base === false ? [here] : [await baseCheckout(String(args.base)), here];

// set up each checkout's dist with its own scripts: builds (from the build cache), packages, a manifest
for (const c of checkouts) {
  await mkdir(c.work, { recursive: true });
  console.error(`${c.label}: preparing ${dist(c)} (${c.dir})`);
  for (const t of targets.split(','))
    await timed(c, [tsx(c), 'scripts/build-target.ts', '--target', t, '--dist', dist(c)], 'prepare.log');
  await timed(c, [tsx(c), 'scripts/stage-packages.ts', '--targets', targets, '--dist', dist(c)], 'prepare.log');
  if (chosen.some((s) => s === 'verify' || s === 'publish-dry-run') && !chosen.includes('manifest'))
    await timed(c, STEPS.manifest.argv(c), 'prepare.log');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) =>
  xs.length
    ? `${median(xs).toFixed(2)} s (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`
    : 'not measured';
const rows: Array<{ step: string; figures: number[][] }> = [];
for (const key of chosen) {
  const step = STEPS[key];
  const figures = checkouts.map(() => [] as number[]);
  const once = async (i: number, j: number) => {
    const c = checkouts[j];
    await step.before?.(c);
    const s = await timed(c, step.argv(c), `${key}.log`);
    console.error(`${c.label}: ${step.name}: ${s.toFixed(2)} s${i < step.warmup ? ' (warm-up)' : ''}`);
    if (i >= step.warmup) figures[j].push(s);
  };
  if (step.inBlocks) for (const j of checkouts.keys()) for (let i = 0; i < step.warmup + runs; i++) await once(i, j);
  else for (let i = 0; i < step.warmup + runs; i++) for (const j of checkouts.keys()) await once(i, j);
  rows.push({ step: step.name, figures });
}

const head = `| step (median of ${runs}, min-max) | ${checkouts.map((c) => c.label).join(' | ')} |`;
console.log(
  [
    `release engineer's loop, targets ${targets}, ${new Date().toISOString()}`,
    '',
    head,
    `|---|${checkouts.map(() => '---|').join('')}`,
    ...rows.map((r) => `| ${r.step} | ${r.figures.map(fmt).join(' | ')} |`),
  ].join('\n'),
);
