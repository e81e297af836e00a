// The determinism corpus (native/determinism-corpus/corpus.js): seeded inputs
// for every numeric operation a vat can reach, run inside xsnap-worker, each
// family's results digested as raw bits. Validators on different targets and
// hosts must compute the same doubles, or the chain splits; this is where we
// find out whether they do.
//
// The generator runs in the worker (results) and here in Node (only to name
// the inputs of a difference). Families are independent: each has its own
// PRNG stream from (seed, family name), so they run in parallel workers.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import type { Failure } from '../core/errors.ts';
import { nextStep, OperationError } from '../core/errors.ts';
import { sha256Hex } from '../core/hash.ts';
import { REPO_ROOT } from '../core/paths.ts';
import { XsnapWorker } from './worker-protocol.ts';
import { inSlot } from '../core/slots.ts';
import type { MathProfile } from '../core/pin.ts';
import { getTarget, TARGETS, type Target, type TargetName } from '../core/targets.ts';
import type { FamilySource, FamilyRecord, DeterminismRecord } from '../core/manifest.ts';
export type { FamilySource, FamilyRecord, DeterminismRecord };

export type { MathProfile };

export const DETERMINISM_CORPUS = join(REPO_ROOT, 'native', 'determinism-corpus', 'corpus.js');
export const KNOWN_DIVERGENCES_FILE = join(REPO_ROOT, 'native', 'determinism-corpus', 'known-divergences.json');
/** Bump when the harness changes what it measures: it changes corpusDigest. */
const HARNESS_VERSION = 1;
export const DEFAULT_SEED = 0x5eed;
/** Results per family. release: 51 families x 20,000 = 1,020,000 results per binary. */
export const SIZES = { quick: 100, release: 20_000 } as const;
export type SizeName = keyof typeof SIZES;
/** What a release's manifest must hold per binary: the issue's floor (the release size gives 1,020,000). */
export const RELEASE_MIN_RESULTS = 1_000_000;

/** The two time zones the local-time family runs under (POSIX TZ strings: no tzdata needed). */
export const LOCAL_TIME_ZONES = ['UTC0', 'XST-5:30XDT,M3.2.0,M11.1.0'] as const;

export interface FamilyInfo {
  name: string;
  source: FamilySource;
  kind: 'number' | 'string' | 'bits';
  /** depends on the local time zone by design: measured separately, not digested */
  local: boolean;
}

/** A measurement with the result bytes kept, to count and name differences. */
export interface DeterminismRun {
  record: DeterminismRecord;
  raw: Map<string, Buffer>;
  seconds: number;
}

export interface Corpus {
  source: string;
  digest: string;
  families: FamilyInfo[];
  inputs(name: string, seed: number, count: number): string[];
  /**
   * A family's inputs as the bytes its runInputs() takes, generated here: the worker then computes only the results.
   * Absent from corpora older than it (a past release's), which the worker runs whole with run().
   */
  encodeInputs?(name: string, seed: number, count: number): Buffer;
}

/** The builtins the corpus uses, bound as locals: looked up on a vm context's global they are ~6x slower. */
const CORPUS_PRELUDE =
  'globalThis.determinism = undefined; (() => { const { Math, DataView, ArrayBuffer, Float64Array, Uint8Array, String, Number, JSON, Date, BigInt, Error, Object, Array } = globalThis;';

let cached: Corpus | undefined;

/** Load the corpus file in a fresh Node context: the same generator the worker runs. */
export function loadCorpus(file = DETERMINISM_CORPUS): Corpus {
  if (cached && file === DETERMINISM_CORPUS) return cached;
  const source = readFileSync(file, 'utf8');
  const sandbox: {
    determinism?: {
      families: FamilyInfo[];
      inputs(n: string, s: number, c: number): string[];
      encodeInputs?(n: string, s: number, c: number): ArrayBuffer;
    };
  } = {};
  runInNewContext(`${CORPUS_PRELUDE}\n${source}\n})();`, sandbox, { filename: file, lineOffset: -1 });
  const d = sandbox.determinism;
  if (!d || !Array.isArray(d.families)) throw new OperationError(`${file} does not define globalThis.determinism`);
  const corpus: Corpus = {
    source,
    digest: sha256Hex(`determinism harness ${HARNESS_VERSION}\n${source}`),
    families: d.families.map((f) => ({ ...f })),
    inputs: (n, s, c) => [...d.inputs(n, s, c)],
    encodeInputs: d.encodeInputs && ((n, s, c) => Buffer.from(d.encodeInputs!(n, s, c))),
  };
  if (file === DETERMINISM_CORPUS) cached = corpus;
  return corpus;
}

