// The release manifest (xsnap-worker-manifest-X.Y.Z.json), SHA256SUMS and the
// release bundle: what goes into dist/release/, the GitHub release's assets.
// The manifest's bytes are canonical JSON and a pure function of the binaries,
// the tarballs and the pinned inputs (agoric-sdk pins its sha256).
import { compareFingerprints, fingerprintBinary, type Fingerprint } from './fingerprint.ts';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import AjvModule from 'ajv';
import { log } from './cli.ts';
import { CheckFailed, OperationError, UsageError, type Failure } from './errors.ts';
import { canonicalJson, sha256File, sha256Hex, sriSha512 } from './hash.ts';
import { MANIFESTS_DIR, REPO_ROOT } from './paths.ts';
import {
  binaryPath, bundleBinaryPath, bundleName, bundlePath, fingerprintPath, manifestName, manifestPath, packageBinaryPath,
  releaseDir, SUMS_NAME, sumsPath, tarballName, tarballPath,
} from './layout.ts';
import { readBuildInfo, type BuildInfo, type ToolchainInfo } from './build.ts';
import { makeBundle } from './bundle.ts';
import { hostRunner } from './binary-checks.ts';
import { GOALS, TARGETS, type Goal, type Target, type TargetName } from './targets.ts';
import type { SourceIdentity } from './sources.ts';
import type { MathInfo } from './portable-libm.ts';
import { compareTargetsDeterminism, runDeterminism, totalResults, type DeterminismRecord } from './determinism.ts';

export const SCHEMA_FILE = join(REPO_ROOT, 'manifests', 'xsnap-worker-manifest.schema.json');

// ------------------------------------------------------------------ types

/** The behaviour fingerprint: scripts/lib/fingerprint.ts, the corpus in native/fingerprint-corpus/. */
export type { Fingerprint };

export interface ManifestBinary {
  path: string;
  sha256: string;
  size: number;
}

export interface ManifestTarget {
  package: string;
  os: Target['os'];
  cpu: Target['cpu'];
  libc?: 'glibc';
  release: ManifestBinary;
  debug: ManifestBinary;
  tarball: { name: string; integrity: string; size: number };
  toolchain: Omit<ToolchainInfo, 'kind'> & { kind: string };
  fingerprint: Fingerprint;
  /** the math profile the binaries were built with */
  math: MathInfo;
  /** the determinism corpus's per-family digests (scripts/lib/determinism.ts) */
  determinism: DeterminismRecord;
}

export interface Manifest {
  schemaVersion: 1;
  version: string;
  source: SourceIdentity;
  targets: Partial<Record<TargetName, ManifestTarget>>;
}

export interface FingerprintFile {
  target: TargetName;
  /** the release binary it was measured on */
  binarySha256: string;
  fingerprint: Fingerprint;
  determinism?: DeterminismRecord;
}

// ------------------------------------------------------------------ schema

let validator: ((v: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null } | undefined;

/** Schema violations of a manifest value, as failures naming `file`. */
export async function schemaFailures(value: unknown, file: string): Promise<Failure[]> {
  if (!validator) {
    const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as new (o: object) => { compile(s: unknown): typeof validator };
    validator = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(await readFile(SCHEMA_FILE, 'utf8')));
  }
  if (validator!(value)) return [];
  return (validator!.errors ?? []).map((e) => ({
    check: 'manifest-schema',
    subject: `${file} at ${e.instancePath || '/'}`,
    expected: `valid against ${SCHEMA_FILE.slice(REPO_ROOT.length + 1)}`,
    actual: e.message ?? 'invalid',
  }));
}

/** The manifest's bytes: canonical JSON and a final newline. */
export const renderManifest = (m: Manifest) => canonicalJson(m) + '\n';

// ------------------------------------------------------------------ SHA256SUMS

/** `sha256sum -c` format: "<hex>  <name>", sorted by name. */
export function renderSums(entries: Record<string, string>): string {
  return Object.keys(entries).sort().map((name) => `${entries[name]}  ${name}\n`).join('');
}

