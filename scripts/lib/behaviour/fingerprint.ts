// The behaviour fingerprint of an xsnap-worker binary: run the committed corpus
// (native/fingerprint-corpus/) through the worker's own protocol and record
// what validators must agree on: result bytes, meter counts and heap-snapshot
// bytes. Binaries of different targets must give identical fingerprints; a
// difference is a consensus failure between validators on those platforms.
//
// Per workload, in a fresh worker (metering limit as agoric-sdk sets it):
//   1. e<_prelude.js>, e<workload.js>         -> step "eval"
//   2. ?run   (delivered to handleCommand)    -> step "run"
//   3. w<snapshot>                            -> snapshotSha256
//   4. ?resume                                -> step "resume"
// then in a second worker started from that snapshot (`-r`):
//   5. ?resume                                -> step "restored"
// All four steps' results and meters are part of the fingerprint, so targets
// must also agree on how a restored worker behaves. Within one binary,
// "restored" should equal "resume" (a vat reloaded from a snapshot must not
// diverge); xsnap 0.15.0 built by gcc -O3 does not (see
// native/fingerprint-corpus/signed-zero-keys.js), so a divergence is reported
// as a warning, or as CheckFailed with `strictRestore`.
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckFailed, OperationError, formatFailure, type Failure } from '../core/errors.ts';
import { log } from '../core/cli.ts';
import { canonicalJson, sha256File, sha256Hex } from '../core/hash.ts';
import { REPO_ROOT } from '../core/paths.ts';
import { inSlot } from '../core/slots.ts';
import { encodeNetstring, XsnapWorker, type Meter, type WorkerReply } from './worker-protocol.ts';
import type { WorkloadFingerprint, Fingerprint } from '../core/manifest.ts';
export type { WorkloadFingerprint, Fingerprint };

export const CORPUS_DIR = join(REPO_ROOT, 'native', 'fingerprint-corpus');
const PRELUDE = '_prelude.js';
/** Bump when the harness changes what it measures (steps, host answers, limits): it changes corpusDigest. */
const HARNESS_VERSION = 1;
/** The metering limit agoric-sdk passes (DEFAULT_CRANK_METERING_LIMIT); it also sets the meter interval. */
const METERING_LIMIT = 100_000_000;
const STEPS = ['eval', 'run', 'resume', 'restored'] as const;

export interface Corpus {
  digest: string;
  prelude: string;
  /** workload name (file name without .js) -> source, sorted by name */
  workloads: [string, string][];
}

/** Read the committed corpus; its digest covers every .js file and the harness version. */
export async function readCorpus(dir = CORPUS_DIR): Promise<Corpus> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.js')).sort();
  if (!files.includes(PRELUDE)) throw new OperationError(`fingerprint corpus ${dir} has no ${PRELUDE}`);
  const sources = new Map<string, string>();
  for (const f of files) sources.set(f, await readFile(join(dir, f), 'utf8'));
  const digest = sha256Hex(
    canonicalJson(
      { harness: HARNESS_VERSION, files: Object.fromEntries(files.map((f) => [f, sha256Hex(sources.get(f)!)])) },
      0,
    ),
  );
  const workloads = files
    .filter((f) => !f.startsWith('_'))
    .map((f) => [f.slice(0, -3), sources.get(f)!] as [string, string]);
  if (workloads.length === 0) throw new OperationError(`fingerprint corpus ${dir} has no workloads`);
  return { digest, prelude: sources.get(PRELUDE)!, workloads };
}

/** What the fingerprint host answers to the worker's issueCommand(): fixed, and not computable inside the worker. */
export function hostAnswer(request: Buffer): Buffer {
  return Buffer.from(sha256Hex(request), 'ascii');
}

export interface FingerprintOptions {
  corpusDir?: string;
  /** per worker request; qemu is slow, and a hung worker is killed after this */
  timeoutMs?: number;
  /** workloads run at once (each in its own worker) */
  concurrency?: number;
  /** sees every step's reply (e.g. to print the decoded results when diagnosing a difference) */
  onStep?: (workload: string, step: string, reply: WorkerReply) => void;
  /** a worker restored from a snapshot behaving differently from the original: CheckFailed instead of a warning */
  strictRestore?: boolean;
  /** receives restore divergences when not strict (default: log.warn) */
  onRestoreDivergence?: (failure: Failure) => void;
}