/** Families whose digests every target must share (all but the local-time one). */
export const digestedFamilies = (c: Corpus) => c.families.filter((f) => !f.local);

export interface RunOptions {
  seed?: number;
  perFamily?: number;
  /** workers at once (default: the machine's cores) */
  concurrency?: number;
  timeoutMs?: number;
  /** only these families (tests) */
  only?: string[];
  corpusFile?: string;
  /** let the worker generate the inputs too (run(), as corpora older than encodeInputs): tests compare both ways */
  inputsInWorker?: boolean;
}

/** The size the environment asks for: XSNAP_DETERMINISM_SIZE=quick|release|<n>, default release. */
export function perFamilyFromEnv(env = process.env): number {
  const v = env.XSNAP_DETERMINISM_SIZE;
  if (!v) return SIZES.release;
  if (v in SIZES) return SIZES[v as SizeName];
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new OperationError(
      `XSNAP_DETERMINISM_SIZE must be quick, release or a positive integer, not ${JSON.stringify(v)}`,
    );
  return n;
}

/**
 * A family's inputs, encoded once per process and corpus: every binary measured in one run (x64, the glibc floor,
 * arm64 under qemu) takes the same bytes. Inputs only: each binary's results are computed afresh.
 */
const encoded = new Map<string, Buffer>();
function encodedInputs(corpus: Corpus, family: string, seed: number, count: number): Buffer {
  const key = JSON.stringify([corpus.digest, family, seed, count]);
  let bytes = encoded.get(key);
  if (!bytes) encoded.set(key, (bytes = corpus.encodeInputs!(family, seed, count)));
  return bytes;
}

const workerEnv = (tz: string) => ({ PATH: '/usr/bin:/bin', TZ: tz, LC_ALL: 'C' });

