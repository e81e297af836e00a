// The dist/ contract: the name and path of everything the stages write and read,
// and nothing else. Writers and checkers both ask here, so a checker never has
// to import the module that writes a file just to learn its name.
//
//   dist/<target>/build-info.json                  build-target.ts
//   dist/<target>/{release,debug}/xsnap-worker      build-target.ts
//   dist/<target>/fingerprint.json                  generate-manifest.ts --fingerprint-only
//   dist/packages/<target>/                         stage-packages.ts (the staged package)
//   dist/agoric-xsnap-<target>-X.Y.Z.tgz            stage-packages.ts (npm pack)
//   dist/release/                                   generate-manifest.ts: the GitHub release's assets
//     xsnap-worker-manifest-X.Y.Z.json, xsnap-worker-binaries-X.Y.Z.tar.gz,
//     agoric-xsnap-<target>-X.Y.Z.tgz (copies), SHA256SUMS, agoric-sdk-handoff.md
//   dist/verified-X.Y.Z.json                        verify-artifacts.ts --record (what publish-all may publish)
//   dist/release/staged-X.Y.Z.json                  publish-all.ts stage (for people; also a draft asset)
import { join } from 'node:path';
import { PACKAGE_TEMPLATES } from './paths.ts';
import { GOALS, TARGETS, type Goal, type Target, type TargetName } from './targets.ts';

export const BINARY_NAME = 'xsnap-worker';

// ------------------------------------------------------------------ build output

/** dist/<target>/ : the build stage's output for one target */
export const targetDir = (dist: string, target: TargetName) => join(dist, target);
/** <target>/<goal>/xsnap-worker: a binary's path inside dist/ (and, under dist/, inside the bundle) */
export const distBinaryPath = (target: TargetName, goal: Goal) => `${target}/${goal}/${BINARY_NAME}`;
export const binaryPath = (dist: string, target: TargetName, goal: Goal) => join(dist, distBinaryPath(target, goal));
export const buildInfoPath = (dist: string, target: TargetName) => join(targetDir(dist, target), 'build-info.json');
/** A fingerprint measured on a host that can run the target (e.g. a macOS CI runner), carried to the manifest host. */
export const fingerprintPath = (dist: string, target: TargetName) => join(targetDir(dist, target), 'fingerprint.json');

// ------------------------------------------------------------------ platform packages

/**
 * License texts shipped in every package (LGPL-3.0 is a set of additions to GPL-3.0, so both go), kept once in
 * packages/licenses/ (licensesDir) and copied into each package when stage-packages makes it.
 */
export const LICENSE_FILES = ['LICENSE', 'LICENSE.Apache-2.0', 'LICENSE.GPL-3.0', 'LICENSE.LGPL-3.0'] as const;
export const NOTICE_FILE = 'THIRD_PARTY_NOTICES.md';
/** The notice in a template folder, filled from build-info.json at staging. */
export const NOTICE_TEMPLATE = 'THIRD_PARTY_NOTICES.md.template';
/** What every template folder packages/xsnap-<target>/ must hold. */
export const TEMPLATE_FILES = ['README.md', 'package.json', NOTICE_TEMPLATE] as const;

/** path of a binary inside a platform package (the contract agoric-sdk reads) */
export const packageBinaryPath = (goal: Goal) => `bin/${goal}/${BINARY_NAME}`;

/** Exactly the files a packed platform package holds (paths inside the package). */
export function allowedPackageFiles(): string[] {
  return ['package.json', 'README.md', ...LICENSE_FILES, NOTICE_FILE, ...GOALS.map(packageBinaryPath)].sort();
}

