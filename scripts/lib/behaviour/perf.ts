// The performance gate against the previous release: the candidate's release
// binary and the base version's (from the registry, or its release bundle),
// run on the same host in interleaved runs over a committed workload set
// (bench/perf-workloads/). Two things are compared per workload:
//  - JavaScript speed: the median time of evaluating the workload;
//  - the deterministic compute meter (computrons): consensus-visible cost,
//    which must not change silently.
// Verdict: the geometric mean of the per-workload median ratios more than the
// threshold (5%) slower, or any meter change, fails unless accepted with a reason.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTarEntries } from '../core/tarball.ts';
import { CheckFailed, OperationError, type Failure } from '../core/errors.ts';
import { matchesIntegrity, sha256Hex, sriSha512 } from '../core/hash.ts';
import { RegistryReader } from '../core/npm-client.ts';
import { MANIFESTS_DIR, REPO_ROOT } from '../core/paths.ts';
import { bundleBinaryPath, manifestName, packageBinaryPath } from '../core/layout.ts';
import { readManifest } from '../core/manifest.ts';
import type { Target } from '../core/targets.ts';
import { XsnapWorker } from './worker-protocol.ts';

export const PERF_WORKLOADS = join(REPO_ROOT, 'bench', 'perf-workloads');
export const DEFAULT_THRESHOLD = 0.05;

export interface Workload {
  name: string;
  source: string;
}

export async function loadWorkloads(dir = PERF_WORKLOADS, only?: string[]): Promise<Workload[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.js')).sort();
  const all = await Promise.all(
    files.map(async (f) => ({ name: f.replace(/\.js$/, ''), source: await readFile(join(dir, f), 'utf8') })),
  );
  if (!only) return all;
  const unknown = only.filter((n) => !all.some((w) => w.name === n));
  if (unknown.length)
    throw new OperationError(`no workload ${unknown.join(', ')} in ${dir} (have ${all.map((w) => w.name).join(', ')})`);
  return all.filter((w) => only.includes(w.name));
}

export interface Contender {
  label: string;
  binary: string;
  /** argv prefix: [] natively, an emulator otherwise */
  runner: string[];
  sha256: string;
}

