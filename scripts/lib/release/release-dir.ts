// Writing dist/release/, the GitHub release's assets: the manifest built from
// the bytes in dist (binaries, tarballs) and build-info, the release bundle, the
// tarballs' copies and SHA256SUMS over them, made in a temporary folder and
// renamed into place; with --save, the manifest's copy in manifests/, where a
// released version's bytes never change.
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/fs.ts';
import { join } from 'node:path';
import { log } from '../core/cli.ts';
import { CheckFailed, OperationError, type Failure } from '../core/errors.ts';
import { canonicalJson, renderSums, sha256File, sha256Hex, sriSha512 } from '../core/hash.ts';
import {
  binaryPath,
  bundleBinaryPath,
  bundleName,
  bundlePath,
  manifestName,
  manifestPath,
  packageBinaryPath,
  releaseDir,
  SUMS_NAME,
  sumsPath,
  tarballName,
  tarballPath,
} from '../core/layout.ts';
import { readBuildInfo, type BuildInfo, type ToolchainInfo } from '../build/build.ts';
import { makeBundle } from '../package/bundle.ts';
import { refuseOtherCorpus, saveReleasedCorpus } from '../behaviour/released-corpus.ts';
import { compareFingerprints } from '../behaviour/fingerprint.ts';
import { compareTargetsDeterminism } from '../behaviour/determinism.ts';
import { fingerprintFor } from '../behaviour/measure.ts';
import { parseManifest, renderManifest, type Manifest, type ManifestTarget } from '../core/manifest.ts';
import { GOALS, TARGETS, type Goal, type Target, type TargetName } from '../core/targets.ts';

// ------------------------------------------------------------------ building the manifest

/** Only what does not depend on the machine or the moment of the build. */
export function deterministicToolchain(t: ToolchainInfo): ManifestTarget['toolchain'] {
  const out: ManifestTarget['toolchain'] = { kind: t.kind, compiler: t.compiler };
  for (const k of ['buildRootId', 'suite', 'packages', 'glibcFloor', 'macosMin', 'sdk', 'zig', 'zigTarget'] as const) {
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
  /** a rehearsal: a target that cannot run here and has nothing measured elsewhere is recorded as unmeasured */
  allowUnmeasured: boolean;
}

export function planManifest(opts: {
  dist: string;
  version: string;
  targets: Target[];
  saveTo?: string | null;
  fingerprintsFrom?: string | null;
  allowUnmeasured?: boolean;
}): ManifestPlan {
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
    allowUnmeasured: opts.allowUnmeasured ?? false,
  };
}

/** Build the manifest from the bytes in dist (binaries, tarballs) and build-info (source, toolchain). */
export async function buildManifest(
  plan: ManifestPlan,
): Promise<{ manifest: Manifest; binaries: Map<string, Buffer> }> {
  const failures: Failure[] = [];
  const infos: BuildInfo[] = [];
  const targets: Manifest['targets'] = {};
  const binaries = new Map<string, Buffer>();
  // every target at once: their behaviour corpora share the processors (slots.ts) instead of waiting for each other;
  // merged in the targets' order, so the manifest and the failures are as one after the other would make them
  const measureTarget = async (name: TargetName) => {
    const failures: Failure[] = [];
    const binaries = new Map<string, Buffer>();
    const t = TARGETS.find((x) => x.name === name)!;
    const info = await readBuildInfo(plan.dist, name);
    const build = `npx tsx scripts/build-target.ts --target ${name}`;
    if (info.version !== plan.version) {
      const subject = `${name} build-info.json`;
      const hint = `rebuild ${name}`;
      failures.push({ check: 'build-version', subject, expected: plan.version, actual: info.version, hint });
    }
    if (!info.releasable) {
      failures.push({
        check: 'releasable',
        subject: `${name} build-info.json`,
        expected: 'a releasable build (pinned toolchain, registry or agoric-sdk source, both goals)',
        actual: `releasable: false (${info.toolchain.kind} toolchain, ${info.source.kind} source)`,
        hint: `rebuild with ${build}`,
      });
    }
    const entry: Partial<ManifestTarget> = {
      package: t.packageName,
      os: t.os,
      cpu: t.cpu,
      ...(t.libc ? { libc: t.libc } : {}),
      toolchain: deterministicToolchain(info.toolchain),
      math: info.math ?? { profile: 'system' },
    };
    for (const goal of GOALS) {
      const file = binaryPath(plan.dist, name, goal);
      if (!existsSync(file)) {
        failures.push({ check: 'binary-present', subject: file, expected: 'a file', actual: 'missing', hint: build });
        continue;
      }
      const data = await readFile(file);
      binaries.set(bundleBinaryPath(name, goal), data);
      entry[goal as Goal] = { path: packageBinaryPath(goal), sha256: sha256Hex(data), size: data.length };
    }
    const tgzName = tarballName(t, plan.version);
    const tgz = tarballPath(plan.dist, t, plan.version);
    if (!existsSync(tgz)) {
      const hint = `npx tsx scripts/stage-packages.ts --targets ${plan.targets.join(',')}`;
      const expected = 'the packed npm tarball';
      failures.push({ check: 'tarball-present', subject: tgz, expected, actual: 'missing', hint });
    } else {
      const data = await readFile(tgz);
      entry.tarball = { name: tgzName, integrity: sriSha512(data), size: data.length };
    }
    if (entry.release) {
      log.info(`${name}: behaviour fingerprint`);
      const r = await fingerprintFor(plan.dist, t, entry.release.sha256, plan.fingerprintsFrom, plan);
      failures.push(...r.failures);
      if (r.fingerprint) entry.fingerprint = r.fingerprint;
      if (r.determinism) entry.determinism = r.determinism;
      if (r.unmeasured) entry.unmeasured = r.unmeasured;
    }
    return { info, entry: entry as ManifestTarget, failures, binaries };
  };
  const settled = plan.targets.map((name) => measureTarget(name));
  settled.forEach((p) => p.catch(() => {})); // each is awaited below, in order
  for (const [i, name] of plan.targets.entries()) {
    const r = await settled[i];
    infos.push(r.info);
    failures.push(...r.failures);
    for (const [k, v] of r.binaries) binaries.set(k, v);
    targets[name] = r.entry;
  }
  // every target must come from the same sources: one source identity per release
  const sources = new Set(infos.map((i) => canonicalJson(i.source, 0)));
  if (sources.size > 1) {
    failures.push({
      check: 'same-source',
      subject: plan.targets.map((n) => `${n} build-info.json`).join(', '),
      expected: 'one source identity for every target',
      actual: [...sources].join(' | '),
      hint: 'rebuild every target from the same pin',
    });
  }
  const measured = Object.fromEntries(
    Object.entries(targets).flatMap(([k, v]) => (v?.fingerprint ? [[k, v.fingerprint] as const] : [])),
  );
  failures.push(...compareFingerprints(measured));
  const determinism = compareTargetsDeterminism(targets as Record<string, ManifestTarget>);
  failures.push(...determinism.failures);
  determinism.reports.forEach((r) => log.warn(r));
  if (failures.length) throw new CheckFailed(failures);
  const manifest: Manifest = { schemaVersion: 1, version: plan.version, source: infos[0].source, targets };
  // the bytes as every reader will read them
  const problems = parseManifest(renderManifest(manifest), manifestName(plan.version)).failures;
  if (problems.length) throw new CheckFailed(problems);
  return { manifest, binaries };
}

