// What the registry holds, checked against our manifest: the agoric-sdk gate
// (verifyPublished) and publish-all's read-back both use checkPublishedPackage.
// Every fact comes from the registry's bytes: its packument's dist.integrity,
// the tarball downloaded and hashed here, and the binaries read out of it.
import { existsSync } from 'node:fs';
import { CheckFailed, UsageError, type Failure } from '../core/errors.ts';
import { matchesIntegrity, sha256Hex, sriSha512 } from '../core/hash.ts';
import { RegistryReader } from '../core/npm-client.ts';
import { manifestPath, packageBinaryPath } from '../core/layout.ts';
import { readManifest, type ManifestBinary, type ManifestTarget } from '../core/manifest.ts';
import { readTarballFiles } from '../core/tarball.ts';
import { GOALS, type Goal, type Target, type TargetName } from '../core/targets.ts';

/** The names of the checks a registry read reports (the gate, publish's read-back, staged approvals). */
export const PUBLISHED_CHECKS = [
  'manifest',
  'registry-read',
  'published',
  'tarball-download',
  'tarball-integrity',
  'tarball-bytes',
  'binary-present',
  'binary-sha256',
  'binary-mode',
  'package-json',
  'yanked',
  'dist-tag',
] as const;
export type PublishedCheckName = (typeof PUBLISHED_CHECKS)[number];

// ---------------------------------------------------------------- the manifest, as we need it

/** One target's entry of the manifest (manifest.ts), as the registry checks use it. */
export interface ManifestEntry {
  target: TargetName;
  package: ManifestTarget['package'];
  binaries: Record<Goal, Pick<ManifestBinary, 'path' | 'sha256'>>;
  tarball: Pick<ManifestTarget['tarball'], 'name' | 'integrity'> & Partial<Pick<ManifestTarget['tarball'], 'size'>>;
}

export interface ManifestSet {
  file: string;
  version: string;
  entries: ManifestEntry[];
  /** the targets of the set recorded as unmeasured: a rehearsal's manifest (manifest.ts, unmeasuredTargets) */
  unmeasured: TargetName[];
}

/**
 * Read the manifest (dist/release/xsnap-worker-manifest-X.Y.Z.json, or `file`,
 * e.g. the one attached to the GitHub Release), keeping the entries for `targets`.
 */
export function readManifestSet(
  dist: string,
  version: string,
  targets: readonly Target[],
  file = manifestPath(dist, version),
  opts: { options?: string } = {},
): ManifestSet {
  if (!existsSync(file)) {
    // name only the options the calling script has
    const options = opts.options ?? '--dist or --manifest';
    throw new UsageError(
      `manifest ${file} is missing: run \`npx tsx scripts/stage-packages.ts\` and \`npx tsx scripts/generate-manifest.ts\` first (or pass ${options})`,
    );
  }
  const read = readManifest(file);
  if (read.error !== undefined) throw new UsageError(`manifest ${file}: not valid JSON (${read.error})`);
  // only what publishing needs is required here: verify reports schema failures itself
  const raw = read.unchecked;
  const failures: Failure<PublishedCheckName>[] = [];
  const bad = (subject: string, expected: string, actual: unknown) =>
    failures.push({
      check: 'manifest',
      subject: `${file}: ${subject}`,
      expected,
      actual: JSON.stringify(actual),
      hint: 'regenerate it with scripts/generate-manifest.ts',
    });
  if (raw.version !== version) bad('version', version, raw.version);
  const entries: ManifestEntry[] = [];
  for (const t of targets) {
    const e = raw.targets?.[t.name];
    if (!e) {
      bad(`targets.${t.name}`, 'an entry for this target', undefined);
      continue;
    }
    if (e.package !== t.packageName) bad(`targets.${t.name}.package`, t.packageName, e.package);
    const binaries = {} as ManifestEntry['binaries'];
    for (const goal of GOALS) {
      const b = e[goal];
      if (typeof b?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(b.sha256))
        bad(`targets.${t.name}.${goal}.sha256`, '64 hex digits', b?.sha256);
      binaries[goal] = {
        path: typeof b?.path === 'string' ? b.path : packageBinaryPath(goal),
        sha256: String(b?.sha256),
      };
    }
    const tb = e.tarball;
    if (typeof tb?.integrity !== 'string' || !tb.integrity.startsWith('sha512-'))
      bad(`targets.${t.name}.tarball.integrity`, 'a sha512 SRI string', tb?.integrity);
    if (typeof tb?.name !== 'string') bad(`targets.${t.name}.tarball.name`, 'the tarball file name', tb?.name);
    entries.push({
      target: t.name,
      package: t.packageName,
      binaries,
      tarball: {
        name: String(tb?.name),
        integrity: String(tb?.integrity),
        size: typeof tb?.size === 'number' ? tb.size : undefined,
      },
    });
  }
  if (failures.length) throw new CheckFailed(failures);
  const unmeasured = targets.filter((t) => raw.targets?.[t.name]?.unmeasured !== undefined).map((t) => t.name);
  return { file, version, entries, unmeasured };
}

