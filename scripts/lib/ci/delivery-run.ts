// Running an installed binary: `-v` and the determinism corpus, compared with
// the manifest's record of the same binary (targets.<t>.determinism).
import { hostRunner, parseReportedVersion } from '../build/binary-checks.ts';
import {
  diffDeterminism,
  differencesToFailures,
  runDeterminism,
  totalResults,
  type Corpus,
  type DeterminismRecord,
  type MathProfile,
} from '../behaviour/determinism.ts';
import { OperationError, type Failure } from '../core/errors.ts';
import { runRaw } from '../core/exec.ts';
import type { Target, TargetName } from '../core/targets.ts';

/**
 * `<binary> -v` reports `xsnap <version> (XS ...)`; [] when this host cannot run the target at all (said by the
 * caller).
 */
export async function checkHostVersion(
  binary: string,
  target: Target,
  version: string,
  subject: string,
): Promise<Failure[]> {
  const runner = await hostRunner(target);
  if (!runner) return [];
  const r = await runRaw([...runner, binary, '-v'], { timeoutMs: 60_000 });
  const line = (r.stdout.trim() || r.stderr.trim()).split('\n')[0] ?? '';
  const reported = parseReportedVersion(line);
  if (r.code !== 0 || reported !== version) {
    return [
      {
        check: 'delivery-runs',
        subject: `${subject}: ${target.packageName} release binary -v${runner.length ? ` (via ${runner[0]})` : ''}`,
        expected: `xsnap ${version} (XS ...)`,
        actual: r.code !== 0 ? `exit ${r.code}: ${line}` : line,
      },
    ];
  }
  return [];
}

export interface DeterminismCheck {
  failures: Failure[];
  /** differences reported, not failed (host libm under "system", known divergences) */
  reports: string[];
  results: number;
  seconds: number;
}

/**
 * Run the corpus (the manifest's seed and size) on the binary and compare every family digest and meter with the
 * manifest's.
 */
export async function checkDeterminismAgainst(
  binary: string,
  runner: string[],
  want: DeterminismRecord,
  profile: MathProfile,
  label: string,
  target: TargetName,
  /** the corpus the manifest was measured with (releasedCorpus), checked against want.corpusDigest */
  corpus: { corpus: Corpus; file: string },
): Promise<DeterminismCheck> {
  if (corpus.corpus.digest !== want.corpusDigest)
    throw new OperationError(
      `determinism corpus ${corpus.file} has digest ${corpus.corpus.digest}, the manifest's is ${want.corpusDigest}`,
    );
  const run = await runDeterminism(binary, runner, {
    seed: want.seed,
    perFamily: want.perFamily,
    corpusFile: corpus.file,
  });
  const diffs = diffDeterminism(
    { label: 'manifest', target, record: want },
    { label, target, record: run.record, raw: run.raw },
    profile,
    undefined,
    corpus.corpus,
  );
  const r = differencesToFailures(diffs, 'the manifest', label, 'delivery-determinism');
  return { failures: r.failures, reports: r.reports, results: totalResults(run.record), seconds: run.seconds };
}