// ------------------------------------------------------------------ dist/release/

/**
 * Write dist/release/: the tarballs (copied from dist/), the bundle, the manifest
 * and SHA256SUMS over all of them. Made in a temporary folder, then renamed.
 */
export async function executeManifest(
  plan: ManifestPlan,
): Promise<{ manifest: Manifest; sums: Record<string, string>; manifestSha256: string }> {
  const { manifest, binaries } = await buildManifest(plan);
  const tmp = await mkdtemp(join(plan.dist, '.release.partial-'));
  try {
    const sums: Record<string, string> = {};
    for (const name of plan.targets) {
      const tgzName = manifest.targets[name]!.tarball.name;
      await copyFile(join(plan.dist, tgzName), join(tmp, tgzName));
      sums[tgzName] = await sha256File(join(tmp, tgzName));
      if (sums[tgzName] !== sha256Hex(await readFile(join(plan.dist, tgzName)))) {
        throw new OperationError(`${tgzName} changed while it was being copied`);
      }
    }
    const bundle = makeBundle(binaries);
    await writeFile(join(tmp, bundleName(plan.version)), bundle);
    sums[bundleName(plan.version)] = sha256Hex(bundle);
    const text = renderManifest(manifest);
    await writeFile(join(tmp, manifestName(plan.version)), text);
    sums[manifestName(plan.version)] = sha256Hex(text);
    await writeFile(join(tmp, SUMS_NAME), renderSums(sums));
    await chmod(tmp, 0o755); // mkdtemp made it 0700
    // refuse a different committed manifest, or a corpus other than the one measured, before replacing anything
    const corpora = [
      ...new Set(Object.values(manifest.targets).flatMap((t) => (t?.determinism ? [t.determinism.corpusDigest] : []))),
    ];
    if (plan.saveTo) {
      await refuseChangedCommittedManifest(plan.saveTo, manifestName(plan.version), text);
      for (const digest of corpora) refuseOtherCorpus(plan.saveTo, digest);
    }
    await rm(plan.outDir, { recursive: true, force: true });
    await rename(tmp, plan.outDir);
    if (plan.saveTo) {
      await saveManifest(plan.saveTo, manifestName(plan.version), text);
      // the corpus the manifest was measured with, by its digest: delivery checks of this release run it
      for (const digest of corpora) await saveReleasedCorpus(plan.saveTo, digest);
    }
    return { manifest, sums, manifestSha256: sums[manifestName(plan.version)] };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ manifests/ (--save)

/** A released version never changes its bytes: throw if manifests/ holds a different manifest for it. */
async function refuseChangedCommittedManifest(dir: string, name: string, text: string): Promise<void> {
  const file = join(dir, name);
  if (!existsSync(file)) return;
  const old = await readFile(file, 'utf8');
  if (old !== text) {
    throw new CheckFailed([
      {
        check: 'committed-manifest',
        subject: file,
        expected: `the new manifest (sha256 ${sha256Hex(text)})`,
        actual: `a different manifest for the same version (sha256 ${sha256Hex(old)})`,
        hint: 'a released version never changes its bytes; bump the version instead',
      },
    ]);
  }
}

/** Copy the manifest to manifests/ for committing; a different manifest already there for this version is refused. */
export async function saveManifest(dir: string, name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await refuseChangedCommittedManifest(dir, name, text);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(file, text);
  return file;
}