/** Run the corpus on one binary (through `runner`: [] natively, qemu, or the glibc-floor loader). */
export async function runDeterminism(binary: string, runner: string[], opts: RunOptions = {}): Promise<DeterminismRun> {
  const t0 = performance.now();
  const corpus = loadCorpus(opts.corpusFile);
  const seed = opts.seed ?? DEFAULT_SEED;
  const perFamily = opts.perFamily ?? perFamilyFromEnv();
  const wanted = digestedFamilies(corpus).filter((f) => !opts.only || opts.only.includes(f.name));
  const local = corpus.families.find((f) => f.local);
  type Job = { family: FamilyInfo; tz: string };
  const jobs: Job[] = wanted.map((family) => ({ family, tz: LOCAL_TIME_ZONES[0] }));
  if (local && !opts.only) for (const tz of LOCAL_TIME_ZONES) jobs.push({ family: local, tz });
  const results = new Map<string, { bytes: Buffer; compute: number }>();
  const lanes = Math.max(1, Math.min(opts.concurrency ?? availableParallelism(), jobs.length));
  const queue = [...jobs];
  let broken: unknown = null;
  // one worker per lane and time zone; every lane drains the queue of its zone's jobs in order
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const workers = new Map<string, XsnapWorker>();
      const workerFor = async (tz: string) => {
        let w = workers.get(tz);
        if (!w) {
          w = new XsnapWorker({
            binary,
            runner,
            name: `determinism-${lane}`,
            meteringLimit: 0,
            env: workerEnv(tz),
            timeoutMs: opts.timeoutMs ?? 600_000,
          });
          workers.set(tz, w);
          await w.evaluate(corpus.source);
        }
        return w;
      };
      try {
        for (let job = queue.shift(); job && !broken; job = queue.shift()) {
          const family = job.family.name;
          const r = await inSlot(async () => {
            const w = await workerFor(job.tz);
            if (!corpus.encodeInputs || opts.inputsInWorker)
              return w.evaluate(`determinism.run(${JSON.stringify(family)}, ${seed}, ${perFamily})`);
            await w.evaluate(`globalThis.handleCommand = (b) => determinism.runInputs(${JSON.stringify(family)}, b)`);
            return w.command(encodedInputs(corpus, family, seed, perFamily));
          });
          results.set(`${job.family.name}\0${job.tz}`, { bytes: Buffer.from(r.reply), compute: r.meter.compute ?? -1 });
        }
      } catch (e) {
        broken ??= e;
      } finally {
        for (const w of workers.values()) await w.close().catch(() => w.kill());
      }
    }),
  );
  if (broken) throw new OperationError(`determinism corpus on ${binary}: ${(broken as Error).message}`);
  const families: Record<string, FamilyRecord> = {};
  const raw = new Map<string, Buffer>();
  for (const f of wanted) {
    const r = results.get(`${f.name}\0${LOCAL_TIME_ZONES[0]}`)!;
    const expected = f.kind === 'string' ? null : perFamily * 8;
    if (expected !== null && r.bytes.length !== expected)
      throw new OperationError(
        `determinism corpus on ${binary}: family ${f.name} answered ${r.bytes.length} bytes, expected ${expected}`,
      );
    families[f.name] = { source: f.source, count: perFamily, sha256: sha256Hex(r.bytes), compute: r.compute };
    raw.set(f.name, r.bytes);
  }
  let timeZoneDependent = false;
  if (local && !opts.only) {
    const [a, b] = LOCAL_TIME_ZONES.map((tz) => results.get(`${local.name}\0${tz}`)!.bytes);
    timeZoneDependent = !a.equals(b);
    raw.set(`${local.name} @ ${LOCAL_TIME_ZONES[0]}`, a);
    raw.set(`${local.name} @ ${LOCAL_TIME_ZONES[1]}`, b);
  }
  const record: DeterminismRecord = { corpusDigest: corpus.digest, seed, perFamily, families, timeZoneDependent };
  return { record, raw, seconds: (performance.now() - t0) / 1000 };
}

export const totalResults = (r: DeterminismRecord) => Object.values(r.families).reduce((n, f) => n + f.count, 0);

// ------------------------------------------------------------------ comparing

/**
 * A divergence the project knows, cannot fix at build level, and reports instead of failing on, for the pairs of
 * CPU architectures (npm `cpu`, as in the target table) that its reason explains and for no other comparison.
 */
export interface KnownDivergence {
  family: string;
  /** unordered pairs of distinct CPU architectures, e.g. [["x64", "arm64"]] */
  between: Array<[Target['cpu'], Target['cpu']]>;
  why: string;
}

/** Read and check known-divergences.json: every entry names its family, its pairs of CPUs and why. */
export function readKnownDivergences(file = KNOWN_DIVERGENCES_FILE): KnownDivergence[] {
  const v = JSON.parse(readFileSync(file, 'utf8')) as { divergences?: unknown };
  const cpus = [...new Set(TARGETS.map((t) => t.cpu))];
  const bad = (where: string, expected: string, actual: unknown) =>
    new OperationError(
      `${file}: ${where}: expected ${expected}, got ${JSON.stringify(actual)}` +
        nextStep('give each entry {"family", "between": [[cpu, cpu], ...], "why"} with cpus of the target table'),
    );
  if (!Array.isArray(v.divergences)) throw bad('divergences', 'an array', v.divergences);
  return v.divergences.map((e: Partial<KnownDivergence>, i) => {
    const where = `divergences[${i}]`;
    if (typeof e?.family !== 'string' || !e.family) throw bad(`${where}.family`, 'a family name', e?.family);
    if (typeof e.why !== 'string' || !e.why) throw bad(`${where}.why`, 'the reason', e.why);
    if (!Array.isArray(e.between) || e.between.length === 0)
      throw bad(`${where}.between`, 'a non-empty list of pairs of CPU architectures', e.between);
    for (const pair of e.between)
      if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((c) => cpus.includes(c)) || pair[0] === pair[1])
        throw bad(`${where}.between`, `pairs of two different CPUs of ${cpus.join(', ')}`, pair);
    return { family: e.family, between: e.between, why: e.why };
  });
}

