#!/usr/bin/env -S npx tsx
// Delivery verification: install the published set from a registry with npm,
// Yarn 4 and pnpm 10 (for this host, or for other platforms), check that each
// installs exactly the right platform package with our bytes and execute bits,
// run `-v`, and run the determinism corpus on the installed binary against the
// manifest's digests. What .github/workflows/delivery.yml runs on each
// target's own runner.
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCommand, stringFlag } from './lib/core/cli.ts';
import { CheckFailed, UsageError } from './lib/core/errors.ts';
import { PACKAGE_MANAGERS, type PackageManager, type Platform } from './lib/ci/delivery.ts';
import { checkDelivery, deliveryTable, type DeliveryManifest } from './lib/ci/delivery-check.ts';
import { normaliseRegistry, PUBLIC_REGISTRY } from './lib/core/npm-client.ts';
import { readManifest } from './lib/core/manifest.ts';
import { manifestName } from './lib/core/layout.ts';
import { checkVersion } from './lib/core/pin.ts';
import { TARGETS } from './lib/core/targets.ts';
import { latestOfSet } from './lib/ci/delivery.ts';
import { MANIFESTS_DIR } from './lib/core/paths.ts';

function parsePlatform(s: string): Platform | 'host' {
  if (s === 'host') return 'host';
  const m = /^(linux|darwin)-(x64|arm64)(?:-(glibc|musl))?$/.exec(s);
  if (!m) throw new UsageError(`platform "${s}" is not host or <linux|darwin>-<x64|arm64>[-<glibc|musl>]`);
  return { os: m[1], cpu: m[2], ...(m[1] === 'linux' ? { libc: m[3] ?? 'glibc' } : {}) };
}

