// Verification of everything that ships, re-derived from bytes on disk: the
// binaries in dist/<target>, inside each npm tarball and inside the release
// bundle, the manifest and SHA256SUMS, package metadata, binary headers, the
// version each runnable binary reports, installability per platform, the
// behaviour fingerprint, and version alignment. Nothing recorded earlier is
// taken as proof: every digest here is computed from the bytes being checked
// and compared with an independent record.
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { log } from './cli.ts';
import { UsageError, type Failure } from './errors.ts';
import { checkVersion } from './pin.ts';
import { verifyPublished } from './published.ts';
import { compareFingerprints } from './fingerprint.ts';
import {
  commonProfile,
  compareAcrossTargets,
  diffDeterminism,
  differencesToFailures,
  runDeterminism,
  totalResults,
  type DeterminismRecord,
  type MathProfile,
  type Measured,
} from './determinism.ts';
import { canonicalJson, matchesIntegrity, parseSums, sha256Hex, sriSha512 } from './hash.ts';
import { MANIFESTS_DIR } from './paths.ts';
import { readBuildInfo } from './build.ts';
import { checkBinary, glibcFloorRunner, hostRunner } from './binary-checks.ts';
import { readElf } from './elf.ts';
import { makeBundle, BUNDLE_FILE_MODE, BUNDLE_DIR_MODE } from './bundle.ts';
import { readTarEntries, unsafePath, type TarEntry } from './tarball.ts';
import {
  allowedPackageFiles,
  assetVersion,
  binaryPath,
  bundleBinaryPath,
  bundleLayout,
  bundleName,
  bundlePath,
  HANDOFF_NAME,
  manifestName,
  manifestPath,
  NOTICE_FILE,
  packageBinaryPath,
  releaseDir,
  SUMS_NAME,
  sumsPath,
  tarballName,
  tarballPath,
} from './layout.ts';
import { LICENSE_EXPRESSION, templatePackageJson } from './package-text.ts';
import { readManifest, renderManifest, type Fingerprint, type Manifest, type ManifestTarget } from './manifest.ts';
import { measureFingerprint } from './measure.ts';
import { checkInstallability, platformsFor, type InstallResult } from './install-check.ts';
import { GOALS, type Target } from './targets.ts';
import { ageLine } from './release-age.ts';
import { handoffProblems } from './handoff.ts';

export interface VerifyOptions {
  dist: string;
  version: string;
  targets: Target[];
  /** the release tag (vX.Y.Z) this runs for, if any */
  tag?: string;
  /** also check the packages on the registry (scripts/lib/published.ts) */
  published?: boolean;
  registry?: string;
  /** with `published`: the npm token the script read, for a registry that wants one for reads */
  token?: string;
  /** with `published`: this dist-tag must point at the version on every package */
  distTag?: string;
  /** skip the npm install check per platform (a few seconds) */
  skipInstall?: boolean;
  /**
   * skip running the fingerprint corpus (a few seconds per target); the manifest's values are still compared across
   * targets
   */
  skipFingerprint?: boolean;
  /** where committed manifests live (a committed one for this version must equal dist's) */
  manifestsDir?: string;
}

export interface VerifyReport {
  ok: boolean;
  version: string;
  targets: string[];
  failures: Failure[];
  /** every check that ran, by group, with how many subjects it covered */
  checks: Record<string, number>;
  notes: string[];
  install?: InstallResult[];
  fingerprints?: Record<string, { digest: string; measuredHere: boolean }>;
  determinism?: DeterminismReport;
  published?: Array<{ target: string; package: string; status: string }>;
}

/** Collects failures and counts what was checked, so a report can say what passed. */
class Checks {
  failures: Failure[] = [];
  counts: Record<string, number> = {};
  notes: string[] = [];
  ran(check: string) {
    this.counts[check] = (this.counts[check] ?? 0) + 1;
  }
  fail(f: Failure) {
    this.ran(f.check);
    this.failures.push(f);
  }
  /** record a comparison: fails when actual !== expected */
  equal(check: string, subject: string, expected: unknown, actual: unknown, hint?: string) {
    this.ran(check);
    if (expected !== actual)
      this.failures.push({ check, subject, expected: String(expected), actual: String(actual), hint });
  }
  add(fs: Failure[], check?: string) {
    if (check) this.ran(check);
    this.failures.push(...fs);
  }
}

const rel = (dist: string, file: string) =>
  file.startsWith(dist + '/') ? `dist/${file.slice(dist.length + 1)}` : file;