// ---------------------------------------------------------------- tarballs

/**
 * Bytes that claim to be `entry`'s tarball at `version` (downloaded from a
 * registry, or a staged version), checked against the manifest: integrity,
 * each binary's sha256 and mode, and package.json's name and version.
 */
export async function checkTarballBytes(
  data: Buffer,
  entry: ManifestEntry,
  version: string,
  subject: string,
  integrityHint: string,
): Promise<Failure<PublishedCheckName>[]> {
  const failures: Failure<PublishedCheckName>[] = [];
  if (!matchesIntegrity(data, entry.tarball.integrity)) {
    failures.push({
      check: 'tarball-bytes',
      subject,
      expected: entry.tarball.integrity,
      actual: sriSha512(data),
      hint: integrityHint,
    });
    return failures;
  }
  const files = await readTarballFiles(data);
  for (const goal of GOALS) {
    const want = entry.binaries[goal];
    const f = files.get(`package/${want.path}`);
    const where = `${subject}: package/${want.path}`;
    if (!f)
      failures.push({
        check: 'binary-present',
        subject: where,
        expected: 'a file',
        actual: 'missing from the tarball',
      });
    else {
      const got = sha256Hex(f.data);
      if (got !== want.sha256)
        failures.push({ check: 'binary-sha256', subject: where, expected: want.sha256, actual: got });
      if ((f.mode & 0o111) !== 0o111)
        failures.push({ check: 'binary-mode', subject: where, expected: '0755', actual: (f.mode & 0o777).toString(8) });
    }
  }
  const pj = files.get('package/package.json');
  const meta = pj ? (JSON.parse(pj.data.toString()) as { name?: string; version?: string }) : {};
  if (meta.name !== entry.package || meta.version !== version) {
    failures.push({
      check: 'package-json',
      subject: `${subject}: package/package.json`,
      expected: `${entry.package}@${version}`,
      actual: `${meta.name}@${meta.version}`,
    });
  }
  return failures;
}

// ---------------------------------------------------------------- one package on the registry

export type PublishedStatus =
  /** the version is there with our integrity and binaries */
  | 'ok'
  /** the registry has never seen this package */
  | 'no-package'
  /** the package exists, this version does not */
  | 'absent'
  /** this version exists with other bytes */
  | 'different'
  /** the registry's dist.integrity is ours but what it serves is not */
  | 'corrupt'
  | 'error';

export interface PublishedCheck {
  target: TargetName;
  package: string;
  status: PublishedStatus;
  /** the dist-tags as the registry reported them */
  distTags: Record<string, string>;
  /** what the registry says this version's integrity is, if it has the version */
  integrity?: string;
  /** the version's deprecation message: set by scripts/yank.ts (or npm deprecate) */
  deprecated?: string;
  /** when the registry says the version was published (ISO) */
  publishedAt?: string;
  failures: Failure<PublishedCheckName>[];
}

/**
 * What the registry holds for `entry` at `version`. With `download` (default),
 * an 'ok' also means the tarball was fetched, hashed, and its binaries match the
 * manifest's sha256.
 */