export async function fingerprintBinary(
  binaryPath: string,
  runner: string[],
  opts: FingerprintOptions = {},
): Promise<Fingerprint> {
  const corpus = await readCorpus(opts.corpusDir);
  const work = await mkdtemp(join(tmpdir(), 'xsnap-fingerprint-'));
  try {
    const results: [string, WorkloadFingerprint][] = [];
    const failures: Failure[] = [];
    const queue = [...corpus.workloads];
    const lanes = Math.max(1, Math.min(opts.concurrency ?? availableParallelism(), queue.length));
    let broken: unknown = null;
    // Lanes stop at the first error, but all are awaited: no worker outlives the temp dir.
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        for (let next = queue.shift(); next && !broken; next = queue.shift()) {
          const [name, source] = next;
          try {
            const r = await inSlot(() =>
              runWorkload(binaryPath, runner, corpus.prelude, name, source, join(work, name), opts),
            );
            results.push([name, r.fingerprint]);
            failures.push(...r.failures);
          } catch (e) {
            broken ??= e;
          }
        }
      }),
    );
    if (broken) throw broken;
    if (failures.length && opts.strictRestore) throw new CheckFailed(failures);
    if (opts.onRestoreDivergence) failures.forEach(opts.onRestoreDivergence);
    else if (failures.length) {
      // one line per binary: the details are the same on every run (see PLAN.md, "Findings")
      const workloads = [...new Set(failures.map((f) => /workload (\S+):/.exec(f.subject)?.[1] ?? f.subject))];
      log.warn(
        `${binaryPath}: restored from its own heap snapshot, the worker diverges on ${workloads.join(', ')} (${failures.length} values, the same on every target: see PLAN.md, "Findings"; XSNAP_DEBUG=1 shows them)`,
      );
      if (process.env.XSNAP_DEBUG) failures.forEach((f) => log.warn(formatFailure(f)));
    }
    const workloads = Object.fromEntries(results.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return {
      corpusDigest: corpus.digest,
      digest: fingerprintDigest({ corpusDigest: corpus.digest, workloads }),
      workloads,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function runWorkload(
  binary: string,
  runner: string[],
  prelude: string,
  name: string,
  source: string,
  dir: string,
  opts: FingerprintOptions,
): Promise<{ fingerprint: WorkloadFingerprint; failures: Failure[] }> {
  await mkdir(dir, { recursive: true });
  const label = `${binary} workload ${name}`;
  const start = (snapshot?: string) =>
    new XsnapWorker({
      binary,
      runner,
      name: `fingerprint-${name}${snapshot ? '-restored' : ''}`,
      snapshot,
      meteringLimit: METERING_LIMIT,
      handleCommand: hostAnswer,
      cwd: dir,
      // A fixed environment: no locale or time zone from the caller.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', LC_ALL: 'C' },
      timeoutMs: opts.timeoutMs ?? 60_000,
    });
  const quit = async (w: XsnapWorker, what: string) => {
    const code = await step(w, what, () => w.close());
    if (code !== 0)
      throw new OperationError(`fingerprint of ${label}: step ${what}: worker exited with ${code}, expected 0`);
  };
  const step = async <T>(w: XsnapWorker, what: string, f: () => Promise<T>): Promise<T> => {
    try {
      const r = await f();
      if (opts.onStep && r && typeof r === 'object' && 'reply' in r)
        opts.onStep(name, what, r as unknown as WorkerReply);
      return r;
    } catch (e) {
      w.kill();
      throw new OperationError(`fingerprint of ${label}: step ${what} failed: ${(e as Error).message}`);
    }
  };

  const replies: Partial<Record<(typeof STEPS)[number], WorkerReply>> = {};
  const snapshot = join(dir, 'after-run.xss');
  const first = start();
  await step(first, 'prelude', () => first.evaluate(prelude));
  replies.eval = await step(first, 'eval', () => first.evaluate(source));
  replies.run = await step(first, 'run', () => first.command('run'));
  await step(first, 'snapshot', () => first.snapshot(snapshot));
  replies.resume = await step(first, 'resume', () => first.command('resume'));
  const afterResume = join(dir, 'after-resume.xss');
  await step(first, 'snapshot after resume', () => first.snapshot(afterResume));
  await quit(first, 'quit');

  const restored = start(snapshot);
  const again = (replies.restored = await step(restored, 'restored', () => restored.command('resume')));
  const againSnapshot = join(dir, 'after-resume-restored.xss');
  await step(restored, 'snapshot after restored resume', () => restored.snapshot(againSnapshot));
  await quit(restored, 'quit restored');

  const failures: Failure[] = [];
  const hint =
    'a worker restored from a heap snapshot behaves differently from the one that wrote it: a vat reloaded from a snapshot would diverge from one that was not';
  if (!again.reply.equals(replies.resume.reply)) {
    failures.push({
      check: 'fingerprint-restore',
      subject: `${label}: result of resume after -r`,
      expected: preview(replies.resume.reply),
      actual: preview(again.reply),
      hint,
    });
  }
  for (const k of ['compute', 'allocate', 'currentHeapCount']) {
    if (again.meter[k] !== replies.resume.meter[k])
      failures.push({
        check: 'fingerprint-restore',
        subject: `${label}: meter ${k} of resume after -r`,
        expected: String(replies.resume.meter[k]),
        actual: String(again.meter[k]),
        hint,
      });
  }
  const [snapAfterRun, snapAfterResume, snapRestored] = await Promise.all(
    [snapshot, afterResume, againSnapshot].map((p) => sha256File(p)),
  );
  if (snapRestored !== snapAfterResume)
    failures.push({
      check: 'fingerprint-restore',
      subject: `${label}: heap snapshot after resume, restored vs original worker`,
      expected: snapAfterResume,
      actual: snapRestored,
      hint,
    });

  const meter: Meter = {};
  for (const s of STEPS) for (const [k, v] of Object.entries(replies[s]!.meter)) meter[`${s}.${k}`] = v;
  const resultSha256 = sha256Hex(Buffer.concat(STEPS.map((s) => encodeNetstring(replies[s]!.reply))));
  return { fingerprint: { resultSha256, meter, snapshotSha256: snapAfterRun }, failures };
}

function preview(b: Buffer): string {
  const s = b.toString('utf8');
  return s.length > 200 ? `${s.slice(0, 200)}... (${b.length} bytes)` : s;
}

/**
 * Compare fingerprints of several targets. Every target is compared with the
 * first (by name order); each difference names the workload, the two targets,
 * and both values. Fingerprints of different corpora cannot be compared.
 */
/** The names of the checks compareFingerprints reports. */
export const FINGERPRINT_COMPARE_CHECKS = [
  'fingerprint-digest',
  'fingerprint-corpus',
  'fingerprint-workload',
  'fingerprint-result',
  'fingerprint-meter',
  'fingerprint-snapshot',
] as const;

export function compareFingerprints(
  byTarget: Record<string, Fingerprint>,
): Failure<(typeof FINGERPRINT_COMPARE_CHECKS)[number]>[] {
  const names = Object.keys(byTarget).sort();
  const failures: Failure<(typeof FINGERPRINT_COMPARE_CHECKS)[number]>[] = [];
  // A recorded digest is a claim about its parts, never proof: recompute it first
  // (fingerprints carried from other machines arrive with their digest).
  for (const name of names) {
    const recomputed = fingerprintDigest(byTarget[name]);
    if (recomputed !== byTarget[name].digest) {
      failures.push({
        check: 'fingerprint-digest',
        subject: `${name}: fingerprint digest does not match its workloads`,
        expected: recomputed,
        actual: byTarget[name].digest,
        hint: 'the fingerprint was edited or computed otherwise: measure it again',
      });
    }
  }
  if (failures.length || names.length < 2) return failures;
  const [refName, ...others] = names;
  const ref = byTarget[refName];
  const hint =
    'the targets behave differently on the same input: a consensus failure between validators on these platforms. Do not release; find the cause (compiler, libm, flags).';
  for (const name of others) {
    const fp = byTarget[name];
    const pair = `${name} vs ${refName}`;
    if (fp.corpusDigest !== ref.corpusDigest) {
      failures.push({
        check: 'fingerprint-corpus',
        subject: `${pair}: fingerprints come from different corpora`,
        expected: ref.corpusDigest,
        actual: fp.corpusDigest,
        hint: 'fingerprint every target with the same committed corpus and harness',
      });
      continue;
    }
    if (fp.digest === ref.digest) continue;
    const workloads = [...new Set([...Object.keys(ref.workloads), ...Object.keys(fp.workloads)])].sort();
    for (const w of workloads) {
      const a = ref.workloads[w];
      const b = fp.workloads[w];
      if (!a || !b) {
        failures.push({
          check: 'fingerprint-workload',
          subject: `${pair}: workload ${w}`,
          expected: a ? 'present' : 'absent',
          actual: b ? 'present' : 'absent',
          hint,
        });
        continue;
      }
      if (a.resultSha256 !== b.resultSha256)
        failures.push({
          check: 'fingerprint-result',
          subject: `${pair}: workload ${w} result bytes`,
          expected: `sha256 ${a.resultSha256} (${refName})`,
          actual: `sha256 ${b.resultSha256} (${name})`,
          hint,
        });
      for (const k of [...new Set([...Object.keys(a.meter), ...Object.keys(b.meter)])].sort()) {
        if (a.meter[k] !== b.meter[k])
          failures.push({
            check: 'fingerprint-meter',
            subject: `${pair}: workload ${w} meter ${k}`,
            expected: `${a.meter[k]} (${refName})`,
            actual: `${b.meter[k]} (${name})`,
            hint,
          });
      }
      if (a.snapshotSha256 !== b.snapshotSha256)
        failures.push({
          check: 'fingerprint-snapshot',
          subject: `${pair}: workload ${w} heap snapshot`,
          expected: `sha256 ${a.snapshotSha256} (${refName})`,
          actual: `sha256 ${b.snapshotSha256} (${name})`,
          hint,
        });
    }
    // digests differ in something none of the checks above names (an extra field, say): still a difference
    if (fp.digest !== ref.digest && failures.every((f) => !f.subject.startsWith(pair))) {
      failures.push({
        check: 'fingerprint-digest',
        subject: `${pair}: fingerprint digest`,
        expected: ref.digest,
        actual: fp.digest,
        hint,
      });
    }
  }
  return failures;
}

/** The digest a fingerprint must carry, recomputed from its parts. */
export function fingerprintDigest(fp: Pick<Fingerprint, 'corpusDigest' | 'workloads'>): string {
  return sha256Hex(canonicalJson({ corpusDigest: fp.corpusDigest, workloads: fp.workloads }, 0));
}