export async function verifyArtifacts(opts: VerifyOptions): Promise<VerifyReport> {
  const { dist, version } = opts;
  const c = new Checks();
  const out = releaseDir(dist);
  const manifestFile = manifestPath(dist, version);

  // ---- versions: the pin (opts.version) against the tag and what is in dist/release
  if (opts.tag !== undefined)
    c.equal(
      'version-tag',
      `release tag ${opts.tag}`,
      `v${version}`,
      opts.tag,
      `the pin says ${version}: tag v${version}, or fix native/pin.json`,
    );
  if (existsSync(out)) {
    for (const name of await readdir(out)) {
      const v = assetVersion(name);
      const hint = 'regenerate dist/release with generate-manifest.ts';
      if (v !== undefined) c.equal('version-files', `dist/release/${name}`, version, v, hint);
    }
  }

  // ---- the manifest
  let manifest: Manifest | undefined;
  let manifestText: string | undefined;
  if (!existsSync(manifestFile)) {
    c.fail({
      check: 'manifest-present',
      subject: rel(dist, manifestFile),
      expected: 'the release manifest',
      actual: 'missing',
      hint: `npx tsx scripts/generate-manifest.ts --targets ${opts.targets.map((t) => t.name).join(',')}`,
    });
  } else {
    const read = readManifest(manifestFile, { label: rel(dist, manifestFile) });
    manifestText = read.text;
    if (read.error !== undefined) {
      c.fail({ check: 'manifest-json', subject: rel(dist, manifestFile), expected: 'JSON', actual: read.error });
    }
    // one that fails the schema is still checked field by field, so every other difference is reported too
    manifest = read.unchecked as Manifest | undefined;
    if (manifest && manifestText !== undefined) {
      c.add(read.failures, 'manifest-schema');
      c.equal(
        'manifest-canonical',
        `${rel(dist, manifestFile)} bytes`,
        'canonical JSON (sorted keys, 2-space indent, final newline)',
        manifestText === renderManifest(manifest)
          ? 'canonical JSON (sorted keys, 2-space indent, final newline)'
          : 'some other formatting',
        'regenerate it; never edit it by hand',
      );
      c.equal('version-manifest', `${rel(dist, manifestFile)} "version"`, version, manifest.version);
      // the agoric-sdk hand-off (generate-manifest.ts --handoff), if written, is the hand-off of this manifest
      c.add(handoffProblems(dist, manifestText, rel(dist, manifestFile)), 'handoff');
      const want = opts.targets
        .map((t) => t.name)
        .sort()
        .join(', ');
      const have = Object.keys(manifest.targets ?? {})
        .sort()
        .join(', ');
      c.equal(
        'manifest-targets',
        `${rel(dist, manifestFile)} targets`,
        want,
        have,
        'verify the targets the manifest was made for (--targets), or regenerate it',
      );
      for (const t of opts.targets) {
        const e = manifest.targets?.[t.name];
        if (!e) continue;
        c.equal('manifest-package', `${rel(dist, manifestFile)} targets.${t.name}.package`, t.packageName, e.package);
        c.equal(
          'manifest-tarball-name',
          `${rel(dist, manifestFile)} targets.${t.name}.tarball.name`,
          tarballName(t, version),
          e.tarball?.name,
        );
        for (const g of GOALS)
          c.equal(
            'manifest-path',
            `${rel(dist, manifestFile)} targets.${t.name}.${g}.path`,
            packageBinaryPath(g),
            e[g]?.path,
          );
      }
    }
  }
  const entryOf = (t: Target): ManifestTarget | undefined => manifest?.targets?.[t.name];

  // ---- SHA256SUMS: every shipped file listed, every listed file matching its bytes
  const sumsFile = sumsPath(dist);
  const shipped = [
    manifestName(version),
    bundleName(version),
    ...opts.targets.map((t) => tarballName(t, version)),
  ].sort();
  if (!existsSync(sumsFile)) {
    c.fail({
      check: 'sums-present',
      subject: rel(dist, sumsFile),
      expected: 'SHA256SUMS',
      actual: 'missing',
      hint: 'npx tsx scripts/generate-manifest.ts',
    });
  } else {
    const { entries, bad } = parseSums(await readFile(sumsFile, 'utf8'));
    for (const line of bad)
      c.fail({
        check: 'sums-format',
        subject: rel(dist, sumsFile),
        expected: '"<64 hex>  <file>" lines, each file once',
        actual: line,
      });
    c.equal(
      'sums-coverage',
      `${rel(dist, sumsFile)} file list`,
      shipped.join(', '),
      Object.keys(entries).sort().join(', '),
      'SHA256SUMS must list exactly the shipped files',
    );
    for (const [name, hex] of Object.entries(entries)) {
      const file = join(out, name);
      if (unsafePath(name) || name.includes('/')) {
        c.fail({
          check: 'sums-path',
          subject: `${rel(dist, sumsFile)}: ${name}`,
          expected: 'a bare file name',
          actual: name,
        });
        continue;
      }
      if (!existsSync(file)) {
        c.fail({
          check: 'sums-digest',
          subject: rel(dist, file),
          expected: `a file with sha256 ${hex}`,
          actual: 'missing',
        });
        continue;
      }
      c.equal(
        'sums-digest',
        `${rel(dist, file)} (listed in SHA256SUMS)`,
        hex,
        sha256Hex(await readFile(file)),
        'the file changed after SHA256SUMS was written',
      );
    }
    if (existsSync(out)) {
      for (const name of await readdir(out)) {
        const st = await lstat(join(out, name));
        if (!st.isFile())
          c.fail({
            check: 'release-asset-type',
            subject: `dist/release/${name}`,
            expected: 'a regular file',
            actual: st.isSymbolicLink() ? 'a symlink' : 'not a regular file',
          });
        if (name !== SUMS_NAME && name !== HANDOFF_NAME && !shipped.includes(name))
          c.fail({
            check: 'release-extra-file',
            subject: `dist/release/${name}`,
            expected: 'only the shipped files in dist/release',
            actual: 'an unlisted file',
            hint: 'remove it, or regenerate dist/release',
          });
      }
    }
  }

  // ---- per target: build output, the npm tarball and its copy, metadata, binaries
  const runners = new Map<string, string[] | null>();
  for (const t of opts.targets) runners.set(t.name, await hostRunner(t));
  const work = await mkdtemp(join(tmpdir(), 'xsnap-verify-'));
  try {
    await Promise.all(
      opts.targets.map((t) =>
        verifyTarget(t, { c, dist, version, entry: entryOf(t), manifest, runner: runners.get(t.name)!, work }),
      ),
    );

    // ---- the release bundle
    await verifyBundle({ c, dist, version, targets: opts.targets, manifest });
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  // ---- a committed manifest for this version must be this one
  const committed = join(opts.manifestsDir ?? MANIFESTS_DIR, manifestName(version));
  if (existsSync(committed) && manifestText !== undefined) {
    const text = await readFile(committed, 'utf8');
    c.equal(
      'committed-manifest',
      committed,
      `the bytes of ${rel(dist, manifestFile)} (sha256 ${sha256Hex(manifestText)})`,
      text === manifestText
        ? `the bytes of ${rel(dist, manifestFile)} (sha256 ${sha256Hex(manifestText)})`
        : `other bytes (sha256 ${sha256Hex(text)})`,
      'a released version never changes: find out which binary differs',
    );
  } else if (!existsSync(committed)) {
    c.notes.push(`no committed manifest ${committed} yet (generate-manifest.ts --save writes it at release)`);
  }

  // ---- behaviour fingerprint, measured here where possible, compared across targets
  const fingerprints = await verifyFingerprints({
    c,
    dist,
    targets: opts.targets,
    manifest,
    runners: opts.skipFingerprint ? new Map() : runners,
    skipped: opts.skipFingerprint,
  });
  if (opts.skipFingerprint)
    c.notes.push('fingerprint corpus not run here (--skip-fingerprint): manifest values compared across targets only');

  // ---- determinism corpus: the same doubles on every target and host
  const determinism = await verifyDeterminism({
    c,
    dist,
    targets: opts.targets,
    manifest,
    runners: opts.skipFingerprint ? new Map() : runners,
  });

  // ---- installability per platform
  let install: InstallResult[] | undefined;
  if (opts.skipInstall) {
    c.notes.push('installability not checked (--skip-install)');
  } else {
    const tarballs: Record<string, string> = {};
    const binaries: Record<string, Record<string, string>> = {};
    for (const t of opts.targets) {
      const file = tarballPath(dist, t, version);
      if (!existsSync(file)) continue;
      tarballs[t.packageName] = file;
      binaries[t.packageName] = Object.fromEntries(
        GOALS.map((g) => [g, entryOf(t)?.[g]?.sha256 ?? 'no manifest entry']),
      );
    }
    if (Object.keys(tarballs).length) {
      log.info(`installing the tarballs as each of ${platformsFor(opts.targets).length} platforms`);
      const r = await checkInstallability({ tarballs, platforms: platformsFor(opts.targets), binaries });
      c.add(r.failures, 'installability');
      install = r.results;
    }
  }

  // ---- the registry
  let published: VerifyReport['published'];
  if (opts.published)
    published = await checkRegistry(c, {
      dist,
      version,
      targets: opts.targets,
      registry: opts.registry,
      distTag: opts.distTag,
      token: opts.token,
    });

  return {
    ok: c.failures.length === 0,
    version,
    targets: opts.targets.map((t) => t.name),
    failures: c.failures,
    checks: c.counts,
    notes: c.notes,
    install,
    fingerprints,
    determinism,
    published,
  };
}

/** The agoric-sdk gate's registry checks (scripts/lib/published.ts), recorded in `c`. */
async function checkRegistry(
  c: Checks,
  o: {
    dist: string;
    version: string;
    targets: Target[];
    registry?: string;
    distTag?: string;
    manifestFile?: string;
    token?: string;
  },
): Promise<VerifyReport['published']> {
  const registry = o.registry ?? process.env.npm_config_registry ?? 'https://registry.npmjs.org/';
  log.info(`checking the published packages on ${registry}`);
  try {
    const r = await verifyPublished({
      dist: o.dist,
      version: o.version,
      targets: o.targets,
      registry,
      tag: o.distTag,
      manifestFile: o.manifestFile,
      token: o.token,
    });
    c.add(r.failures, 'published');
    // when a fresh release becomes installable with Yarn's and pnpm's release-age settings
    for (const p of r.packages) if (p.status === 'ok') c.notes.push(ageLine(p.package, o.version, p.publishedAt));
    return r.packages;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const failures = (e as { failures?: Failure[] }).failures;
    if (Array.isArray(failures)) c.add(failures, 'published');
    else
      c.fail({
        check: 'published',
        subject: `the packages on ${registry}`,
        expected: 'readable from the registry',
        actual: (e as Error).message.split('\n')[0],
      });
    return undefined;
  }
}

/**
 * The gate with nothing but a manifest (the one attached to the GitHub Release):
 * every package of the set is on the registry at its version with the
 * manifest's tarball integrity and binaries. What agoric-sdk runs before
 * publishing @agoric/xsnap@X.Y.Z; no build output needed.
 */
export async function verifyRegistryOnly(opts: {
  manifestFile: string;
  targets: Target[];
  registry?: string;
  distTag?: string;
  tag?: string;
  token?: string;
}): Promise<VerifyReport> {
  const c = new Checks();
  const read = readManifest(opts.manifestFile);
  if (read.error !== undefined) {
    throw new UsageError(`manifest ${opts.manifestFile} cannot be read as JSON: ${read.error.split('\n')[0]}`);
  }
  const version = checkVersion(read.unchecked?.version, `manifest ${opts.manifestFile}`);
  c.add(read.failures, 'manifest-schema');
  if (opts.tag !== undefined)
    c.equal('version-tag', `release tag ${opts.tag}`, `v${version}`, opts.tag, `the manifest is for ${version}`);
  const published = await checkRegistry(c, {
    dist: dirname(opts.manifestFile),
    version,
    targets: opts.targets,
    registry: opts.registry,
    distTag: opts.distTag,
    manifestFile: opts.manifestFile,
    token: opts.token,
  });
  return {
    ok: c.failures.length === 0,
    version,
    targets: opts.targets.map((t) => t.name),
    failures: c.failures,
    checks: c.counts,
    notes: c.notes,
    published,
  };
}

// ------------------------------------------------------------------ one target

interface TargetContext {
  c: Checks;
  dist: string;
  version: string;
  entry: ManifestTarget | undefined;
  manifest: Manifest | undefined;
  runner: string[] | null;
  work: string;
}

async function verifyTarget(t: Target, x: TargetContext): Promise<void> {
  const { c, dist, version, entry } = x;
  const label = t.name;

  // build output: its record and its bytes
  let distBinaries: Partial<Record<string, Buffer>> = {};
  try {
    const info = await readBuildInfo(dist, t.name);
    c.equal(
      'version-build',
      `dist/${t.name}/build-info.json version`,
      version,
      info.version,
      `rebuild: npx tsx scripts/build-target.ts --target ${t.name}`,
    );
    c.equal(
      'releasable',
      `dist/${t.name}/build-info.json releasable`,
      true,
      info.releasable,
      `a host-toolchain or local-folder build never ships: npx tsx scripts/build-target.ts --target ${t.name}`,
    );
    for (const g of GOALS) {
      const file = binaryPath(dist, t.name, g);
      if (!existsSync(file)) {
        c.fail({
          check: 'binary-present',
          subject: rel(dist, file),
          expected: 'a file',
          actual: 'missing',
          hint: `npx tsx scripts/build-target.ts --target ${t.name}`,
        });
        continue;
      }
      const data = await readFile(file);
      distBinaries[g] = data;
      const sha = sha256Hex(data);
      c.equal(
        'build-output-digest',
        `${rel(dist, file)} against build-info.json`,
        info.binaries[g]?.sha256,
        sha,
        'the build output changed after it was built: rebuild',
      );
      if (entry)
        c.equal(
          'binary-digest',
          `${rel(dist, file)} against the manifest (targets.${t.name}.${g}.sha256)`,
          entry[g]?.sha256,
          sha,
        );
      if (entry) c.equal('binary-size', `${rel(dist, file)} size against the manifest`, entry[g]?.size, data.length);
      const r = await checkBinary(file, t, `${label} ${g}`, { version, runner: x.runner });
      c.add(
        r.failures.map((f) => ({ ...f, subject: f.subject.replace(dist + '/', 'dist/') })),
        'binary-header',
      );
    }
    if (entry && x.manifest) {
      c.equal(
        'manifest-source',
        `targets.${t.name}: source of dist/${t.name}/build-info.json`,
        canonicalJson(x.manifest.source, 0),
        canonicalJson(info.source, 0),
        "every target must be built from the manifest's source",
      );
    }
  } catch (e) {
    c.fail({
      check: 'build-output',
      subject: `dist/${t.name}`,
      expected: 'build-info.json and binaries',
      actual: (e as Error).message.split('\n')[0],
      hint: `npx tsx scripts/build-target.ts --target ${t.name}`,
    });
  }

  // the npm tarball, and its copy among the release assets
  const name = tarballName(t, version);
  const file = tarballPath(dist, t, version);
  if (!existsSync(file)) {
    c.fail({
      check: 'tarball-present',
      subject: rel(dist, file),
      expected: 'the packed npm tarball',
      actual: 'missing',
      hint: `npx tsx scripts/stage-packages.ts --targets ${t.name}`,
    });
    return;
  }
  const data = await readFile(file);
  if (entry?.tarball) {
    c.ran('tarball-integrity');
    if (!matchesIntegrity(data, entry.tarball.integrity))
      c.fail({
        check: 'tarball-integrity',
        subject: `${rel(dist, file)} against the manifest (targets.${t.name}.tarball.integrity)`,
        expected: entry.tarball.integrity,
        actual: sriSha512(data),
      });
    c.equal('tarball-size', `${rel(dist, file)} size against the manifest`, entry.tarball.size, data.length);
  }
  const copy = join(releaseDir(dist), name);
  if (existsSync(copy)) {
    const copyData = await readFile(copy);
    c.equal(
      'tarball-copy',
      `${rel(dist, copy)} against ${rel(dist, file)}`,
      `sha256 ${sha256Hex(data)}`,
      `sha256 ${sha256Hex(copyData)}`,
      'the release asset differs from the tarball that gets published',
    );
  }

  let entries: TarEntry[];
  try {
    entries = await readTarEntries(data);
  } catch (e) {
    c.fail({
      check: 'tarball-readable',
      subject: rel(dist, file),
      expected: 'a gzipped tar',
      actual: (e as Error).message,
    });
    return;
  }
  const allowed = new Set(allowedPackageFiles());
  const seen = new Map<string, TarEntry>();
  for (const en of entries) {
    const subject = `${rel(dist, file)}: ${en.path}`;
    const unsafe = unsafePath(en.path);
    if (unsafe) {
      c.fail({
        check: 'tarball-path',
        subject,
        expected: 'a relative path under package/',
        actual: unsafe,
        hint: 'a path escape: never unpack this tarball',
      });
      continue;
    }
    if (en.type !== 'File') {
      c.fail({
        check: 'tarball-entry-type',
        subject,
        expected: 'a regular file',
        actual:
          en.type === 'SymbolicLink' || en.type === 'Link'
            ? `${en.type === 'Link' ? 'hard link' : 'symlink'} to ${en.linkpath}`
            : en.type,
      });
      continue;
    }
    if (!en.path.startsWith('package/')) {
      c.fail({ check: 'tarball-path', subject, expected: 'under package/', actual: en.path });
      continue;
    }
    const inner = en.path.slice('package/'.length);
    if (!allowed.has(inner)) {
      c.fail({
        check: 'tarball-extra-file',
        subject,
        expected: `only ${[...allowed].join(', ')}`,
        actual: `an extra file ${inner}`,
      });
      continue;
    }
    if (seen.has(inner))
      c.fail({ check: 'tarball-duplicate', subject, expected: 'each file once', actual: 'listed twice' });
    seen.set(inner, en);
  }
  c.ran('tarball-files');
  for (const want of allowed)
    if (!seen.has(want))
      c.fail({
        check: 'tarball-files',
        subject: `${rel(dist, file)}: package/${want}`,
        expected: 'present',
        actual: 'missing',
      });

  // package.json inside the tarball
  const pj = seen.get('package.json');
  if (pj) {
    let pkg: Record<string, unknown> | undefined;
    try {
      pkg = JSON.parse(pj.data.toString('utf8'));
    } catch (e) {
      c.fail({
        check: 'package-json',
        subject: `${rel(dist, file)}: package/package.json`,
        expected: 'JSON',
        actual: (e as Error).message,
      });
    }
    if (pkg) {
      const s = (field: string) => `${rel(dist, file)}: package.json "${field}"`;
      c.equal('package-name', s('name'), t.packageName, pkg.name);
      c.equal('version-package', s('version'), version, pkg.version, 'restage: npx tsx scripts/stage-packages.ts');
      c.equal('package-os', s('os'), JSON.stringify([t.os]), JSON.stringify(pkg.os));
      c.equal('package-cpu', s('cpu'), JSON.stringify([t.cpu]), JSON.stringify(pkg.cpu));
      c.equal('package-libc', s('libc'), JSON.stringify(t.libc ? [t.libc] : undefined), JSON.stringify(pkg.libc));
      c.equal('package-license', s('license'), LICENSE_EXPRESSION, pkg.license);
      // an allow-list, not a deny-list: npm acts on keys we never thought of (directories.bin links a bin)
      const template = templatePackageJson(t);
      for (const field of Object.keys(pkg)) {
        c.ran('package-no-scripts');
        if (!(field in template))
          c.fail({
            check: 'package-no-scripts',
            subject: s(field),
            expected:
              `only ${Object.keys(template).join(', ')}: a platform package runs nothing, ` +
              `links nothing and pulls in nothing at install`,
            actual: JSON.stringify(pkg[field]),
          });
      }
      c.equal(
        'package-no-scripts',
        s('publishConfig'),
        JSON.stringify(template.publishConfig),
        JSON.stringify(pkg.publishConfig),
      );
    }
  }
  // the notice must name the manifest's exact source revisions
  const notice = seen.get(NOTICE_FILE);
  if (notice && x.manifest?.source) {
    const text = notice.data.toString('utf8');
    for (const commit of [x.manifest.source.moddableCommit, x.manifest.source.xsnapNativeCommit]) {
      c.equal(
        'package-notice',
        `${rel(dist, file)}: package/${NOTICE_FILE}`,
        `names source revision ${commit}`,
        text.includes(commit) ? `names source revision ${commit}` : 'does not name it',
      );
    }
  }
  // the binaries inside the tarball: bytes, mode, header, and run them
  for (const g of GOALS) {
    const en = seen.get(packageBinaryPath(g));
    if (!en) continue;
    const subject = `${rel(dist, file)}: package/${packageBinaryPath(g)}`;
    const sha = sha256Hex(en.data);
    if (entry)
      c.equal(
        'tarball-binary-digest',
        `${subject} against the manifest (targets.${t.name}.${g}.sha256)`,
        entry[g]?.sha256,
        sha,
      );
    const d = distBinaries[g];
    if (d)
      c.equal(
        'tarball-binary-digest',
        `${subject} against ${rel(dist, binaryPath(dist, t.name, g))}`,
        `sha256 ${sha256Hex(d)}`,
        `sha256 ${sha}`,
      );
    c.ran('tarball-binary-mode');
    if ((en.mode & 0o111) !== 0o111)
      c.fail({
        check: 'tarball-binary-mode',
        subject,
        expected: 'executable (mode 0755)',
        actual: `mode ${(en.mode & 0o777).toString(8)}: lost its execute bit`,
      });
    const tmp = join(x.work, `${t.name}-${g}`);
    await writeFile(tmp, en.data);
    await chmod(tmp, 0o755);
    const r = await checkBinary(tmp, t, `${t.name} ${g} in ${name}`, { version, runner: x.runner });
    c.add(
      r.failures.map((f) => ({ ...f, subject: f.subject.replace(`(${tmp})`, `(${subject})`) })),
      'tarball-binary-header',
    );
  }
}

// ------------------------------------------------------------------ bundle

async function verifyBundle(x: {
  c: Checks;
  dist: string;
  version: string;
  targets: Target[];
  manifest: Manifest | undefined;
}): Promise<void> {
  const { c, dist, version } = x;
  const file = bundlePath(dist, version);
  if (!existsSync(file)) {
    c.fail({
      check: 'bundle-present',
      subject: rel(dist, file),
      expected: 'the release bundle',
      actual: 'missing',
      hint: 'npx tsx scripts/generate-manifest.ts',
    });
    return;
  }
  const data = await readFile(file);
  let entries: TarEntry[];
  try {
    entries = await readTarEntries(data);
  } catch (e) {
    c.fail({
      check: 'bundle-readable',
      subject: rel(dist, file),
      expected: 'a gzipped tar',
      actual: (e as Error).message,
      hint: 'the bundle is corrupt: regenerate it',
    });
    return;
  }
  const names = x.targets.map((t) => t.name);
  const layout = bundleLayout(names);
  const found: string[] = [];
  const files = new Map<string, Buffer>();
  for (const en of entries) {
    const subject = `${rel(dist, file)}: ${en.path}`;
    const unsafe = unsafePath(en.path);
    if (unsafe) {
      c.fail({ check: 'bundle-path', subject, expected: 'a relative path under dist/', actual: unsafe });
      continue;
    }
    if (en.type !== 'File' && en.type !== 'Directory') {
      c.fail({
        check: 'bundle-entry-type',
        subject,
        expected: 'a regular file or directory',
        actual: en.linkpath ? `${en.type} to ${en.linkpath}` : en.type,
      });
      continue;
    }
    const p = en.type === 'Directory' && !en.path.endsWith('/') ? en.path + '/' : en.path;
    found.push(p);
    const wantMode = en.type === 'Directory' ? BUNDLE_DIR_MODE : BUNDLE_FILE_MODE;
    c.equal(
      'bundle-metadata',
      `${subject} mode/owner/mtime`,
      `mode ${wantMode.toString(8)}, 0:0, mtime 0`,
      `mode ${(en.mode & 0o7777).toString(8)}, ${en.uid}:${en.gid}, mtime ${en.mtime}`,
    );
    if (en.type === 'File') files.set(p, en.data);
  }
  c.equal(
    'bundle-layout',
    `${rel(dist, file)} entries`,
    layout.join(', '),
    found.join(', '),
    'the bundle must hold dist/<target>/{release,debug}/xsnap-worker for each target, sorted, nothing else',
  );
  for (const t of x.targets) {
    for (const g of GOALS) {
      const p = bundleBinaryPath(t.name, g);
      const d = files.get(p);
      const want = x.manifest?.targets?.[t.name]?.[g]?.sha256;
      if (d && want)
        c.equal(
          'bundle-binary-digest',
          `${rel(dist, file)}: ${p} against the manifest (targets.${t.name}.${g}.sha256)`,
          want,
          sha256Hex(d),
        );
    }
  }
  // re-derive: the bundle made from the binaries in dist must be these exact bytes
  const fromDist = new Map<string, Buffer>();
  for (const t of x.targets)
    for (const g of GOALS) {
      const f = binaryPath(dist, t.name, g);
      if (existsSync(f)) fromDist.set(bundleBinaryPath(t.name, g), await readFile(f));
    }
  if (fromDist.size === x.targets.length * GOALS.length) {
    const again = makeBundle(fromDist);
    c.equal(
      'bundle-reproducible',
      `${rel(dist, file)} against a bundle made now from dist/<target>/`,
      `sha256 ${sha256Hex(again)}`,
      `sha256 ${sha256Hex(data)}`,
      'the bundle is not what these binaries give: regenerate it',
    );
  }
}

// ------------------------------------------------------------------ fingerprint

async function verifyFingerprints(x: {
  c: Checks;
  dist: string;
  targets: Target[];
  manifest: Manifest | undefined;
  runners: Map<string, string[] | null>;
  skipped?: boolean;
}): Promise<VerifyReport['fingerprints']> {
  const { c, dist } = x;
  const out: NonNullable<VerifyReport['fingerprints']> = {};
  const all: Record<string, Fingerprint> = {};
  for (const t of x.targets) {
    const recorded = x.manifest?.targets?.[t.name]?.fingerprint;
    const runner = x.runners.get(t.name);
    const bin = binaryPath(dist, t.name, 'release');
    if (runner && existsSync(bin)) {
      log.info(
        `${t.name}: running the fingerprint corpus${runner.length ? ` under ${runner[0].split('/').pop()}` : ''}`,
      );
      const m = await measureFingerprint(bin, runner, `${t.name} release binary (${rel(dist, bin)})`);
      c.add(m.failures, 'fingerprint');
      if (m.fingerprint) {
        all[t.name] = m.fingerprint;
        out[t.name] = { digest: m.fingerprint.digest, measuredHere: true };
        if (recorded) {
          c.equal(
            'fingerprint',
            `${t.name}: fingerprint measured here against the manifest (targets.${t.name}.fingerprint.digest)`,
            recorded.digest,
            m.fingerprint.digest,
            'this binary behaves differently from what the manifest recorded',
          );
          for (const [w, rec] of Object.entries(recorded.workloads ?? {})) {
            const now = m.fingerprint.workloads[w];
            if (!now || canonicalJson(now, 0) !== canonicalJson(rec, 0))
              c.fail({
                check: 'fingerprint',
                subject: `${t.name}: workload ${w}`,
                expected: canonicalJson(rec, 0),
                actual: now ? canonicalJson(now, 0) : 'not run',
              });
          }
        }
      }
    } else if (recorded) {
      all[t.name] = recorded;
      out[t.name] = { digest: recorded.digest, measuredHere: false };
      if (!x.skipped) c.notes.push(`${t.name} cannot run here: its fingerprint is compared through the manifest`);
    }
  }
  if (Object.keys(all).length > 1) c.add(compareFingerprints(all), 'fingerprint-across-targets');
  return out;
}

// ------------------------------------------------------------------ determinism

export interface DeterminismReport {
  profile: MathProfile;
  targets: Record<string, { results: number; seconds?: number; measuredHere: boolean; timeZoneDependent: boolean }>;
  /** linux-x64 at the glibc floor against this host's glibc: null when not run here */
  hostIndependence: { results: number; differingFamilies: string[] } | null;
  /** host-dependent and known differences: reported, not failed */
  reported: string[];
}

/**
 * Run the determinism corpus on every release binary this host can run (the
 * manifest's seed and size), compare each with the manifest and all targets
 * with each other; for linux-x64 also at the glibc floor (the build root's
 * glibc) against this host's glibc. Under the "system" profile, libm families
 * that differ are reported as host-dependent; every other difference fails.
 */
async function verifyDeterminism(x: {
  c: Checks;
  dist: string;
  targets: Target[];
  manifest: Manifest | undefined;
  runners: Map<string, string[] | null>;
}): Promise<DeterminismReport | undefined> {
  const { c, dist } = x;
  const recordedProfiles = Object.fromEntries(
    x.targets.flatMap((t) => {
      const p = x.manifest?.targets?.[t.name]?.math?.profile;
      return p ? [[t.name, p]] : [];
    }),
  );
  const common = commonProfile(recordedProfiles, "the manifest's targets.<target>.math.profile");
  if ('failure' in common) {
    c.fail(common.failure);
    return undefined;
  }
  const profile = common.profile;
  const report: DeterminismReport = { profile, targets: {}, hostIndependence: null, reported: [] };
  const measured: Measured[] = [];
  const record = (diffs: ReturnType<typeof diffDeterminism>, a: string, b: string, check: string) => {
    const r = differencesToFailures(diffs, a, b, check);
    c.add(r.failures, check);
    report.reported.push(...r.reports);
  };
  for (const t of x.targets) {
    const recorded: DeterminismRecord | undefined = x.manifest?.targets?.[t.name]?.determinism;
    const runner = x.runners.get(t.name);
    const bin = binaryPath(dist, t.name, 'release');
    if (runner && existsSync(bin)) {
      log.info(
        `${t.name}: running the determinism corpus${runner.length ? ` under ${runner[0].split('/').pop()}` : ''}`,
      );
      try {
        const run = await runDeterminism(
          bin,
          runner,
          recorded ? { seed: recorded.seed, perFamily: recorded.perFamily } : {},
        );
        const here: Measured = { label: `${t.name} (here)`, record: run.record, raw: run.raw };
        measured.push({ ...here, label: t.name });
        report.targets[t.name] = {
          results: totalResults(run.record),
          seconds: Math.round(run.seconds * 10) / 10,
          measuredHere: true,
          timeZoneDependent: run.record.timeZoneDependent,
        };
        if (recorded)
          record(
            diffDeterminism({ label: `${t.name} (manifest)`, record: recorded }, here, profile),
            `${t.name} (manifest)`,
            `${t.name} (here)`,
            'determinism',
          );
        else c.ran('determinism');
        if (t.floor?.kind === 'glibc' && t.floor.determinismAtFloor && runner.length === 0) {
          const floor = await glibcFloorRunner();
          if (!floor)
            c.notes.push('determinism at the glibc floor not checked: no build root here (build-target.ts makes it)');
          else if (!readElf(await readFile(bin)).interpreter)
            c.notes.push(
              `determinism at the glibc floor not checked: ${rel(dist, bin)} is statically linked (no glibc to vary)`,
            );
          else {
            log.info(`${t.name}: running the determinism corpus at the glibc floor (the build root's glibc)`);
            const low = await runDeterminism(bin, floor, { seed: run.record.seed, perFamily: run.record.perFamily });
            const diffs = diffDeterminism(
              { label: `${t.name} (host glibc)`, record: run.record, raw: run.raw },
              { label: `${t.name} (glibc floor)`, record: low.record, raw: low.raw },
              profile,
            );
            record(diffs, `${t.name} (host glibc)`, `${t.name} (glibc floor)`, 'determinism-host-independence');
            report.hostIndependence = {
              results: totalResults(low.record),
              differingFamilies: diffs.map((d) => d.family),
            };
          }
        }
      } catch (e) {
        c.fail({
          check: 'determinism',
          subject: `${t.name} release binary (${rel(dist, bin)})`,
          expected: 'the determinism corpus runs to completion',
          actual: (e as Error).message.split('\n')[0],
        });
      }
    } else if (recorded) {
      measured.push({ label: t.name, record: recorded });
      report.targets[t.name] = {
        results: totalResults(recorded),
        measuredHere: false,
        timeZoneDependent: recorded.timeZoneDependent,
      };
    } else if (x.manifest) {
      c.fail({
        check: 'determinism',
        subject: `${t.name}: the manifest (targets.${t.name}.determinism)`,
        expected: 'determinism digests',
        actual: 'none',
        hint: 'regenerate the manifest: npx tsx scripts/generate-manifest.ts',
      });
    }
  }
  const across = compareAcrossTargets(measured, profile);
  measured.slice(1).forEach(() => c.ran('determinism-across-targets')); // one comparison per target after the first
  c.add(across.failures);
  report.reported.push(...across.reports);
  if (Object.values(report.targets).some((t) => t.timeZoneDependent))
    c.notes.push(
      "the worker depends on the host's time zone: Date's local-time methods give other results " +
        'under another TZ (agoric-sdk runs workers with TZ fixed)',
    );
  report.reported.forEach((r) => c.notes.push(r));
  return report;
}