export async function checkPublishedPackage(
  reader: RegistryReader,
  entry: ManifestEntry,
  version: string,
  opts: { download?: boolean } = {},
): Promise<PublishedCheck> {
  const base = {
    target: entry.target,
    package: entry.package,
    distTags: {} as Record<string, string>,
    failures: [] as Failure<PublishedCheckName>[],
  };
  const subject = `${entry.package}@${version} on ${reader.registry}`;
  let doc;
  try {
    doc = await reader.packument(entry.package);
  } catch (e) {
    return {
      ...base,
      status: 'error',
      failures: [
        {
          check: 'registry-read',
          subject,
          actual: (e as Error).message,
          hint: 'check the registry URL and network, then re-run',
        },
      ],
    };
  }
  if (!doc)
    return {
      ...base,
      status: 'no-package',
      failures: [
        {
          check: 'published',
          subject,
          expected: 'published',
          actual: 'the package does not exist on the registry',
          hint: 'run scripts/publish-all.ts',
        },
      ],
    };
  const distTags = doc['dist-tags'];
  const v = doc.versions[version];
  if (!v)
    return {
      ...base,
      distTags,
      status: 'absent',
      failures: [
        {
          check: 'published',
          subject,
          expected: 'published',
          actual: `not published (versions: ${Object.keys(doc.versions).join(', ') || 'none'})`,
          hint: 'run scripts/publish-all.ts (a re-run finishes an interrupted release)',
        },
      ],
    };
  const integrity = v.dist.integrity;
  Object.assign(base, {
    ...(v.deprecated ? { deprecated: v.deprecated } : {}),
    ...(doc.time?.[version] ? { publishedAt: doc.time[version] } : {}),
  });
  if (integrity !== entry.tarball.integrity) {
    return {
      ...base,
      distTags,
      integrity,
      status: 'different',
      failures: [
        {
          check: 'tarball-integrity',
          subject,
          expected: entry.tarball.integrity,
          actual: integrity ?? `no integrity (shasum ${v.dist.shasum})`,
          hint: 'the registry holds other bytes under this version: a version can never be republished; release a new version',
        },
      ],
    };
  }
  if (opts.download === false) return { ...base, distTags, integrity, status: 'ok' };

  let data: Buffer;
  try {
    data = await reader.download(v.dist.tarball);
  } catch (e) {
    return {
      ...base,
      distTags,
      integrity,
      status: 'error',
      failures: [
        {
          check: 'tarball-download',
          subject,
          actual: (e as Error).message,
          hint: 're-run; if it persists the registry is not serving the tarball',
        },
      ],
    };
  }
  const failures = await checkTarballBytes(
    data,
    entry,
    version,
    `${subject}: ${v.dist.tarball}`,
    'the registry serves other bytes than its metadata claims',
  );
  return { ...base, distTags, integrity, status: failures.length ? 'corrupt' : 'ok', failures };
}

// ---------------------------------------------------------------- the agoric-sdk gate

/**
 * Every package of the set is on `registry` at `version` with the manifest's
 * tarball integrity, and its downloaded binaries match the manifest's sha256.
 * agoric-sdk publishes @agoric/xsnap@X.Y.Z only when this has no failures.
 * `tag`, when given, must also point at `version` on every package.
 * `manifestFile` reads that manifest instead of dist's (the registry-only gate).
 * `token` is the one the calling script read, for a registry that wants it for reads.
 */
export async function verifyPublished(opts: {
  dist: string;
  version: string;
  targets: Target[];
  registry: string;
  tag?: string;
  manifestFile?: string;
  token?: string;
}): Promise<{
  failures: Failure<PublishedCheckName>[];
  packages: Array<{ target: string; package: string; status: string; deprecated?: string; publishedAt?: string }>;
}> {
  const set = readManifestSet(opts.dist, opts.version, opts.targets, opts.manifestFile);
  const reader = new RegistryReader({ registry: opts.registry, token: opts.token });
  const checks = await Promise.all(set.entries.map((e) => checkPublishedPackage(reader, e, opts.version)));
  const failures = checks.flatMap((c) => c.failures);
  // a yanked version (scripts/yank.ts deprecates it) is never a release to build on
  for (const c of checks) {
    if (c.deprecated)
      failures.push({
        check: 'yanked',
        subject: `${c.package}@${opts.version} on ${reader.registry}`,
        expected: 'not deprecated',
        actual: `yanked: "${c.deprecated}"`,
        hint: 'this version was yanked: do not publish @agoric/xsnap at it; release a new version (RELEASING.md, "Yank")',
      });
  }
  if (opts.tag) {
    for (const c of checks) {
      if (c.status === 'ok' && c.distTags[opts.tag] !== opts.version) {
        failures.push({
          check: 'dist-tag',
          subject: `${c.package} on ${reader.registry}: dist-tag "${opts.tag}"`,
          expected: opts.version,
          actual: c.distTags[opts.tag] ?? 'not set',
          hint: 'the release was not finished: re-run scripts/publish-all.ts',
        });
      }
    }
  }
  return {
    failures,
    packages: checks.map((c) => ({
      target: c.target,
      package: c.package,
      status: c.status,
      ...(c.deprecated ? { deprecated: c.deprecated } : {}),
      ...(c.publishedAt ? { publishedAt: c.publishedAt } : {}),
    })),
  };
}