export function parseSums(text: string): { entries: Record<string, string>; bad: string[] } {
  const entries: Record<string, string> = {};
  const bad: string[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m || m[2] in entries) bad.push(line);
    else entries[m[2]] = m[1];
  }
  return { entries, bad };
}

// ------------------------------------------------------------------ building the manifest

/** Only what does not depend on the machine or the moment of the build. */
export function deterministicToolchain(t: ToolchainInfo): ManifestTarget['toolchain'] {
  const out: ManifestTarget['toolchain'] = { kind: t.kind, compiler: t.compiler };
  for (const k of ['buildRootId', 'suite', 'packages', 'glibcFloor', 'macosMin', 'sdk'] as const) {
    if (t[k] !== undefined) (out as Record<string, unknown>)[k] = t[k];
  }
  return out;
}

export interface ManifestPlan {
  version: string;
  dist: string;
  targets: TargetName[];
  outDir: string;
  files: { manifest: string; sums: string; bundle: string; tarballs: string[] };
  /** also write the manifest to this folder (manifests/ at release) */
  saveTo: string | null;
  /** manifests measured elsewhere, for the fingerprints of targets this host cannot run */
  fingerprintsFrom: string | null;
}

export function planManifest(opts: { dist: string; version: string; targets: Target[]; saveTo?: string | null; fingerprintsFrom?: string | null }): ManifestPlan {
  const outDir = releaseDir(opts.dist);
  return {
    version: opts.version,
    dist: opts.dist,
    targets: opts.targets.map((t) => t.name),
    outDir,
    files: {
      manifest: manifestPath(opts.dist, opts.version),
      sums: sumsPath(opts.dist),
      bundle: bundlePath(opts.dist, opts.version),
      tarballs: opts.targets.map((t) => join(outDir, tarballName(t, opts.version))),
    },
    saveTo: opts.saveTo ?? null,
    fingerprintsFrom: opts.fingerprintsFrom ?? null,
  };
}

/**
 * A fingerprint measured elsewhere for `t`: dist/<target>/fingerprint.json, or a
 * manifest (e.g. a CI check leg's one-target manifest) among the *.json files of `fromDir`.
 */
