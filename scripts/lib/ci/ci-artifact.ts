// Moving build output between GitHub Actions jobs. Artifacts drop file modes
// (the binaries would arrive without their execute bits), so each job packs
// what it hands on into a plain tar and the next job unpacks it here, checking
// every entry and re-hashing every binary against its build-info.json before
// anything lands in dist/.
import { compareFingerprints, type Fingerprint } from '../behaviour/fingerprint.ts';
import {
  compareTargetsDeterminism,
  diffDeterminism,
  differencesToFailures,
  runDeterminism,
  type DeterminismRecord,
  type Measured,
} from '../behaviour/determinism.ts';
import { hostRunner } from '../build/binary-checks.ts';
import type { MathInfo } from '../build/portable-libm.ts';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { replaceFileAtomic } from '../core/fs.ts';
import { basename, join } from 'node:path';
import * as tar from 'tar';
import { readBuildInfo } from '../build/build.ts';
import { CheckFailed, UsageError, type Failure } from '../core/errors.ts';
import { log } from '../core/cli.ts';
import { canonicalJson, sha256File } from '../core/hash.ts';
import {
  binaryPath,
  buildArtifactFile,
  buildInfoPath,
  checkFile,
  distBinaryPath,
  DIST_ARTIFACT_FILE,
  isArtifactFile,
  manifestPath,
} from '../core/layout.ts';
import { tarEntryProblem } from '../core/tarball.ts';
import { GOALS, type Target, type TargetName, TARGET_NAMES } from '../core/targets.ts';
import { readManifest, type UncheckedManifest } from '../core/manifest.ts';

// ---------------------------------------------------------------- pack

/**
 * Pack `dist/<target>/` (what = a target name) or all of `dist/` (what = 'dist')
 * into `<out>/<name>.tar`, keeping file modes. Returns the tar's path.
 */
export async function packArtifact(opts: {
  dist: string;
  what: TargetName | 'dist';
  out: string;
}): Promise<{ file: string; entries: string[] }> {
  const { dist, what, out } = opts;
  let entries: string[];
  let name: string;
  if (what === 'dist') {
    if (!existsSync(dist)) throw new UsageError(`${dist} does not exist: nothing to pack`);
    entries = (await readdir(dist)).filter((e) => !e.startsWith('.')).sort();
    name = DIST_ARTIFACT_FILE;
  } else {
    await readBuildInfo(dist, what); // names the build command when missing
    entries = [what];
    name = buildArtifactFile(what);
  }
  if (entries.length === 0) throw new UsageError(`${dist} is empty: nothing to pack`);
  await mkdir(out, { recursive: true });
  const file = join(out, name);
  // portable: no uid/gid/user names from this machine; modes are kept
  await replaceFileAtomic(file, (partial) => tar.create({ file: partial, cwd: dist, portable: true }, entries));
  return { file, entries };
}

// ---------------------------------------------------------------- unpack

/** Why a tar entry may not be unpacked, or null if it is fine (tarEntryProblem, in this command's words). */
export function entryProblem(path: string, type: string): string | null {
  const p = tarEntryProblem(path, type);
  if (!p) return null;
  if (p.kind === 'type') return `is a ${p.type}, not a regular file or directory`;
  return p.kind === 'absolute' ? 'is an absolute path' : 'climbs out with ".."';
}

async function listEntries(file: string): Promise<Array<{ path: string; type: string }>> {
  const entries: Array<{ path: string; type: string }> = [];
  try {
    await tar.list({
      file,
      strict: true,
      onReadEntry: (e) => {
        entries.push({ path: e.path, type: e.type });
      },
    });
  } catch (e) {
    throw new CheckFailed([
      { check: 'artifact-readable', subject: file, expected: 'a readable tar file', actual: (e as Error).message },
    ]);
  }
  return entries;
}

/** Re-hash each binary of dist/<target> against its build-info.json and check its execute bits. */
export async function checkTargetDir(dist: string, target: TargetName, label: string): Promise<Failure[]> {
  const failures: Failure[] = [];
  let info;
  try {
    info = await readBuildInfo(dist, target);
  } catch (e) {
    return [
      {
        check: 'artifact-build-info',
        subject: `${label}: ${target}`,
        expected: 'build-info.json',
        actual: (e as Error).message,
      },
    ];
  }
  for (const goal of GOALS) {
    const record = info.binaries[goal];
    if (!record) continue;
    const path = binaryPath(dist, target, goal);
    const subject = `${label}: ${distBinaryPath(target, goal)}`;
    if (!existsSync(path)) {
      const expected = 'present (build-info.json lists it)';
      failures.push({ check: 'artifact-binary', subject, expected, actual: 'missing' });
      continue;
    }
    const actual = await sha256File(path);
    if (actual !== record.sha256) {
      const hint = 'the artifact changed in transit or the build output was edited: rebuild this target';
      failures.push({ check: 'artifact-sha256', subject, expected: record.sha256, actual, hint });
    }
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o111) !== 0o111) {
      const actual = mode.toString(8).padStart(4, '0');
      failures.push({ check: 'artifact-mode', subject, expected: 'executable (0755)', actual });
    }
  }
  return failures;
}