/**
 * Does a known divergence exempt this family in a comparison of `a` with `b`? Only between two different targets
 * whose CPUs are one of the entry's pairs: never one binary against itself or its own manifest (same target).
 */
export function exemptBy(known: KnownDivergence[], family: string, a: string, b: string): KnownDivergence | undefined {
  if (a === b) return undefined;
  const ta = TARGETS.find((t) => t.name === a);
  const tb = TARGETS.find((t) => t.name === b);
  if (!ta || !tb) return undefined;
  return known.find(
    (k) =>
      k.family === family &&
      k.between.some(([x, y]) => (x === ta.cpu && y === tb.cpu) || (x === tb.cpu && y === ta.cpu)),
  );
}

/** One family that differs between two measurements. */
export interface FamilyDifference {
  family: string;
  source: FamilySource;
  a: string;
  b: string;
  /** how many results differ, when both result sets are at hand */
  differing?: number;
  count: number;
  /** the first differing input and both outputs, when both result sets are at hand */
  first?: { index: number; input: string; a: string; b: string };
  /** gated: a failure; otherwise reported (libm under `system`, or a known divergence); a changed meter always fails */
  verdict: 'fail' | 'host-dependent' | 'known';
  /** both compute meters, when they differ */
  meter?: { a: number; b: number };
}

export interface Measured {
  label: string;
  /**
   * The target whose binary was measured. Two measurements of one target (a binary against its own manifest, native
   * against combined, host glibc against the floor) are never exempted by a known divergence.
   */
  target: TargetName;
  record: DeterminismRecord;
  raw?: Map<string, Buffer>;
}

/** Split a family's result bytes into per-input items (8-byte numbers, or lines). */
function items(kind: FamilyInfo['kind'], bytes: Buffer): Buffer[] {
  if (kind !== 'string') return Array.from({ length: bytes.length / 8 }, (_, i) => bytes.subarray(i * 8, i * 8 + 8));
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++)
    if (bytes[i] === 0x0a) {
      out.push(bytes.subarray(start, i));
      start = i + 1;
    }
  return out;
}

/** An output as text: a number's IEEE bits in hex and its value, or the string. */
function showItem(kind: FamilyInfo['kind'], b: Buffer | undefined): string {
  if (!b) return 'absent';
  if (kind === 'string') return JSON.stringify(b.toString('latin1'));
  return `0x${b.readBigUInt64LE(0).toString(16).padStart(16, '0')} (${b.readDoubleLE(0)})`;
}

/**
 * Compare two measurements family by family. `profile` decides which differences
 * fail: under "system" the libm families are host-dependent by design. Measurements
 * of two corpora (corpusDigest), seeds or sizes are not compared: one "(corpus)" failure.
 */
