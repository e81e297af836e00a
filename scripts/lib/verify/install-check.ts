// Installability by platform: install the packed tarballs, as optional
// dependencies of a throwaway project, with `npm install --os --cpu --libc`
// pretending to be each platform in turn, and prove npm picks exactly that
// platform's package and skips the others. Offline: file: tarballs need no registry.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Failure } from '../core/errors.ts';
import { runRaw } from '../core/exec.ts';
import { sha256Hex } from '../core/hash.ts';
import { packageBinaryPath } from '../core/layout.ts';
import { GOALS, LIBCS, type Libc, type Target } from '../core/targets.ts';

export interface Platform {
  os: string;
  cpu: string;
  libc?: string;
  /** the package npm must install for it, or null: none of ours fits */
  expect: string | null;
}

/**
 * One platform per selected target, plus, beside the first one with a C library, a host of
 * its os and cpu with a C library none of the selected packages fits (npm must install none).
 */
export function platformsFor(targets: readonly Target[]): Platform[] {
  const out: Platform[] = targets.map((t) => ({
    os: t.os,
    cpu: t.cpu,
    ...(t.libc ? { libc: t.libc } : {}),
    expect: t.packageName,
  }));
  const withLibc = targets.find((t) => t.libc);
  const fits = (libc: Libc) => targets.some((t) => t.os === withLibc?.os && t.cpu === withLibc.cpu && t.libc === libc);
  const unfit = LIBCS.find((libc) => !fits(libc));
  if (withLibc && unfit) out.push({ os: withLibc.os, cpu: withLibc.cpu, libc: unfit, expect: null });
  return out;
}

export const platformLabel = (p: Platform) => `${p.os}-${p.cpu}${p.libc ? `-${p.libc}` : ''}`;

export interface InstallResult {
  platform: string;
  installed: string[];
  expected: string | null;
}

/**
 * Install `tarballs` (package name -> .tgz path) for each platform in its own
 * temporary project; `binaries` gives each package's expected binary sha256 per goal.
 */
export async function checkInstallability(opts: {
  tarballs: Record<string, string>;
  platforms: Platform[];
  binaries: Record<string, Record<string, string>>;
}): Promise<{ failures: Failure[]; results: InstallResult[] }> {
  const root = await mkdtemp(join(tmpdir(), 'xsnap-install-check-'));
  try {
    const per = await Promise.all(opts.platforms.map((p, i) => installOne(join(root, String(i)), p, opts)));
    return { failures: per.flatMap((r) => r.failures), results: per.map((r) => r.result) };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function installOne(
  dir: string,
  p: Platform,
  opts: { tarballs: Record<string, string>; binaries: Record<string, Record<string, string>> },
) {
  const label = platformLabel(p);
  const failures: Failure[] = [];
  await mkdir(dir, { recursive: true });
  const optionalDependencies = Object.fromEntries(
    Object.entries(opts.tarballs).map(([name, file]) => [name, `file:${file}`]),
  );
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'xsnap-install-check', version: '0.0.0', private: true, optionalDependencies }, null, 2),
  );
  // npm reads no settings but ours (an empty user and global config) and gets a
  // minimal environment (runRaw's default): no token reaches it
  const emptyConfig = join(dir, '.empty-npmrc');
  const emptyGlobal = join(dir, '.empty-global-npmrc');
  await writeFile(emptyConfig, '');
  await writeFile(emptyGlobal, '');
  const argv = [
    'npm',
    'install',
    `--os=${p.os}`,
    `--cpu=${p.cpu}`,
    ...(p.libc ? [`--libc=${p.libc}`] : []),
    '--offline',
    '--no-audit',
    '--no-fund',
    '--ignore-scripts',
    '--no-package-lock',
    `--cache=${join(dir, '.npm-cache')}`,
    `--userconfig=${emptyConfig}`,
    `--globalconfig=${emptyGlobal}`,
  ];
  const r = await runRaw(argv, { cwd: dir, timeoutMs: 120_000 });
  const subject = `npm install --os=${p.os} --cpu=${p.cpu}${p.libc ? ` --libc=${p.libc}` : ''} of ${Object.keys(opts.tarballs).length} tarball(s)`;
  if (r.code !== 0) {
    failures.push({
      check: 'installability',
      subject,
      expected: 'npm install succeeds',
      actual: `exit ${r.code}: ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join(' / ')}`,
    });
    return { failures, result: { platform: label, installed: [], expected: p.expect } };
  }
  const scopeDir = join(dir, 'node_modules', '@agoric');
  const installed = existsSync(scopeDir) ? (await readdir(scopeDir)).map((n) => `@agoric/${n}`).sort() : [];
  const want = p.expect ? [p.expect] : [];
  if (installed.join(',') !== want.join(',')) {
    failures.push({
      check: 'installability',
      subject: `${subject} (platform ${label})`,
      expected: want.length ? `exactly ${want.join(', ')}` : 'no package (none fits this platform)',
      actual: installed.length ? installed.join(', ') : 'nothing installed',
      hint: 'check os/cpu/libc in the package.json of the packages',
    });
  }
  // what landed must be the bytes we shipped, still executable
  for (const name of installed.filter((n) => n === p.expect)) {
    for (const goal of GOALS) {
      const file = join(dir, 'node_modules', name, packageBinaryPath(goal));
      if (!existsSync(file)) {
        failures.push({
          check: 'installability',
          subject: `${name} installed for ${label}: ${packageBinaryPath(goal)}`,
          expected: 'present',
          actual: 'missing',
        });
        continue;
      }
      const sha = sha256Hex(await readFile(file));
      const expected = opts.binaries[name]?.[goal];
      if (sha !== expected)
        failures.push({
          check: 'installability',
          subject: `${name} installed for ${label}: ${packageBinaryPath(goal)}`,
          expected: `sha256 ${expected}`,
          actual: `sha256 ${sha}`,
        });
      if (((await stat(file)).mode & 0o111) !== 0o111)
        failures.push({
          check: 'installability',
          subject: `${name} installed for ${label}: ${packageBinaryPath(goal)}`,
          expected: 'executable after install',
          actual: 'not executable',
        });
    }
  }
  return { failures, result: { platform: label, installed, expected: p.expect } };
}