/** packages/xsnap-<target>/: the committed template of a platform package */
export const templateDir = (target: Target, root = PACKAGE_TEMPLATES) => join(root, `xsnap-${target.name}`);
/** The one copy of the license texts, beside the template folders. */
export const licensesDir = (root = PACKAGE_TEMPLATES) => join(root, 'licenses');
/** dist/packages/: the staged platform packages */
export const stagedPackagesDir = (dist: string) => join(dist, 'packages');
export const stagedPackageDir = (dist: string, target: Target) => join(stagedPackagesDir(dist), target.name);
/** `npm pack` names a scoped package's tarball <scope>-<name>-<version>.tgz */
export const tarballName = (target: Pick<Target, 'packageName'>, version: string) =>
  `${target.packageName.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
/** dist/<tarball>: the packed package, as it gets published */
export const tarballPath = (dist: string, target: Target, version: string) => join(dist, tarballName(target, version));

// ------------------------------------------------------------------ the release assets

export const releaseDir = (dist: string) => join(dist, 'release');
export const manifestName = (version: string) => `xsnap-worker-manifest-${version}.json`;
export const manifestPath = (dist: string, version: string) => join(releaseDir(dist), manifestName(version));
export const SUMS_NAME = 'SHA256SUMS';
export const sumsPath = (dist: string) => join(releaseDir(dist), SUMS_NAME);
export const bundleName = (version: string) => `xsnap-worker-binaries-${version}.tar.gz`;
export const bundlePath = (dist: string, version: string) => join(releaseDir(dist), bundleName(version));
/** The path of a binary inside the bundle: agoric-sdk's installer reads exactly this. */
export const bundleBinaryPath = (target: TargetName, goal: Goal) => `dist/${distBinaryPath(target, goal)}`;
/** The hand-off to agoric-sdk (generate-manifest.ts --handoff), next to the manifest it is derived from. */
export const HANDOFF_NAME = 'agoric-sdk-handoff.md';
export const handoffPath = (dist: string) => join(releaseDir(dist), HANDOFF_NAME);

/** Every path the bundle holds for these targets, directories with a trailing slash, sorted. */
export function bundleLayout(targets: readonly TargetName[]): string[] {
  const paths = new Set<string>(['dist/']);
  for (const t of targets) {
    paths.add(`dist/${t}/`);
    for (const g of GOALS) {
      paths.add(`dist/${t}/${g}/`);
      paths.add(bundleBinaryPath(t, g));
    }
  }
  return [...paths].sort();
}

/** The release assets that carry the version in their name, each as a function of the version. */
function versionedAssetNames(targets: readonly Pick<Target, 'packageName'>[]): Array<(version: string) => string> {
  return [manifestName, bundleName, ...targets.map((t) => (version: string) => tarballName(t, version))];
}

/**
 * The version in a release asset's name, read by inverting the names above (so a
 * target name of any number of parts, such as linux-x64-musl, reads right), or
 * undefined for a name that is none of them. The longest prefix is tried first:
 * agoric-xsnap-linux-x64-musl-1.2.3.tgz is linux-x64-musl's 1.2.3, not linux-x64's "musl-1.2.3".
 */
export function assetVersion(
  name: string,
  targets: readonly Pick<Target, 'packageName'>[] = TARGETS,
): string | undefined {
  const MARK = '\0';
  const patterns = versionedAssetNames(targets)
    .map((f) => f(MARK).split(MARK) as [string, string])
    .sort(([a], [b]) => b.length - a.length);
  for (const [before, after] of patterns) {
    if (name.length > before.length + after.length && name.startsWith(before) && name.endsWith(after)) {
      return name.slice(before.length, name.length - after.length);
    }
  }
  return undefined;
}

/** dist/release/staged-X.Y.Z.json: what publish-all staged and how to approve it (a record for people) */
export const stagedRecordName = (version: string) => `staged-${version}.json`;
export const stagedRecordPath = (dist: string, version: string) => join(releaseDir(dist), stagedRecordName(version));
/** dist/verified-X.Y.Z.json: the digests of what verify-artifacts checked, for the job that publishes */
export const verifiedRecordPath = (dist: string, version: string) => join(dist, `verified-${version}.json`);

// ------------------------------------------------------------------ CI artifacts

/** Name of the tar a build leg uploads for one target. */
export const buildArtifactFile = (target: TargetName) => `xsnap-build-${target}.tar`;
/** Name of the tar holding a whole verified dist/ (for the publish job). */
export const DIST_ARTIFACT_FILE = 'xsnap-dist.tar';
/** The GitHub artifact holding DIST_ARTIFACT_FILE: a release run's verify job uploads it. */
export const DIST_ARTIFACT_NAME = 'xsnap-verified-dist';
/** Any tar of ours among downloaded artifacts (the build legs' and the whole dist's). */
export const isArtifactFile = (name: string) => /^xsnap-.*\.tar$/.test(name);
/** Name of a check leg's copy of its one-target manifest. */
export const checkFile = (target: TargetName) => `check-${target}.json`;
