// Delivery: the published set installed from a registry the way its users
// install it, with npm, Yarn 4 (agoric-sdk's package manager) and pnpm 10, for
// this host or for another platform (npm --os/--cpu/--libc, Yarn's and pnpm's
// supportedArchitectures), then checked: exactly the right platform package
// (none for musl), the execute bits, the binaries' sha256 against the manifest,
// `-v`, and the determinism corpus against the manifest's digests.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkHostVersion } from './delivery-run.ts';
import { CheckFailed, OperationError, type Failure } from '../core/errors.ts';
import { RegistryReader } from '../core/npm-client.ts';
import { minimalEnv, runRaw } from '../core/exec.ts';
import { sha256Hex } from '../core/hash.ts';
import { REPO_ROOT } from '../core/paths.ts';
import { packageBinaryPath } from '../core/layout.ts';
import { GOALS, hostLibc, TARGETS, type Target } from '../core/targets.ts';
import type { UncheckedManifest } from '../core/manifest.ts';

export const PACKAGE_MANAGERS = ['npm', 'yarn', 'pnpm'] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

/** Yarn 4 and pnpm 10, exact versions, installed apart (tools/pm/, own lockfile) by scripts/setup.sh. */
export const PM_DIR = join(REPO_ROOT, 'tools', 'pm');
const PM_ENTRY: Record<Exclude<PackageManager, 'npm'>, string> = {
  yarn: join(PM_DIR, 'node_modules', '@yarnpkg', 'cli-dist', 'bin', 'yarn.js'),
  pnpm: join(PM_DIR, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs'),
};

export function pmCommand(pm: PackageManager): string[] {
  if (pm === 'npm') return ['npm'];
  if (!existsSync(PM_ENTRY[pm]))
    throw new OperationError(
      `${pm} is not installed in ${PM_DIR}: run bash scripts/setup.sh (npm ci --prefix tools/pm)`,
    );
  return [process.execPath, PM_ENTRY[pm]];
}

export interface Platform {
  os: string;
  cpu: string;
  libc?: string;
}

export const platformLabel = (p: Platform) => `${p.os}-${p.cpu}${p.libc ? `-${p.libc}` : ''}`;

/** The target a platform gets, or null (musl, or nothing of ours fits). */
export function targetFor(p: Platform, among: readonly Target[] = TARGETS): Target | null {
  return among.find((t) => t.os === p.os && t.cpu === p.cpu && (!t.libc || (p.libc ?? 'glibc') === t.libc)) ?? null;
}

export function hostPlatform(): Platform {
  const libc = hostLibc();
  return { os: process.platform, cpu: process.arch, ...(libc ? { libc } : {}) };
}

export interface InstallRequest {
  pm: PackageManager;
  registry: string;
  version: string;
  /** the packages of the set: the project depends on each as an optionalDependency at exactly `version` */
  packages: string[];
  /** another platform than this host's; undefined: install for this host */
  platform?: Platform;
  /** Yarn: keep its default npmMinimalAgeGate (a just-published set is then refused) */
  yarnDefaultAgeGate?: boolean;
  /** pnpm: minimumReleaseAge in minutes (off when undefined) */
  pnpmMinimumReleaseAge?: number;
  /** npm: install from this lockfile (made on another platform) with npm ci */
  lockfile?: string;
  dir: string;
}

export interface InstallOutcome {
  pm: PackageManager;
  platform: string;
  code: number;
  /** @agoric/* packages that landed in node_modules */
  installed: string[];
  /** where each installed package's folder is (symlinks resolved) */
  paths: Record<string, string>;
  output: string;
}

/**
 * Install the set in a fresh project in `dir`. The package manager reads no
 * settings but the project's own (HOME is the project folder, npm's user and
 * global configs are empty files) and gets a minimal environment: no token.
 */
export async function installSet(req: InstallRequest): Promise<InstallOutcome> {
  const { pm, dir, platform } = req;
  await mkdir(dir, { recursive: true });
  const optionalDependencies = Object.fromEntries(req.packages.map((p) => [p, req.version]));
  const pj: Record<string, unknown> = {
    name: 'xsnap-delivery-check',
    version: '0.0.0',
    private: true,
    optionalDependencies,
  };
  const registry = req.registry.replace(/\/?$/, '/');
  const host = new URL(registry).hostname;
  const emptyUser = join(dir, '.empty-npmrc');
  const emptyGlobal = join(dir, '.empty-global-npmrc');
  await writeFile(emptyUser, '');
  await writeFile(emptyGlobal, '');
  const env = minimalEnv(
    { HOME: dir, XDG_CONFIG_HOME: join(dir, '.config'), XDG_CACHE_HOME: join(dir, '.cache'), NO_COLOR: '1', CI: '' },
    { ...process.env, HOME: dir },
  );
  let argv: string[];
  if (pm === 'npm') {
    const flags = platform
      ? [`--os=${platform.os}`, `--cpu=${platform.cpu}`, ...(platform.libc ? [`--libc=${platform.libc}`] : [])]
      : [];
    const common = [
      `--registry=${registry}`,
      `--userconfig=${emptyUser}`,
      `--globalconfig=${emptyGlobal}`,
      `--cache=${join(dir, '.npm-cache')}`,
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
    ];
    if (req.lockfile) {
      await writeFile(join(dir, 'package-lock.json'), await readFile(req.lockfile));
      argv = ['npm', 'ci', ...flags, ...common];
    } else argv = ['npm', 'install', ...flags, ...common];
  } else if (pm === 'yarn') {
    await writeFile(join(dir, 'yarn.lock'), '');
    const rc = [
      `npmRegistryServer: "${registry.replace(/\/$/, '')}"`,
      ...(registry.startsWith('http:') ? [`unsafeHttpWhitelist:\n  - "${host}"`] : []),
      'nodeLinker: node-modules',
      'enableTelemetry: false',
      'enableGlobalCache: false',
      'enableImmutableInstalls: false',
      `cacheFolder: "${join(dir, '.yarn-cache')}"`,
      ...(req.yarnDefaultAgeGate ? [] : ['npmMinimalAgeGate: 0']),
      ...(platform
        ? [
            `supportedArchitectures:\n  os: ["${platform.os}"]\n  cpu: ["${platform.cpu}"]${
              platform.libc ? `\n  ` + `libc: ["${platform.libc}"]` : ''
            }`,
          ]
        : []),
    ];
    await writeFile(join(dir, '.yarnrc.yml'), rc.join('\n') + '\n');
    argv = [...pmCommand('yarn'), 'install', '--mode=skip-build'];
  } else {
    if (platform)
      pj.pnpm = {
        supportedArchitectures: {
          os: [platform.os],
          cpu: [platform.cpu],
          ...(platform.libc ? { libc: [platform.libc] } : {}),
        },
      };
    await writeFile(join(dir, '.npmrc'), `registry=${registry}\n`);
    argv = [
      ...pmCommand('pnpm'),
      'install',
      '--ignore-scripts',
      `--store-dir=${join(dir, '.pnpm-store')}`,
      '--config.confirmModulesPurge=false',
      ...(req.pnpmMinimumReleaseAge !== undefined ? [`--config.minimum-release-age=${req.pnpmMinimumReleaseAge}`] : []),
    ];
  }
  await writeFile(join(dir, 'package.json'), JSON.stringify(pj, null, 2) + '\n');
  const r = await runRaw(argv, { cwd: dir, env, timeoutMs: 300_000, what: `${pm} install` });
  const scope = join(dir, 'node_modules', '@agoric');
  const installed = existsSync(scope) ? (await readdir(scope)).map((n) => `@agoric/${n}`).sort() : [];
  const paths: Record<string, string> = {};
  for (const p of installed) paths[p] = await realpath(join(dir, 'node_modules', p));
  return {
    pm,
    platform: platformLabel(platform ?? hostPlatform()),
    code: r.code,
    installed,
    paths,
    output: (r.stdout + r.stderr).trim(),
  };
}

/**
 * What an install must have produced: exactly the platform's package (or none),
 * each binary with its execute bit and the manifest's sha256, and the release
 * binary answering `-v` with the version when this host can run it.
 */
export async function checkOutcome(
  o: InstallOutcome,
  manifest: UncheckedManifest & { version: string },
  platform: Platform,
): Promise<Failure[]> {
  const failures: Failure[] = [];
  const subject = `${o.pm} install for ${o.platform}`;
  const among = TARGETS.filter((t) => manifest.targets?.[t.name]);
  const target = targetFor(platform, among);
  const want = target ? [target.packageName] : [];
  if (o.code !== 0) {
    failures.push({
      check: 'delivery-install',
      subject,
      expected: 'the install succeeds',
      actual: `exit ${o.code}: ${o.output.split('\n').slice(-6).join(' / ')}`,
    });
    return failures;
  }
  if (o.installed.join(',') !== want.join(',')) {
    failures.push({
      check: 'delivery-selection',
      subject,
      expected: want.length ? `exactly ${want.join(', ')}` : 'no package (none fits this platform)',
      actual: o.installed.join(', ') || 'nothing installed',
      hint: 'check os/cpu/libc of the platform packages',
    });
  }
  if (!target || !o.paths[target.packageName]) return failures;
  const entry = manifest.targets?.[target.name];
  for (const goal of GOALS) {
    const file = join(o.paths[target.packageName], packageBinaryPath(goal));
    const where = `${subject}: ${target.packageName}/${packageBinaryPath(goal)}`;
    if (!existsSync(file)) {
      failures.push({ check: 'delivery-binary', subject: where, expected: 'present', actual: 'missing' });
      continue;
    }
    const sha = sha256Hex(await readFile(file));
    const want = entry?.[goal]?.sha256;
    if (sha !== want) {
      failures.push({ check: 'delivery-sha256', subject: where, expected: `${want} (manifest)`, actual: sha });
    }
    if (((await stat(file)).mode & 0o111) !== 0o111)
      failures.push({
        check: 'delivery-mode',
        subject: where,
        expected: 'executable',
        actual: ((await stat(file)).mode & 0o777).toString(8),
      });
  }
  const release = join(o.paths[target.packageName], packageBinaryPath('release'));
  if (existsSync(release)) failures.push(...(await checkHostVersion(release, target, manifest.version, subject)));
  return failures;
}

/**
 * The version `latest` names on every package of the set (they must agree: a set is never partly moved), or null
 * when no package of the set was ever published.
 */
export async function latestOfSet(registry: string, packages: string[]): Promise<string | null> {
  const reader = new RegistryReader({ registry });
  const tags: Record<string, string | null> = {};
  for (const p of packages) tags[p] = (await reader.packument(p))?.['dist-tags'].latest ?? null;
  const versions = new Set(Object.values(tags));
  // never released: no package of the set exists yet (a scheduled check before the first release)
  if (versions.size === 1 && versions.has(null)) return null;
  if (versions.size !== 1 || versions.has(null)) {
    throw new CheckFailed([
      {
        check: 'delivery-latest',
        subject: `dist-tag latest on ${reader.registry}`,
        expected: 'one version on every package of the set',
        actual: Object.entries(tags)
          .map(([p, v]) => `${p}: ${v ?? 'none'}`)
          .join(', '),
      },
    ]);
  }
  return [...versions][0]!;
}