export async function carriedFingerprint(dist: string, t: Target, fromDir?: string | null): Promise<{ file: string; binarySha256: string; fingerprint: Fingerprint; determinism?: DeterminismRecord } | undefined> {
  const own = fingerprintPath(dist, t.name);
  if (existsSync(own)) {
    const r = JSON.parse(await readFile(own, 'utf8')) as FingerprintFile;
    return { file: own, binarySha256: r.binarySha256, fingerprint: r.fingerprint, determinism: r.determinism };
  }
  if (!fromDir) return undefined;
  if (!existsSync(fromDir)) throw new UsageError(`--fingerprints-from ${fromDir}: no such folder`);
  for (const name of (await readdir(fromDir)).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(fromDir, name);
    let v: { target?: string; binarySha256?: string; fingerprint?: Fingerprint; determinism?: DeterminismRecord; targets?: Record<string, { release?: { sha256?: string }; fingerprint?: Fingerprint; determinism?: DeterminismRecord }> };
    try {
      v = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    if (v.target === t.name && v.binarySha256 && v.fingerprint) return { file, binarySha256: v.binarySha256, fingerprint: v.fingerprint, determinism: v.determinism };
    const e = v.targets?.[t.name];
    if (e?.fingerprint && e.release?.sha256) return { file, binarySha256: e.release.sha256, fingerprint: e.fingerprint, determinism: e.determinism };
  }
  return undefined;
}

/**
 * Measure the release binary's fingerprint and determinism digests here, or take
 * the ones measured where it can run.
 */
export async function fingerprintFor(dist: string, t: Target, releaseSha256: string, fromDir?: string | null): Promise<{ fingerprint?: Fingerprint; determinism?: DeterminismRecord; failures: Failure[] }> {
  const subject = `${t.name} release binary (${binaryPath(dist, t.name, 'release')})`;
  const runner = await hostRunner(t);
  const carried = await carriedFingerprint(dist, t, fromDir);
  if (carried && carried.binarySha256 !== releaseSha256) {
    return { failures: [{ check: 'fingerprint', subject: `${t.name}: ${carried.file}`, expected: `measured on the release binary with sha256 ${releaseSha256}`, actual: `measured on ${carried.binarySha256}`, hint: `measure it again where ${t.name} runs: npx tsx scripts/generate-manifest.ts --fingerprint-only --targets ${t.name}` }] };
  }
  if (runner) {
    const measured = await measureFingerprint(binaryPath(dist, t.name, 'release'), runner, subject);
    if (!measured.fingerprint) return { failures: measured.failures };
    const fingerprint = measured.fingerprint;
    if (carried && carried.fingerprint.digest !== fingerprint.digest) {
      return { failures: [{ check: 'fingerprint', subject: `${t.name}: ${carried.file} against a fresh measurement here`, expected: fingerprint.digest, actual: carried.fingerprint.digest }] };
    }
    const det = await measureDeterminism(binaryPath(dist, t.name, 'release'), runner, subject);
    return { fingerprint, determinism: det.record, failures: det.failures };
  }
  if (carried?.determinism) {
    log.info(`${t.name} cannot run here: fingerprint and determinism digests taken from ${carried.file}`);
    return { fingerprint: carried.fingerprint, determinism: carried.determinism, failures: [] };
  }
  if (carried) {
    return { failures: [{ check: 'determinism', subject: `${t.name}: ${carried.file}`, expected: 'determinism digests measured where the target runs', actual: 'none (measured by an older harness?)', hint: `measure it again: npx tsx scripts/generate-manifest.ts --fingerprint-only --targets ${t.name}` }] };
  }
  return {
    failures: [{
      check: 'fingerprint', subject, expected: `a fingerprint measured where ${t.name} runs (${fingerprintPath(dist, t.name)}, or a manifest in --fingerprints-from)`, actual: `none, and ${t.name} cannot run on ${process.platform}-${process.arch}`,
      hint: `on a ${t.os}-${t.cpu} host run npx tsx scripts/generate-manifest.ts --fingerprint-only --targets ${t.name} and bring dist/${t.name}/fingerprint.json here`,
    }],
  };
}

/** Run the fingerprint, turning whatever it throws into failures naming the binary. */
export async function measureFingerprint(bin: string, runner: string[], subject: string): Promise<{ fingerprint?: Fingerprint; failures: Failure[] }> {
  try {
    return { fingerprint: await fingerprintBinary(bin, runner), failures: [] };
  } catch (e) {
    if (e instanceof CheckFailed) return { failures: e.failures };
    return { failures: [{ check: 'fingerprint', subject, expected: 'the corpus runs to completion', actual: (e as Error).message }] };
  }
}

/** Run the determinism corpus, turning whatever it throws into failures naming the binary. */
export async function measureDeterminism(bin: string, runner: string[], subject: string): Promise<{ record?: DeterminismRecord; failures: Failure[] }> {
  try {
    const r = await runDeterminism(bin, runner);
    log.info(`${subject}: determinism corpus, ${totalResults(r.record)} results in ${r.seconds.toFixed(1)} s`);
    return { record: r.record, failures: [] };
  } catch (e) {
    return { failures: [{ check: 'determinism', subject, expected: 'the determinism corpus runs to completion', actual: (e as Error).message }] };
  }
}

/** Measure fingerprints of the runnable targets and write dist/<target>/fingerprint.json (for a manifest made elsewhere). */
export async function writeFingerprintFiles(dist: string, targets: Target[]): Promise<Array<{ target: TargetName; file: string; digest: string }>> {
  const failures: Failure[] = [];
  const out: Array<{ target: TargetName; file: string; digest: string }> = [];
  for (const t of targets) {
    const bin = binaryPath(dist, t.name, 'release');
    const runner = await hostRunner(t);
    if (!runner) { failures.push({ check: 'fingerprint', subject: `${t.name} (${bin})`, expected: 'a binary this host can run', actual: `${t.name} cannot run on ${process.platform}-${process.arch}` }); continue; }
    if (!existsSync(bin)) { failures.push({ check: 'binary-present', subject: bin, expected: 'a file', actual: 'missing', hint: `npx tsx scripts/build-target.ts --target ${t.name}` }); continue; }
    const measured = await measureFingerprint(bin, runner, `${t.name} release binary (${bin})`);
    if (!measured.fingerprint) { failures.push(...measured.failures); continue; }
    const fingerprint = measured.fingerprint;
    const det = await measureDeterminism(bin, runner, `${t.name} release binary (${bin})`);
    if (!det.record) { failures.push(...det.failures); continue; }
    const record: FingerprintFile = { target: t.name, binarySha256: await sha256File(bin), fingerprint, determinism: det.record };
    const file = fingerprintPath(dist, t.name);
    await writeFile(`${file}.partial`, canonicalJson(record) + '\n');
    await rename(`${file}.partial`, file);
    out.push({ target: t.name, file, digest: fingerprint.digest });
  }
  if (failures.length) throw new CheckFailed(failures);
  return out;
}

/** Build the manifest from the bytes in dist (binaries, tarballs) and build-info (source, toolchain). */
export async function buildManifest(plan: ManifestPlan): Promise<{ manifest: Manifest; binaries: Map<string, Buffer> }> {
  const failures: Failure[] = [];
  const infos: BuildInfo[] = [];
  const targets: Manifest['targets'] = {};
  const binaries = new Map<string, Buffer>();
  for (const name of plan.targets) {
    const t = TARGETS.find((x) => x.name === name)!;
    const info = await readBuildInfo(plan.dist, name);
    infos.push(info);
    if (info.version !== plan.version) failures.push({ check: 'build-version', subject: `${name} build-info.json`, expected: plan.version, actual: info.version, hint: `rebuild ${name}` });
    if (!info.releasable) failures.push({ check: 'releasable', subject: `${name} build-info.json`, expected: 'a releasable build (pinned toolchain, registry or agoric-sdk source, both goals)', actual: `releasable: false (${info.toolchain.kind} toolchain, ${info.source.kind} source)`, hint: `rebuild with npx tsx scripts/build-target.ts --target ${name}` });
    const entry: Partial<ManifestTarget> = { package: t.packageName, os: t.os, cpu: t.cpu, ...(t.libc ? { libc: t.libc } : {}), toolchain: deterministicToolchain(info.toolchain), math: info.math ?? { profile: 'system' } };
    for (const goal of GOALS) {
      const file = binaryPath(plan.dist, name, goal);
      if (!existsSync(file)) { failures.push({ check: 'binary-present', subject: file, expected: 'a file', actual: 'missing', hint: `npx tsx scripts/build-target.ts --target ${name}` }); continue; }
      const data = await readFile(file);
      binaries.set(bundleBinaryPath(name, goal), data);
      entry[goal as Goal] = { path: packageBinaryPath(goal), sha256: sha256Hex(data), size: data.length };
    }
    const tgzName = tarballName(t, plan.version);
    const tgz = tarballPath(plan.dist, t, plan.version);
    if (!existsSync(tgz)) {
      failures.push({ check: 'tarball-present', subject: tgz, expected: 'the packed npm tarball', actual: 'missing', hint: `npx tsx scripts/stage-packages.ts --targets ${plan.targets.join(',')}` });
    } else {
      const data = await readFile(tgz);
      entry.tarball = { name: tgzName, integrity: sriSha512(data), size: data.length };
    }
    if (entry.release) {
      log.info(`${name}: behaviour fingerprint`);
      const r = await fingerprintFor(plan.dist, t, entry.release.sha256, plan.fingerprintsFrom);
      failures.push(...r.failures);
      if (r.fingerprint) entry.fingerprint = r.fingerprint;
      if (r.determinism) entry.determinism = r.determinism;
    }
    targets[name] = entry as ManifestTarget;
  }
  // every target must come from the same sources: one source identity per release
  const sources = new Set(infos.map((i) => canonicalJson(i.source, 0)));
  if (sources.size > 1) {
    failures.push({ check: 'same-source', subject: plan.targets.map((n) => `${n} build-info.json`).join(', '), expected: 'one source identity for every target', actual: [...sources].join(' | '), hint: 'rebuild every target from the same pin' });
  }
  const measured = Object.fromEntries(Object.entries(targets).filter(([, v]) => v?.fingerprint).map(([k, v]) => [k, v!.fingerprint]));
  failures.push(...compareFingerprints(measured));
  const determinism = compareTargetsDeterminism(targets as Record<string, ManifestTarget>);
  failures.push(...determinism.failures);
  determinism.reports.forEach((r) => log.warn(r));
  if (failures.length) throw new CheckFailed(failures);
  const manifest: Manifest = { schemaVersion: 1, version: plan.version, source: infos[0].source, targets };
  const problems = await schemaFailures(JSON.parse(renderManifest(manifest)), manifestName(plan.version));
  if (problems.length) throw new CheckFailed(problems);
  return { manifest, binaries };
}

/**
 * Write dist/release/: the tarballs (copied from dist/), the bundle, the manifest
 * and SHA256SUMS over all of them. Made in a temporary folder, then renamed.
 */
export async function executeManifest(plan: ManifestPlan): Promise<{ manifest: Manifest; sums: Record<string, string>; manifestSha256: string }> {
  const { manifest, binaries } = await buildManifest(plan);
  const tmp = await mkdtemp(join(plan.dist, '.release.partial-'));
  try {
    const sums: Record<string, string> = {};
    for (const name of plan.targets) {
      const tgzName = manifest.targets[name]!.tarball.name;
      await copyFile(join(plan.dist, tgzName), join(tmp, tgzName));
      sums[tgzName] = await sha256File(join(tmp, tgzName));
      if (sums[tgzName] !== sha256Hex(await readFile(join(plan.dist, tgzName)))) throw new OperationError(`${tgzName} changed while it was being copied`);
    }
    const bundle = makeBundle(binaries);
    await writeFile(join(tmp, bundleName(plan.version)), bundle);
    sums[bundleName(plan.version)] = sha256Hex(bundle);
    const text = renderManifest(manifest);
    await writeFile(join(tmp, manifestName(plan.version)), text);
    sums[manifestName(plan.version)] = sha256Hex(text);
    await writeFile(join(tmp, SUMS_NAME), renderSums(sums));
    await chmod(tmp, 0o755); // mkdtemp made it 0700
    // refuse a different committed manifest before replacing anything
    if (plan.saveTo) await refuseChangedCommittedManifest(plan.saveTo, manifestName(plan.version), text);
    await rm(plan.outDir, { recursive: true, force: true });
    await rename(tmp, plan.outDir);
    if (plan.saveTo) await saveManifest(plan.saveTo, manifestName(plan.version), text);
    return { manifest, sums, manifestSha256: sums[manifestName(plan.version)] };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A released version never changes its bytes: throw if manifests/ holds a different manifest for it. */
async function refuseChangedCommittedManifest(dir: string, name: string, text: string): Promise<void> {
  const file = join(dir, name);
  if (!existsSync(file)) return;
  const old = await readFile(file, 'utf8');
  if (old !== text) {
    throw new CheckFailed([{ check: 'committed-manifest', subject: file, expected: `the new manifest (sha256 ${sha256Hex(text)})`, actual: `a different manifest for the same version (sha256 ${sha256Hex(old)})`, hint: 'a released version never changes its bytes; bump the version instead' }]);
  }
}

/** Copy the manifest to manifests/ for committing; a different manifest already there for this version is refused. */
export async function saveManifest(dir: string, name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await refuseChangedCommittedManifest(dir, name, text);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  await writeFile(`${file}.partial`, text);
  await rename(`${file}.partial`, file);
  return file;
}

export { MANIFESTS_DIR };