/** One evaluation in a fresh worker: wall time of the evaluate round trip, and the compute meter. */
export async function measureOnce(c: Contender, w: Workload): Promise<{ ms: number; compute: number }> {
  const worker = new XsnapWorker({
    binary: c.binary,
    runner: c.runner,
    name: `perf-${w.name}`,
    timeoutMs: 600_000,
    env: { PATH: '/usr/bin:/bin', TZ: 'UTC', LC_ALL: 'C' },
  });
  try {
    await worker.ready();
    const t0 = performance.now();
    const r = await worker.evaluate(w.source);
    const ms = performance.now() - t0;
    if (typeof r.meter.compute !== 'number')
      throw new OperationError(`${c.label}: workload ${w.name}: the worker reported no compute meter`);
    return { ms, compute: r.meter.compute };
  } finally {
    await worker.close().catch(() => 0);
  }
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export interface WorkloadResult {
  workload: string;
  base: { ms: number[]; median: number; compute: number[] };
  candidate: { ms: number[]; median: number; compute: number[] };
  /** candidate median / base median */
  ratio: number;
  meterChanged: boolean;
}

/**
 * Interleaved runs: in every round, every workload runs once on each binary,
 * the order of the two alternating from round to round (and workload to
 * workload), so drift in the host's load falls on both alike.
 */
export async function runComparison(opts: {
  base: Contender;
  candidate: Contender;
  workloads: Workload[];
  runs: number;
  warmup?: number;
  onRound?: (round: number) => void;
}): Promise<WorkloadResult[]> {
  const res = new Map(
    opts.workloads.map((w) => [
      w.name,
      {
        base: { ms: [] as number[], compute: [] as number[] },
        candidate: { ms: [] as number[], compute: [] as number[] },
      },
    ]),
  );
  const warmup = opts.warmup ?? 1;
  for (let round = -warmup; round < opts.runs; round++) {
    opts.onRound?.(round);
    for (const [i, w] of opts.workloads.entries()) {
      const order = (round + i) % 2 === 0 ? (['base', 'candidate'] as const) : (['candidate', 'base'] as const);
      for (const who of order) {
        const m = await measureOnce(opts[who], w);
        if (round < 0) continue; // warm-up: page cache, CPU frequency
        res.get(w.name)![who].ms.push(m.ms);
        res.get(w.name)![who].compute.push(m.compute);
      }
    }
  }
  return opts.workloads.map((w) => {
    const r = res.get(w.name)!;
    const base = { ...r.base, median: median(r.base.ms) };
    const candidate = { ...r.candidate, median: median(r.candidate.ms) };
    const meters = new Set([...base.compute, ...candidate.compute]);
    return {
      workload: w.name,
      base,
      candidate,
      ratio: candidate.median / base.median,
      meterChanged: meters.size !== 1,
    };
  });
}

export interface Verdict {
  ok: boolean;
  /** geometric mean of the per-workload ratios */
  geomean: number;
  slower: string[];
  meterChanges: string[];
  failures: Failure[];
  accepted?: string;
}

export function verdictOf(
  rows: WorkloadResult[],
  opts: { threshold?: number; accept?: string; base: string; candidate: string },
): Verdict {
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  const geomean = Math.exp(rows.reduce((s, r) => s + Math.log(r.ratio), 0) / rows.length);
  const slower = rows.filter((r) => r.ratio > 1 + threshold).map((r) => r.workload);
  const meterChanges = rows.filter((r) => r.meterChanged).map((r) => r.workload);
  const failures: Failure[] = [];
  if (geomean > 1 + threshold) {
    failures.push({
      check: 'perf-speed',
      subject: `${opts.candidate} against ${opts.base}`,
      expected: `at most ${(threshold * 100).toFixed(0)}% slower (geometric mean of the median ratios)`,
      actual: `${((geomean - 1) * 100).toFixed(1)}% slower${
        slower.length ? ` (${slower.join(', ')} each more ` + `than ${(threshold * 100).toFixed(0)}%)` : ''
      }`,
      hint: 'find the cause, or accept it: --accept "<reason>"',
    });
  }
  for (const r of rows.filter((x) => x.meterChanged)) {
    failures.push({
      check: 'perf-meter',
      subject: `workload ${r.workload}: compute meter`,
      expected: `${[...new Set(r.base.compute)].join('/')} (${opts.base})`,
      actual: `${[...new Set(r.candidate.compute)].join('/')} (${opts.candidate})`,
      hint: 'computrons are consensus-visible: a change must be deliberate and announced; --accept "<reason>" records it',
    });
  }
  return {
    ok: failures.length === 0 || Boolean(opts.accept),
    geomean,
    slower,
    meterChanges,
    failures,
    ...(failures.length && opts.accept ? { accepted: opts.accept } : {}),
  };
}

const fmt = (ms: number) => ms.toFixed(1);

export function renderTable(rows: WorkloadResult[], base: string, candidate: string): string {
  const head = `| workload | ${base} median ms | ${candidate} median ms | ratio | ${base} computrons | ${candidate} computrons |`;
  const lines = rows.map(
    (r) =>
      `| ${r.workload} | ${fmt(r.base.median)} | ${fmt(r.candidate.median)} | ${r.ratio.toFixed(3)}${r.ratio > 1 + DEFAULT_THRESHOLD ? ' slower' : ''} | ${[...new Set(r.base.compute)].join('/')} | ${[...new Set(r.candidate.compute)].join('/')}${r.meterChanged ? ' CHANGED' : ''} |`,
  );
  return [head, '|---|---|---|---|---|---|', ...lines].join('\n');
}

// ---------------------------------------------------------------- the base binary

/**
 * The base version's release binary for `target` from the registry: the
 * packument's integrity checked against the downloaded bytes, and, when a
 * manifest of that version is committed (manifests/), the binary against it.
 */
export async function baseFromRegistry(opts: {
  registry: string;
  version: string;
  target: Target;
  work: string;
  manifestsDir?: string;
}): Promise<Contender> {
  const reader = new RegistryReader({ registry: opts.registry });
  const pkg = opts.target.packageName;
  const doc = await reader.packument(pkg);
  const v = doc?.versions[opts.version];
  if (!v)
    throw new CheckFailed([
      {
        check: 'perf-base',
        subject: `${pkg}@${opts.version} on ${reader.registry}`,
        expected: 'published',
        actual: doc ? `not there (versions: ${Object.keys(doc.versions).join(', ')})` : 'no such package',
        hint: 'give a released version as --base, or --base-bundle <file>',
      },
    ]);
  const data = await reader.download(v.dist.tarball);
  if (!v.dist.integrity || !matchesIntegrity(data, v.dist.integrity))
    throw new CheckFailed([
      {
        check: 'perf-base',
        subject: `${pkg}@${opts.version}: ${v.dist.tarball}`,
        expected: v.dist.integrity ?? 'a dist.integrity',
        actual: sriSha512(data),
      },
    ]);
  const entry = (await readTarEntries(data)).find((e) => e.path === `package/${packageBinaryPath('release')}`);
  if (!entry)
    throw new CheckFailed([
      {
        check: 'perf-base',
        subject: `${pkg}@${opts.version}`,
        expected: `package/${packageBinaryPath('release')}`,
        actual: 'missing from the tarball',
      },
    ]);
  return writeBase(entry.data, `${opts.version} (registry)`, opts);
}

/** The base version's release binary from its release bundle (xsnap-worker-binaries-X.Y.Z.tar.gz). */
export async function baseFromBundle(opts: {
  bundle: string;
  version: string;
  target: Target;
  work: string;
  manifestsDir?: string;
}): Promise<Contender> {
  if (!existsSync(opts.bundle))
    throw new CheckFailed([
      { check: 'perf-base', subject: opts.bundle, expected: 'the release bundle', actual: 'missing' },
    ]);
  const want = bundleBinaryPath(opts.target.name, 'release');
  const entry = (await readTarEntries(await readFile(opts.bundle))).find((e) => e.path === want);
  if (!entry)
    throw new CheckFailed([
      { check: 'perf-base', subject: opts.bundle, expected: want, actual: 'missing from the bundle' },
    ]);
  return writeBase(entry.data, `${opts.version} (bundle)`, opts);
}

async function writeBase(
  data: Buffer,
  label: string,
  opts: { version: string; target: Target; work: string; manifestsDir?: string },
): Promise<Contender> {
  const sha = sha256Hex(data);
  const mf = join(opts.manifestsDir ?? MANIFESTS_DIR, manifestName(opts.version));
  if (existsSync(mf)) {
    const read = readManifest(mf);
    if (read.error !== undefined) {
      throw new CheckFailed([{ check: 'perf-base', subject: mf, expected: 'a manifest', actual: read.error }]);
    }
    const want = read.unchecked.targets?.[opts.target.name]?.release?.sha256;
    if (want && want !== sha)
      throw new CheckFailed([
        {
          check: 'perf-base',
          subject: `${opts.target.name} release binary of ${opts.version}`,
          expected: `${want} (${mf})`,
          actual: sha,
        },
      ]);
  }
  const dir = await mkdtemp(join(opts.work, 'base-'));
  const file = join(dir, 'xsnap-worker');
  await writeFile(file, data);
  await chmod(file, 0o755);
  return { label, binary: file, runner: [], sha256: sha };
}

export const tempWork = () => mkdtemp(join(tmpdir(), 'xsnap-perf-'));
