// Where a manifest's behaviour fingerprint and determinism digests come from:
// measured here on the release binary when this host can run it, else carried
// from a host that can (dist/<target>/fingerprint.json written there with
// --fingerprint-only, or a CI check leg's one-target manifest), and checked to
// be of the same binary.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/fs.ts';
import { join } from 'node:path';
import { log } from '../core/cli.ts';
import { CheckFailed, UsageError, type Failure } from '../core/errors.ts';
import { canonicalJson, sha256File } from '../core/hash.ts';
import { binaryPath, fingerprintPath } from '../core/layout.ts';
import { hostRunner } from '../build/binary-checks.ts';
import { fingerprintBinary, type Fingerprint } from './fingerprint.ts';
import { runDeterminism, totalResults, type DeterminismRecord } from './determinism.ts';
import type { Target, TargetName } from '../core/targets.ts';
import { readManifest, unmeasuredReason, type UncheckedManifest } from '../core/manifest.ts';

/** dist/<target>/fingerprint.json */
export interface FingerprintFile {
  target: TargetName;
  /** the release binary it was measured on */
  binarySha256: string;
  fingerprint: Fingerprint;
  determinism?: DeterminismRecord;
}

/** A fingerprint (and determinism digests) measured on another host, and the file it came in. */
export interface Carried {
  file: string;
  binarySha256: string;
  fingerprint: Fingerprint;
  determinism?: DeterminismRecord;
}

/**
 * A fingerprint measured elsewhere for `t`: dist/<target>/fingerprint.json, or a
 * manifest (e.g. a CI check leg's one-target manifest) among the *.json files of `fromDir`.
 */
export async function carriedFingerprint(
  dist: string,
  t: Target,
  fromDir?: string | null,
): Promise<Carried | undefined> {
  const own = fingerprintPath(dist, t.name);
  if (existsSync(own)) {
    const r = JSON.parse(await readFile(own, 'utf8')) as FingerprintFile;
    return { file: own, binarySha256: r.binarySha256, fingerprint: r.fingerprint, determinism: r.determinism };
  }
  if (!fromDir) return undefined;
  if (!existsSync(fromDir)) throw new UsageError(`--fingerprints-from ${fromDir}: no such folder`);
  for (const name of (await readdir(fromDir)).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(fromDir, name);
    // a manifest (a check leg's) or a fingerprint.json, not refused on the schema:
    // fingerprintFor checks what it carries against the release binary
    const read = readManifest(file);
    if (read.error !== undefined) continue;
    const v: UncheckedManifest & Partial<FingerprintFile> = read.unchecked;
    if (v.target === t.name && v.binarySha256 && v.fingerprint) {
      return { file, binarySha256: v.binarySha256, fingerprint: v.fingerprint, determinism: v.determinism };
    }
    const e = v.targets?.[t.name];
    if (e?.fingerprint && e.release?.sha256) {
      return { file, binarySha256: e.release.sha256, fingerprint: e.fingerprint, determinism: e.determinism };
    }
  }
  return undefined;
}

/**
 * Measure the release binary's fingerprint and determinism digests here, or take
 * the ones measured where it can run.
 */
