// Staging the platform packages: copy each template packages/xsnap-<target>/
// (package-text.ts writes them), stamp the version, fill the third-party notice
// from build-info, put the binaries at bin/<goal>/xsnap-worker (0755) and
// `npm pack` each package into dist/.
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '../core/cli.ts';
import { CheckFailed, OperationError, type Failure } from '../core/errors.ts';
import { run } from '../core/exec.ts';
import { sha256File } from '../core/hash.ts';
import {
  binaryPath,
  LICENSE_FILES,
  NOTICE_FILE,
  NOTICE_TEMPLATE,
  packageBinaryPath,
  stagedPackageDir,
  stagedPackagesDir,
  tarballName,
  tarballPath,
  templateDir,
  licensesDir,
  TEMPLATE_FILES,
} from '../core/layout.ts';
import { fillNotice } from './package-text.ts';
import { readBuildInfo, type BuildInfo } from '../build/build.ts';
import { normalizeGzipHeader } from './bundle.ts';
import { GOALS, TARGETS, type Target } from '../core/targets.ts';

// ------------------------------------------------------------------ staging

export interface PackagePlanTarget {
  target: Target['name'];
  packageName: string;
  template: string;
  stagedDir: string;
  tarball: string;
  binaries: Record<string, { from: string; to: string }>;
}

export interface PackagePlan {
  version: string;
  dist: string;
  targets: PackagePlanTarget[];
}

export function planPackages(opts: { dist: string; version: string; targets: Target[] }): PackagePlan {
  return {
    version: opts.version,
    dist: opts.dist,
    targets: opts.targets.map((t) => ({
      target: t.name,
      packageName: t.packageName,
      template: templateDir(t),
      stagedDir: stagedPackageDir(opts.dist, t),
      tarball: tarballPath(opts.dist, t, opts.version),
      binaries: Object.fromEntries(
        GOALS.map((g) => [g, { from: binaryPath(opts.dist, t.name, g), to: packageBinaryPath(g) }]),
      ),
    })),
  };
}

/** Problems with a target's build output that make it unfit to stage. */
export async function checkBuildForPackaging(
  dist: string,
  t: Target,
  version: string,
): Promise<{ info: BuildInfo; failures: Failure[] }> {
  const info = await readBuildInfo(dist, t.name); // throws UsageError naming build-target.ts
  const failures: Failure[] = [];
  if (info.version !== version) {
    failures.push({
      check: 'build-version',
      subject: `${t.name} build-info.json`,
      expected: version,
      actual: info.version,
      hint: `rebuild: npx tsx scripts/build-target.ts --target ${t.name}`,
    });
  }
  for (const g of GOALS) {
    const file = binaryPath(dist, t.name, g);
    if (!existsSync(file)) {
      failures.push({
        check: 'binary-present',
        subject: `${t.name} ${g} (${file})`,
        expected: 'a file',
        actual: 'missing',
        hint: `npx tsx scripts/build-target.ts --target ${t.name}`,
      });
    }
  }
  return { info, failures };
}