export interface UnpackResult {
  files: string[];
  /** top-level names placed into dist/ */
  placed: string[];
  /** targets whose binaries were re-hashed against their build-info.json */
  checkedTargets: TargetName[];
}

/**
 * Unpack every `xsnap-*.tar` in `from` into `dist`. Nothing lands in dist/
 * unless every entry is a regular file or directory inside the tar, every
 * target's binaries match their build-info.json, and every target in
 * `require` is present.
 */
export async function unpackArtifacts(opts: {
  from: string;
  dist: string;
  require: Target[];
  replace?: boolean;
}): Promise<UnpackResult> {
  const { from, dist, require, replace } = opts;
  if (!existsSync(from)) throw new UsageError(`${from} does not exist: download the artifacts into it first`);
  const files = (await readdir(from))
    .filter(isArtifactFile)
    .sort()
    .map((f) => join(from, f));
  if (files.length === 0) throw new UsageError(`no xsnap-*.tar artifact in ${from}`);

  const failures: Failure[] = [];
  for (const file of files) {
    for (const e of await listEntries(file)) {
      const problem = entryProblem(e.path, e.type);
      if (problem)
        failures.push({
          check: 'artifact-entry',
          subject: `${basename(file)}: ${e.path}`,
          expected: 'a regular file or directory inside the archive',
          actual: problem,
        });
    }
  }
  if (failures.length) throw new CheckFailed(failures);

  await mkdir(dist, { recursive: true });
  const staging = join(dist, `.unpack-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  try {
    for (const file of files) {
      await tar.extract({ file, cwd: staging, strict: true, preserveOwner: false });
    }
    const top = (await readdir(staging)).sort();
    const targets = top.filter((n): n is TargetName => (TARGET_NAMES as readonly string[]).includes(n));
    for (const t of targets) failures.push(...(await checkTargetDir(staging, t, 'artifact')));
    for (const t of require) {
      if (!targets.includes(t.name) && !existsSync(buildInfoPath(dist, t.name))) {
        failures.push({
          check: 'artifact-present',
          subject: t.name,
          expected: `dist/${t.name}/ in one of ${files.map((f) => basename(f)).join(', ')}`,
          actual: 'missing',
          hint: `did the ${t.name} build leg succeed and upload ${buildArtifactFile(t.name)}?`,
        });
      }
    }
    const clashes = replace ? [] : top.filter((n) => existsSync(join(dist, n)));
    for (const n of clashes)
      failures.push({
        check: 'artifact-overwrite',
        subject: join(dist, n),
        expected: 'absent',
        actual: 'exists',
        hint: 'unpack into a fresh dist, or pass --replace',
      });
    if (failures.length) throw new CheckFailed(failures);
    for (const n of top) {
      await rm(join(dist, n), { recursive: true, force: true });
      await rename(join(staging, n), join(dist, n));
    }
    return { files, placed: top, checkedTargets: targets };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- check legs

/**
 * A check leg's or the combined manifest, not refused on the schema: the
 * comparisons below name what differs (a missing fingerprint, another math profile).
 */
function readLegManifest(file: string): UncheckedManifest {
  if (!existsSync(file)) throw new UsageError(`${file} does not exist: run generate-manifest.ts first`);
  const read = readManifest(file);
  if (read.error !== undefined) {
    throw new CheckFailed([{ check: 'manifest-json', subject: file, expected: 'valid JSON', actual: read.error }]);
  }
  return read.unchecked;
}

/** Keep a check leg's one-target manifest (with the fingerprint measured natively) as `<out>/check-<target>.json`. */
export async function saveCheck(opts: {
  dist: string;
  version: string;
  target: TargetName;
  out: string;
}): Promise<string> {
  const src = manifestPath(opts.dist, opts.version);
  const m = readLegManifest(src);
  if (!m.targets?.[opts.target]) {
    throw new CheckFailed([
      {
        check: 'check-manifest',
        subject: src,
        expected: `an entry for ${opts.target}`,
        actual: `targets: ${Object.keys(m.targets ?? {}).join(', ') || 'none'}`,
      },
    ]);
  }
  await mkdir(opts.out, { recursive: true });
  const dest = join(opts.out, checkFile(opts.target));
  await replaceFileAtomic(dest, (partial) => copyFile(src, partial));
  return dest;
}

export interface CompareResult {
  failures: Failure[];
  /** the fingerprint digest each check leg measured on its own machine */
  digests: Partial<Record<TargetName, string | null>>;
  /** determinism differences that are reported, not failed (host-dependent libm under "system", known divergences) */
  reported: string[];
}

/**
 * Compare what the check legs measured natively (one manifest per target, in
 * `from`) with each other and with the combined manifest of the whole set:
 * the same binaries (sha256), and the same behaviour fingerprint on every
 * target. A fingerprint difference is a consensus failure between validators.
 */
export async function compareChecks(opts: {
  from: string;
  dist: string;
  version: string;
  targets: Target[];
}): Promise<CompareResult> {
  const combinedFile = manifestPath(opts.dist, opts.version);
  const combined = readLegManifest(combinedFile);
  const failures: Failure[] = [];
  const byTarget: Record<string, Fingerprint> = {};
  const digests: CompareResult['digests'] = {};
  const determinism: Record<string, { math?: MathInfo; determinism?: DeterminismRecord }> = {};
  const reported: string[] = [];
  for (const t of opts.targets) {
    const file = join(opts.from, checkFile(t.name));
    if (!existsSync(file)) {
      failures.push({
        check: 'check-leg',
        subject: t.name,
        expected: file,
        actual: 'missing',
        hint: `did the "check ${t.name}" job succeed?`,
      });
      continue;
    }
    const leg = readLegManifest(file);
    const mine = leg.targets?.[t.name];
    const theirs = combined.targets?.[t.name];
    if (leg.version !== opts.version)
      failures.push({ check: 'check-version', subject: file, expected: opts.version, actual: String(leg.version) });
    if (!mine) {
      failures.push({ check: 'check-leg', subject: file, expected: `an entry for ${t.name}`, actual: 'none' });
      continue;
    }
    if (!theirs) {
      failures.push({ check: 'check-leg', subject: combinedFile, expected: `an entry for ${t.name}`, actual: 'none' });
      continue;
    }
    for (const goal of GOALS) {
      if (mine[goal]?.sha256 !== theirs[goal]?.sha256) {
        failures.push({
          check: 'check-same-binary',
          subject: `${t.name} ${goal}`,
          expected: `${theirs[goal]?.sha256} (combined manifest)`,
          actual: `${mine[goal]?.sha256} (checked on the ${t.name} runner)`,
          hint: 'the check leg verified other bytes than the ones in the set',
        });
      }
    }
    if (mine.fingerprint === undefined) {
      failures.push({
        check: 'check-fingerprint',
        subject: `${t.name} (${file})`,
        expected: 'a behaviour fingerprint measured on the check runner',
        actual: 'none recorded',
      });
      continue;
    }
    byTarget[t.name] = mine.fingerprint;
    if (!mine.determinism)
      failures.push({
        check: 'check-determinism',
        subject: `${t.name} (${file})`,
        expected: 'determinism digests measured on the check runner',
        actual: 'none recorded',
      });
    else {
      determinism[t.name] = { math: mine.math, determinism: mine.determinism };
      if (theirs.determinism) {
        // the same binary natively on its runner and in the combined job (qemu for arm64)
        const profile = mine.math?.profile ?? 'system';
        const r = differencesToFailures(
          diffDeterminism(
            { label: `${t.name} (combined manifest)`, target: t.name, record: theirs.determinism },
            { label: `${t.name} (native runner)`, target: t.name, record: mine.determinism },
            profile,
          ),
          `${t.name} (combined manifest)`,
          `${t.name} (native runner)`,
          'check-determinism',
        );
        failures.push(...r.failures);
        reported.push(...r.reports);
      }
    }
    digests[t.name] = mine.fingerprint.digest ?? null;
    if (theirs.fingerprint !== undefined && canonicalJson(theirs.fingerprint) !== canonicalJson(mine.fingerprint)) {
      failures.push({
        check: 'check-fingerprint',
        subject: t.name,
        expected: `${digests[t.name]} (measured natively on the ${t.name} runner)`,
        actual: `${theirs.fingerprint.digest} (combined manifest)`,
      });
    }
  }
  if (Object.keys(byTarget).length > 1) {
    failures.push(...compareFingerprints(byTarget));
  }
  const across = compareTargetsDeterminism(determinism);
  failures.push(...across.failures);
  reported.push(...across.reports);
  return { failures, digests, reported };
}

// ---------------------------------------------------------------- toolchains

export interface ToolchainComparison {
  failures: Failure[];
  reported: string[];
  /** families compared, and how the other build was read */
  families: number;
  against: 'measured' | 'record';
  profile: string;
}

/** A determinism record from a JSON file: a record itself, or a manifest's `targets.<target>.determinism`. */
function recordFromFile(file: string, target: TargetName): { record: DeterminismRecord; profile?: string } {
  const v = readLegManifest(file) as UncheckedManifest & Partial<DeterminismRecord>;
  if (v.families && v.corpusDigest) return { record: v as unknown as DeterminismRecord };
  const entry = v.targets?.[target];
  if (!entry?.determinism)
    throw new CheckFailed([
      {
        check: 'toolchain-determinism',
        subject: file,
        expected: `a determinism record, or a manifest with targets.${target}.determinism`,
        actual: entry ? `targets.${target} has no determinism` : `no targets.${target}`,
      },
    ]);
  return { record: entry.determinism, profile: entry.math?.profile };
}

/**
 * The shipped (cross-built) binary against the same sources built by this host's own compiler (on a macOS check
 * leg: Apple clang, `build-target.ts --toolchain host`, never shipped). The shipped binary's determinism record
 * is the one this leg's manifest measured natively (generate-manifest.ts); the other build is measured here with
 * the same corpus, seed and size, or read from a record file (`against` ending in .json). Every family's digest
 * and compute meter must be equal: a difference fails naming the family. Under the `system` math profile the
 * libm families are reported, not failed (zig links some math functions from its own compiler-rt, Apple clang
 * calls libSystem's for all); under `portable` they are failed too.
 */
export async function compareToolchains(opts: {
  dist: string;
  version: string;
  target: Target;
  against: string;
}): Promise<ToolchainComparison> {
  const { dist, version, target } = opts;
  const shipped = recordFromFile(manifestPath(dist, version), target.name);
  const profile = shipped.profile ?? 'system';
  const shippedInfo = await readBuildInfo(dist, target.name);
  const label = `${target.name} ${shippedInfo.toolchain.kind} build`;
  const failures: Failure[] = [];
  let other: Measured;
  let against: ToolchainComparison['against'];
  if (opts.against.endsWith('.json')) {
    const r = recordFromFile(opts.against, target.name);
    other = { label: `${opts.against}`, target: target.name, record: r.record };
    against = 'record';
  } else {
    const info = await readBuildInfo(opts.against, target.name);
    const where = `${opts.against}/${target.name}/build-info.json`;
    if (info.source.treeDigest !== shippedInfo.source.treeDigest)
      failures.push({
        check: 'toolchain-sources',
        subject: where,
        expected: `sources with tree digest ${shippedInfo.source.treeDigest} (dist/${target.name})`,
        actual: info.source.treeDigest,
        hint: 'build both from the same pin',
      });
    if (info.math.profile !== profile)
      failures.push({
        check: 'toolchain-math',
        subject: where,
        expected: `math profile ${profile}`,
        actual: info.math.profile,
        hint: `build with --math ${profile}`,
      });
    if (failures.length) return { failures, reported: [], families: 0, against: 'measured', profile };
    const runner = await hostRunner(target);
    if (!runner)
      throw new UsageError(
        `${target.name} binaries cannot run on ${process.platform}-${process.arch}: compare on its check runner`,
      );
    const bin = binaryPath(opts.against, target.name, 'release');
    log.step(`${target.name}: the determinism corpus on ${bin} (${info.toolchain.compiler})`);
    const r = await runDeterminism(bin, runner, {
      seed: shipped.record.seed,
      perFamily: shipped.record.perFamily,
    });
    other = {
      label: `${target.name} ${info.toolchain.kind} build (${info.toolchain.compiler})`,
      target: target.name,
      record: r.record,
    };
    against = 'measured';
  }
  const diffs = diffDeterminism(
    { label, target: target.name, record: shipped.record },
    other,
    profile as 'system' | 'portable',
    [],
  );
  const r = differencesToFailures(diffs, label, other.label, 'determinism-across-toolchains');
  failures.push(...r.failures);
  return {
    failures,
    reported: r.reports,
    families: Object.keys(shipped.record.families).length,
    against,
    profile,
  };
}

export function assertOneAction(actions: Record<string, unknown>): string {
  const given = Object.entries(actions)
    .filter(([, v]) => v !== undefined && v !== false)
    .map(([k]) => k);
  if (given.length !== 1) {
    throw new UsageError(
      `give exactly one of ${Object.keys(actions)
        .map((k) => `--${k}`)
        .join(', ')}${given.length ? ` (got ${given.map((k) => `--${k}`).join(', ')})` : ''}`,
    );
  }
  return given[0];
}