export async function fingerprintFor(
  dist: string,
  t: Target,
  releaseSha256: string,
  fromDir?: string | null,
  opts: { allowUnmeasured?: boolean } = {},
): Promise<{ fingerprint?: Fingerprint; determinism?: DeterminismRecord; unmeasured?: string; failures: Failure[] }> {
  const subject = `${t.name} release binary (${binaryPath(dist, t.name, 'release')})`;
  const measureThere = `npx tsx scripts/generate-manifest.ts --fingerprint-only --targets ${t.name}`;
  const runner = await hostRunner(t);
  const carried = await carriedFingerprint(dist, t, fromDir);
  if (carried && carried.binarySha256 !== releaseSha256) {
    return {
      failures: [
        {
          check: 'fingerprint',
          subject: `${t.name}: ${carried.file}`,
          expected: `measured on the release binary with sha256 ${releaseSha256}`,
          actual: `measured on ${carried.binarySha256}`,
          hint: `measure it again where ${t.name} runs: ${measureThere}`,
        },
      ],
    };
  }
  if (runner) {
    // both corpora at once: they need nothing of each other and share the processors (slots.ts)
    const [measured, det] = await Promise.all([
      measureFingerprint(binaryPath(dist, t.name, 'release'), runner, subject),
      measureDeterminism(binaryPath(dist, t.name, 'release'), runner, subject),
    ]);
    if (!measured.fingerprint) return { failures: measured.failures };
    const fingerprint = measured.fingerprint;
    if (carried && carried.fingerprint.digest !== fingerprint.digest) {
      return {
        failures: [
          {
            check: 'fingerprint',
            subject: `${t.name}: ${carried.file} against a fresh measurement here`,
            expected: fingerprint.digest,
            actual: carried.fingerprint.digest,
          },
        ],
      };
    }
    return { fingerprint, determinism: det.record, failures: det.failures };
  }
  if (carried?.determinism) {
    log.info(`${t.name} cannot run here: fingerprint and determinism digests taken from ${carried.file}`);
    return { fingerprint: carried.fingerprint, determinism: carried.determinism, failures: [] };
  }
  if (carried) {
    return {
      failures: [
        {
          check: 'determinism',
          subject: `${t.name}: ${carried.file}`,
          expected: 'determinism digests measured where the target runs',
          actual: 'none (measured by an older harness?)',
          hint: `measure it again: ${measureThere}`,
        },
      ],
    };
  }
  if (opts.allowUnmeasured) {
    log.warn(
      `${t.name} cannot run on ${process.platform}-${process.arch}: its behaviour corpora (fingerprint, ` +
        'determinism) were not run, and the manifest says so (unmeasured): a rehearsal manifest, which verify-artifacts --tag and publishing to npm refuse',
    );
    return { unmeasured: unmeasuredReason(t), failures: [] };
  }
  return {
    failures: [
      {
        check: 'fingerprint',
        subject,
        expected:
          `a fingerprint measured where ${t.name} runs (${fingerprintPath(dist, t.name)}, or a manifest in ` +
          '--fingerprints-from)',
        actual: `none, and ${t.name} cannot run on ${process.platform}-${process.arch}`,
        hint: `on a ${t.os}-${t.cpu} host run ${measureThere} and bring dist/${t.name}/fingerprint.json here`,
      },
    ],
  };
}

/** Run the fingerprint, turning whatever it throws into failures naming the binary. */
export async function measureFingerprint(
  bin: string,
  runner: string[],
  subject: string,
): Promise<{ fingerprint?: Fingerprint; failures: Failure[] }> {
  try {
    return { fingerprint: await fingerprintBinary(bin, runner), failures: [] };
  } catch (e) {
    if (e instanceof CheckFailed) return { failures: e.failures };
    const actual = (e as Error).message;
    return { failures: [{ check: 'fingerprint', subject, expected: 'the corpus runs to completion', actual }] };
  }
}

/** Run the determinism corpus, turning whatever it throws into failures naming the binary. */
export async function measureDeterminism(
  bin: string,
  runner: string[],
  subject: string,
): Promise<{ record?: DeterminismRecord; failures: Failure[] }> {
  try {
    const r = await runDeterminism(bin, runner);
    log.info(`${subject}: determinism corpus, ${totalResults(r.record)} results in ${r.seconds.toFixed(1)} s`);
    return { record: r.record, failures: [] };
  } catch (e) {
    const actual = (e as Error).message;
    const expected = 'the determinism corpus runs to completion';
    return { failures: [{ check: 'determinism', subject, expected, actual }] };
  }
}

export interface FingerprintWritten {
  target: TargetName;
  file: string;
  digest: string;
}

/**
 * Measure fingerprints of the runnable targets and write dist/<target>/fingerprint.json
 * (for a manifest made elsewhere).
 */
export async function writeFingerprintFiles(dist: string, targets: Target[]): Promise<FingerprintWritten[]> {
  const failures: Failure[] = [];
  const out: FingerprintWritten[] = [];
  for (const t of targets) {
    const bin = binaryPath(dist, t.name, 'release');
    const runner = await hostRunner(t);
    if (!runner) {
      const actual = `${t.name} cannot run on ${process.platform}-${process.arch}`;
      const subject = `${t.name} (${bin})`;
      failures.push({ check: 'fingerprint', subject, expected: 'a binary this host can run', actual });
      continue;
    }
    if (!existsSync(bin)) {
      const hint = `npx tsx scripts/build-target.ts --target ${t.name}`;
      failures.push({ check: 'binary-present', subject: bin, expected: 'a file', actual: 'missing', hint });
      continue;
    }
    const measured = await measureFingerprint(bin, runner, `${t.name} release binary (${bin})`);
    if (!measured.fingerprint) {
      failures.push(...measured.failures);
      continue;
    }
    const fingerprint = measured.fingerprint;
    const det = await measureDeterminism(bin, runner, `${t.name} release binary (${bin})`);
    if (!det.record) {
      failures.push(...det.failures);
      continue;
    }
    const binarySha256 = await sha256File(bin);
    const record: FingerprintFile = { target: t.name, binarySha256, fingerprint, determinism: det.record };
    const file = fingerprintPath(dist, t.name);
    await writeFileAtomic(file, canonicalJson(record) + '\n');
    out.push({ target: t.name, file, digest: fingerprint.digest });
  }
  if (failures.length) throw new CheckFailed(failures);
  return out;
}