/** `npm pack` one staged folder into `destDir`; returns the tarball path. Gzip header made host-independent. */
export async function npmPack(stagedDir: string, destDir: string, expectedName: string): Promise<string> {
  // no user or machine npm settings: the bytes come from the staged folder and the pinned npm alone (two empty
  // files: npm refuses one file as both)
  const empty = await mkdtemp(join(tmpdir(), 'xsnap-pack-config-'));
  let r;
  try {
    await writeFile(join(empty, 'user'), '');
    await writeFile(join(empty, 'global'), '');
    const noConfig = ['--userconfig', join(empty, 'user'), '--globalconfig', join(empty, 'global')];
    r = await run(['npm', 'pack', '--json', '--ignore-scripts', ...noConfig, '--pack-destination', destDir], {
      cwd: stagedDir,
      what: `npm pack of ${stagedDir}`,
    });
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
  let filename: string | undefined;
  try {
    filename = (JSON.parse(r.stdout) as Array<{ filename: string }>)[0]?.filename;
  } catch {
    throw new OperationError(`npm pack in ${stagedDir} printed no JSON: ${r.stdout.slice(0, 200)}`);
  }
  if (filename !== expectedName)
    throw new OperationError(`npm pack in ${stagedDir} wrote ${filename}, expected ${expectedName}`);
  const file = join(destDir, filename);
  await writeFile(file, normalizeGzipHeader(await readFile(file)));
  return file;
}

export interface MadePackage {
  target: Target['name'];
  packageName: string;
  tarball: string;
  stagedDir: string;
  sha256: string;
}

/**
 * Stage and pack every target of the plan. Everything is made in a temporary
 * folder inside dist and moved into place only when all targets succeeded.
 */
export async function makePackages(plan: PackagePlan): Promise<MadePackage[]> {
  const failures: Failure[] = [];
  const infos = new Map<string, BuildInfo>();
  for (const pt of plan.targets) {
    const t = TARGETS.find((x) => x.name === pt.target)!;
    const r = await checkBuildForPackaging(plan.dist, t, plan.version);
    failures.push(...r.failures);
    infos.set(pt.target, r.info);
    if (!r.info.releasable)
      log.warn(`${pt.target}: build-info says this build is not releasable; verify-artifacts will refuse it`);
  }
  if (failures.length) throw new CheckFailed(failures);

  const tmp = await mkdtemp(join(plan.dist, '.stage.partial-'));
  try {
    const results: MadePackage[] = [];
    for (const pt of plan.targets) {
      const t = TARGETS.find((x) => x.name === pt.target)!;
      const dir = stagedPackageDir(tmp, t);
      await mkdir(dir, { recursive: true });
      const missing = [
        ...TEMPLATE_FILES.filter((n) => !existsSync(join(pt.template, n))),
        ...LICENSE_FILES.filter((n) => !existsSync(join(licensesDir(), n))).map((n) => `${licensesDir()}/${n}`),
      ];
      if (missing.length)
        throw new OperationError(
          `package template ${pt.template} lacks ${missing.join(', ')} (run npx tsx scripts/stage-packages.ts --update-templates)`,
        );
      const pkg = JSON.parse(await readFile(join(pt.template, 'package.json'), 'utf8')) as Record<string, unknown>;
      pkg.version = plan.version;
      await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
      await copyFile(join(pt.template, 'README.md'), join(dir, 'README.md'));
      // the license texts, kept once in packages/licenses/, copied into each package
      for (const name of LICENSE_FILES) await copyFile(join(licensesDir(), name), join(dir, name));
      await writeFile(
        join(dir, NOTICE_FILE),
        fillNotice(await readFile(join(pt.template, NOTICE_TEMPLATE), 'utf8'), plan.version, infos.get(t.name)!),
      );
      for (const { from, to } of Object.values(pt.binaries)) {
        await mkdir(join(dir, to, '..'), { recursive: true });
        await copyFile(from, join(dir, to));
        await chmod(join(dir, to), 0o755);
      }
      const tgz = await npmPack(dir, tmp, tarballName(t, plan.version));
      log.ok(`${t.packageName}@${plan.version}: ${tarballName(t, plan.version)}`);
      results.push({
        target: t.name,
        packageName: t.packageName,
        tarball: pt.tarball,
        stagedDir: pt.stagedDir,
        sha256: await sha256File(tgz),
      });
    }
    // all packed: move into place, replacing any previous staging of these targets
    await mkdir(stagedPackagesDir(plan.dist), { recursive: true });
    for (const pt of plan.targets) {
      const t = TARGETS.find((x) => x.name === pt.target)!;
      const name = tarballName(t, plan.version);
      await rm(pt.stagedDir, { recursive: true, force: true });
      await rename(stagedPackageDir(tmp, t), pt.stagedDir);
      await rename(join(tmp, name), pt.tarball);
    }
    return results;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