export function diffDeterminism(
  a: Measured,
  b: Measured,
  profile: MathProfile,
  known: KnownDivergence[] = readKnownDivergences(),
  /** the corpus both were measured with (to name a differing input): today's unless a release's is given */
  corpus: Corpus = loadCorpus(),
): FamilyDifference[] {
  const out: FamilyDifference[] = [];
  if (
    a.record.corpusDigest !== b.record.corpusDigest ||
    a.record.seed !== b.record.seed ||
    a.record.perFamily !== b.record.perFamily
  ) {
    return [
      {
        family: '(corpus)',
        source: 'xs',
        a: `corpus ${a.record.corpusDigest.slice(0, 12)} seed ${a.record.seed} x${a.record.perFamily}`,
        b: `corpus ${b.record.corpusDigest.slice(0, 12)} seed ${b.record.seed} x${b.record.perFamily}`,
        count: 0,
        verdict: 'fail',
      },
    ];
  }
  const names = [...new Set([...Object.keys(a.record.families), ...Object.keys(b.record.families)])];
  for (const name of names) {
    const fa = a.record.families[name];
    const fb = b.record.families[name];
    const info = corpus.families.find((f) => f.name === name);
    const source = info?.source ?? fa?.source ?? fb?.source ?? 'xs';
    // what the bits may do: the meter is consensus state and is never exempt (below)
    const bitsVerdict: FamilyDifference['verdict'] = exemptBy(known, name, a.target, b.target)
      ? 'known'
      : source === 'libm' && profile === 'system'
        ? 'host-dependent'
        : 'fail';
    if (!fa || !fb) {
      out.push({
        family: name,
        source,
        a: fa ? 'measured' : 'absent',
        b: fb ? 'measured' : 'absent',
        count: fa?.count ?? fb?.count ?? 0,
        verdict: 'fail',
      });
      continue;
    }
    if (fa.sha256 === fb.sha256 && fa.compute === fb.compute) continue;
    const d: FamilyDifference = {
      family: name,
      source,
      a: `sha256 ${fa.sha256}, compute ${fa.compute}`,
      b: `sha256 ${fb.sha256}, compute ${fb.compute}`,
      count: fa.count,
      verdict: fa.compute !== fb.compute ? 'fail' : bitsVerdict,
    };
    if (fa.compute !== fb.compute) d.meter = { a: fa.compute, b: fb.compute };
    const ra = a.raw?.get(name);
    const rb = b.raw?.get(name);
    if (ra && rb && info) {
      const ia = items(info.kind, ra);
      const ib = items(info.kind, rb);
      let first = -1;
      let differing = 0;
      for (let i = 0; i < Math.max(ia.length, ib.length); i++) {
        if (!ia[i] || !ib[i] || !ia[i].equals(ib[i])) {
          differing++;
          if (first < 0) first = i;
        }
      }
      d.differing = differing;
      if (first >= 0)
        d.first = {
          index: first,
          input: corpus.inputs(name, a.record.seed, first + 1)[first],
          a: showItem(info.kind, ia[first]),
          b: showItem(info.kind, ib[first]),
        };
    }
    out.push(d);
  }
  return out;
}