await runCommand(
  {
    name: 'check-delivery.ts',
    summary:
      'install the published set with npm, Yarn and pnpm, check what each installs, run it, compare the determinism digests with the manifest',
    usage:
      'npx tsx scripts/check-delivery.ts (--manifest xsnap-worker-manifest-X.Y.Z.json | --version X.Y.Z|latest) [--registry url] [--pm npm,yarn,pnpm] [--platforms host,linux-arm64,linux-x64-musl] [--npm-lockfile-from linux-x64] [--determinism] [--keep dir]',
    options: [
      {
        name: 'manifest',
        type: 'string',
        valueName: 'file',
        description:
          "the release manifest (the GitHub Release asset): version, packages, binaries' sha256, determinism digests",
      },
      {
        name: 'version',
        type: 'string',
        valueName: 'X.Y.Z|latest',
        description: `instead of --manifest: the committed manifests/xsnap-worker-manifest-X.Y.Z.json; latest: the version the registry's latest dist-tag names on every package of the set`,
      },
      {
        name: 'manifests-dir',
        type: 'string',
        valueName: 'dir',
        description: 'with --version: where the committed release manifests are',
        default: 'manifests',
      },
      {
        name: 'registry',
        type: 'string',
        valueName: 'url',
        description: 'registry to install from',
        default: PUBLIC_REGISTRY,
      },
      {
        name: 'pm',
        type: 'string',
        valueName: 'list',
        description: `package managers (${PACKAGE_MANAGERS.join(', ')})`,
        default: 'all three',
      },
      {
        name: 'platforms',
        type: 'string',
        valueName: 'list',
        description:
          'platforms to install for: host (this machine, no override) or os-cpu[-libc] (npm --os/--cpu/--libc; Yarn and pnpm supportedArchitectures)',
        default: 'host',
      },
      {
        name: 'npm-lockfile-from',
        type: 'string',
        valueName: 'os-cpu[-libc]',
        description:
          'npm: make the lockfile for this platform first, then npm ci from it for each platform (a lockfile made on linux-x64 installed on arm64)',
      },
      {
        name: 'yarn-default-age-gate',
        type: 'boolean',
        description:
          'Yarn: keep its default npmMinimalAgeGate (1440 minutes): a set younger than a day is then refused ("quarantined")',
      },
      {
        name: 'pnpm-minimum-release-age',
        type: 'string',
        valueName: 'minutes',
        description: 'pnpm: set minimumReleaseAge (off by default in pnpm 10)',
      },
      {
        name: 'determinism',
        type: 'boolean',
        description:
          "run the determinism corpus (the manifest's seed and size) on the installed release " +
          "binary of this host's target and compare every family with the manifest",
      },
      {
        name: 'corpus',
        type: 'string',
        valueName: 'file',
        description:
          "with --determinism: the corpus the release was measured with (its digest must be the manifest's " +
          "corpusDigest); default: the one kept in <manifests-dir>/determinism-corpus/, today's if it is the " +
          "same, or the repository's history of corpus.js",
      },
      {
        name: 'keep',
        type: 'string',
        valueName: 'dir',
        description: 'install into <dir>/<pm>-<platform> and keep it (default: a temporary folder, removed)',
      },
    ],
    details: `
Each install is a fresh project depending on every package of the manifest as an
optionalDependency at exactly X.Y.Z (agoric-sdk's plan of record). Yarn runs with
npmMinimalAgeGate 0 unless --yarn-default-age-gate: Yarn 4 refuses versions
younger than 24 hours by default, so a just-published set is not installable with
Yarn's defaults for a day (the gate, verify-artifacts.ts --published, prints when
each package leaves that window).
Checks per package manager and platform: the install succeeds; exactly the
platform's package is installed (none for musl); both binaries have the
manifest's sha256 and execute bits; the release binary reports xsnap X.Y.Z with
-v when this host can run it (linux-arm64 under qemu). --determinism: the corpus
the release was measured with (corpusDigest; --corpus) on the installed release
binary against targets.<t>.determinism (under the
"system" math profile the libm families are host-dependent: reported, not failed).
The package managers get a minimal environment (no tokens) and no settings but
the project's; Yarn 4 and pnpm 10 come from tools/pm/ (bash scripts/setup.sh).`,
  },
  async (flags) => {
    const registry = normaliseRegistry(stringFlag(flags, 'registry') ?? PUBLIC_REGISTRY);
    const versionFlag = stringFlag(flags, 'version');
    if (Boolean(versionFlag) === Boolean(stringFlag(flags, 'manifest')))
      throw new UsageError('give --manifest <file> or --version X.Y.Z|latest (one of them)');
    // latest before the first release: the set was never published, so there is nothing to check yet
    const latest =
      versionFlag === 'latest'
        ? await latestOfSet(
            registry,
            TARGETS.map((t) => t.packageName),
          )
        : undefined;
    if (latest === null) {
      const text = `nothing released on ${registry} yet: no package of the set has been published, nothing to check`;
      return { json: { ok: true, released: false, registry }, text, summary: `### delivery\n\n${text}` };
    }
    const manifestFile =
      stringFlag(flags, 'manifest') ??
      join(
        resolve(stringFlag(flags, 'manifests-dir') ?? MANIFESTS_DIR),
        manifestName(latest ?? checkVersion(versionFlag, '--version')),
      );
    if (!existsSync(manifestFile))
      throw new UsageError(
        `${manifestFile} does not exist${
          versionFlag ? ' (commit the release manifest with ' + 'generate-manifest.ts --save)' : ''
        }`,
      );
    const read = readManifest(manifestFile);
    if (read.error !== undefined) throw new UsageError(`${manifestFile}: not JSON (${read.error})`);
    // not refused on the schema: the checks name what differs from what is installed
    const version = checkVersion(read.unchecked.version, `manifest ${manifestFile}`);
    const manifest: DeliveryManifest = { ...read.unchecked, version };
    const among = TARGETS.filter((t) => manifest.targets?.[t.name]);
    if (!among.length) throw new UsageError(`${manifestFile} lists no targets`);
    const pms = (stringFlag(flags, 'pm') ?? PACKAGE_MANAGERS.join(',')).split(',').map((p) => {
      if (!(PACKAGE_MANAGERS as readonly string[]).includes(p))
        throw new UsageError(`--pm: "${p}" is not one of ${PACKAGE_MANAGERS.join(', ')}`);
      return p as PackageManager;
    });
    const platforms = (stringFlag(flags, 'platforms') ?? 'host').split(',').map(parsePlatform);
    const lockFrom = stringFlag(flags, 'npm-lockfile-from');
    const lockPlatform = lockFrom ? parsePlatform(lockFrom) : undefined;
    if (lockPlatform === 'host') throw new UsageError('--npm-lockfile-from takes os-cpu[-libc]');
    const ageFlag = stringFlag(flags, 'pnpm-minimum-release-age');
    const pnpmAge = ageFlag === undefined ? undefined : Number(ageFlag);
    if (pnpmAge !== undefined && !(Number.isInteger(pnpmAge) && pnpmAge >= 0))
      throw new UsageError('--pnpm-minimum-release-age takes whole minutes');
    const keep = stringFlag(flags, 'keep');
    const root = keep ? resolve(keep) : await mkdtemp(join(tmpdir(), 'xsnap-delivery-'));
    try {
      const { rows, failures, determinism } = await checkDelivery({
        registry,
        version,
        manifest,
        manifestFile,
        among,
        pms,
        platforms,
        lockPlatform,
        root,
        yarnDefaultAgeGate: Boolean(flags['yarn-default-age-gate']),
        pnpmMinimumReleaseAge: pnpmAge,
        determinism: Boolean(flags.determinism),
        corpusFile: stringFlag(flags, 'corpus') ? resolve(stringFlag(flags, 'corpus')!) : undefined,
        manifestsDir: resolve(stringFlag(flags, 'manifests-dir') ?? MANIFESTS_DIR),
      });
      const table = deliveryTable(rows);
      if (failures.length) throw new CheckFailed(failures);
      return {
        json: { ok: true, version, registry, installs: rows, determinism },
        text: `${version} from ${registry}: ${rows.length} install(s) checked${
          determinism ? `, determinism ` + `corpus (${determinism.results} results) equals the manifest` : ''
        }\n${table}`,
        summary: `### delivery of ${version}\n\n${table}${
          determinism
            ? `\n\ndeterminism corpus on ${determinism.target}: ${determinism.results} results equal the manifest's digests`
            : ''
        }`,
      };
    } finally {
      if (!keep) await rm(root, { recursive: true, force: true });
    }
  },
);