/** Differences as failures (gated ones) and report lines (host-dependent and known ones). */
export function differencesToFailures(
  diffs: FamilyDifference[],
  aLabel: string,
  bLabel: string,
  check: string,
): { failures: Failure[]; reports: string[] } {
  const failures: Failure[] = [];
  const reports: string[] = [];
  for (const d of diffs) {
    const how = d.differing !== undefined ? `${d.differing} of ${d.count} results differ` : 'digests differ';
    const first = d.first
      ? `; first at #${d.first.index}: ${d.first.input} -> ${d.first.a} (${aLabel}) vs ${d.first.b} (${bLabel})`
      : '';
    if (d.verdict === 'fail') {
      failures.push({
        check,
        subject: `${bLabel} vs ${aLabel}: family ${d.family} (${d.source})${
          d.first ? `, first differing input #` + `${d.first.index}: ${d.first.input}` : ''
        }`,
        expected: d.first && !d.meter ? `${d.first.a} (${aLabel})` : `${d.a} (${aLabel})`,
        actual: d.first && !d.meter ? `${d.first.b} (${bLabel}); ${how}` : `${d.b} (${bLabel}); ${how}`,
        hint: d.meter
          ? `the compute meter differs (${d.meter.a} against ${d.meter.b}): the meter is consensus state, a ` +
            'changed meter is a chain split whatever the bits do. Do not release; find the cause.'
          : d.source === 'libm'
            ? 'a libm family differs under the portable math profile: the portable libm is not portable here (compiler flags? a function resolved from the system libm?)'
            : 'the targets compute different numbers: a consensus failure between validators. Do not release; find the cause (compiler contraction, libm, flags).',
      });
    } else {
      reports.push(
        `${
          d.verdict === 'known' ? 'known divergence' : 'host-dependent ' + '(system libm)'
        }: ${d.family}: ${bLabel} vs ${aLabel}: ${how}${first}`,
      );
    }
  }
  return { failures, reports };
}

// ------------------------------------------------------------------ across targets

/**
 * The one math profile every target of a release shares, or a failure naming
 * each target's (`subject` says where they were read). A target without one
 * counts as a profile of its own.
 */
export function commonProfile(
  byTarget: Record<string, MathProfile | undefined>,
  subject?: string,
): { profile: MathProfile } | { failure: Failure } {
  const profiles = new Set(Object.values(byTarget));
  if (profiles.size <= 1) return { profile: [...profiles][0] ?? 'system' };
  return {
    failure: {
      check: 'math-profile',
      subject:
        subject ??
        Object.keys(byTarget)
          .sort()
          .map((n) => `${n}: ${byTarget[n]}`)
          .join(', '),
      expected: 'one math profile for every target',
      actual: [...profiles].join(' and '),
      hint: 'build every target with the same --math (the pin\'s "math")',
    },
  };
}

/** Every measurement against the first by label: gated differences as failures, the rest as report lines. */
export function compareAcrossTargets(
  measured: Measured[],
  profile: MathProfile,
): { failures: Failure[]; reports: string[] } {
  const [ref, ...others] = [...measured].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  const failures: Failure[] = [];
  const reports: string[] = [];
  for (const m of others) {
    const r = differencesToFailures(diffDeterminism(ref, m, profile), ref.label, m.label, 'determinism-across-targets');
    failures.push(...r.failures);
    reports.push(...r.reports);
  }
  return { failures, reports };
}

/**
 * The targets' recorded digests compared (manifest, CI check legs): one profile, then every target against the first.
 */
export function compareTargetsDeterminism(
  entries: Record<string, { math?: { profile: MathProfile }; determinism?: DeterminismRecord }>,
): { failures: Failure[]; reports: string[] } {
  const common = commonProfile(Object.fromEntries(Object.entries(entries).map(([n, e]) => [n, e.math?.profile])));
  if ('failure' in common) return { failures: [common.failure], reports: [] };
  const measured = Object.entries(entries)
    .filter(([, e]) => e.determinism)
    .map(([label, e]) => ({ label, target: getTarget(label).name, record: e.determinism! }));
  return compareAcrossTargets(measured, common.profile);
}

// ------------------------------------------------------------------ the divergence table

export interface DivergenceRow {
  family: string;
  source: FamilySource;
  /** per comparison (column): how many results differ */
  differing: Record<string, number>;
}

/**
 * Per family, how many results differ in each comparison of measurements
 * (e.g. x64 vs arm64, x64 host glibc vs glibc floor). The table in
 * docs/consensus.md is this, printed by scripts/determinism-report.ts.
 */
export function divergenceTable(comparisons: Array<{ column: string; a: Measured; b: Measured }>): DivergenceRow[] {
  const corpus = loadCorpus();
  const rows = digestedFamilies(corpus).map((f) => ({
    family: f.name,
    source: f.source,
    differing: {} as Record<string, number>,
  }));
  for (const { column, a, b } of comparisons) {
    const diffs = diffDeterminism(a, b, 'portable', []);
    for (const row of rows) row.differing[column] = diffs.find((d) => d.family === row.family)?.differing ?? 0;
  }
  return rows;
}

export function renderDivergenceTable(rows: DivergenceRow[], columns: string[], perFamily: number): string {
  const cell = (n: number) =>
    n === 0 ? 'equal' : `${n} (${((100 * n) / perFamily).toFixed(n * 1000 < perFamily ? 2 : 1)}%)`;
  return [
    `| family | source | ${columns.join(' | ')} |`,
    `|---|---|${columns.map(() => '---|').join('')}`,
    ...rows.map((r) => `| \`${r.family}\` | ${r.source} | ${columns.map((c) => cell(r.differing[c])).join(' | ')} |`),
  ].join('\n');
}
