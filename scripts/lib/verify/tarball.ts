// Each target's npm tarball: its bytes against the manifest and its copy among
// the release assets; exactly the allowed files, regular and safe; package.json
// against the target table; the notice; the binaries inside (bytes, mode,
// headers, -v); and, for the set, which package npm installs on each platform.
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../core/cli.ts';
import { matchesIntegrity, sha256Hex, sriSha512 } from '../core/hash.ts';
import { BINARY_CHECKS, checkBinary } from '../build/binary-checks.ts';
import { readTarEntries, unsafePath, type TarEntry } from '../core/tarball.ts';
import {
  allowedPackageFiles,
  binaryPath,
  NOTICE_FILE,
  packageBinaryPath,
  releaseDir,
  tarballName,
  tarballPath,
} from '../core/layout.ts';
import { LICENSE_EXPRESSION, templatePackageJson } from '../package/package-text.ts';
import { checkInstallability, platformsFor } from './install-check.ts';
import { GOALS, type Target } from '../core/targets.ts';
import { noteVerifiedBytes, rel, step, type Checks, type VerifyContext } from './context.ts';
import { claimedProfile } from './target-binary.ts';

const CHECKS = [
  'tarball-present',
  'tarball-integrity',
  'tarball-size',
  'tarball-copy',
  'tarball-readable',
  'tarball-path',
  'tarball-entry-type',
  'tarball-extra-file',
  'tarball-duplicate',
  'tarball-files',
  'package-json',
  'package-name',
  'version-package',
  'package-os',
  'package-cpu',
  'package-libc',
  'package-license',
  'package-no-scripts',
  'package-notice',
  'tarball-binary-digest',
  'tarball-binary-mode',
  'tarball-binary-header',
  ...BINARY_CHECKS,
] as const;

export const tarballs = step({
  name: 'tarballs',
  checks: CHECKS,
  async run(x, c) {
    await Promise.all(x.targets.map((t) => checkTarball(t, x, c)));
  },
});

export const installability = step({
  name: 'installability',
  checks: ['installability'],
  async run(x, c) {
    if (x.opts.skipInstall) {
      c.note('installability not checked (--skip-install)');
      return;
    }
    const tarballs: Record<string, string> = {};
    const binaries: Record<string, Record<string, string>> = {};
    for (const t of x.targets) {
      const file = tarballPath(x.dist, t, x.version);
      if (!existsSync(file)) continue;
      tarballs[t.packageName] = file;
      binaries[t.packageName] = Object.fromEntries(
        GOALS.map((g) => [g, x.manifest?.targets?.[t.name]?.[g]?.sha256 ?? 'no manifest entry']),
      );
    }
    if (!Object.keys(tarballs).length) return;
    const platforms = platformsFor(x.targets);
    log.info(`installing the tarballs as each of ${platforms.length} platforms`);
    const r = await checkInstallability({ tarballs, platforms, binaries });
    c.add(r.failures, 'installability');
    x.report.install = r.results;
  },
});

async function checkTarball(t: Target, x: VerifyContext, c: Checks<(typeof CHECKS)[number]>): Promise<void> {
  const { dist, version } = x;
  const entry = x.manifest?.targets?.[t.name];
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
  noteVerifiedBytes(x, file, data);
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
    c.equal(
      'tarball-copy',
      `${rel(dist, copy)} against ${rel(dist, file)}`,
      `sha256 ${sha256Hex(data)}`,
      `sha256 ${sha256Hex(await readFile(copy))}`,
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

  checkPackageJson(t, x, c, file, seen.get('package.json'));

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
    const d = x.distBinaries.get(t.name)?.[g];
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
    const r = await checkBinary(tmp, t, `${t.name} ${g} in ${name}`, {
      version,
      runner: x.runners.get(t.name) ?? null,
      math: claimedProfile(x, t),
    });
    c.add(
      r.failures.map((f) => ({ ...f, subject: f.subject.replace(`(${tmp})`, `(${subject})`) })),
      'tarball-binary-header',
    );
  }
}

/** package.json inside the tarball: the target table's fields, and only the keys the template has. */
function checkPackageJson(
  t: Target,
  x: VerifyContext,
  c: Checks<(typeof CHECKS)[number]>,
  file: string,
  pj: TarEntry | undefined,
): void {
  if (!pj) return;
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(pj.data.toString('utf8'));
  } catch (e) {
    c.fail({
      check: 'package-json',
      subject: `${rel(x.dist, file)}: package/package.json`,
      expected: 'JSON',
      actual: (e as Error).message,
    });
    return;
  }
  const s = (field: string) => `${rel(x.dist, file)}: package.json "${field}"`;
  c.equal('package-name', s('name'), t.packageName, pkg.name);
  c.equal('version-package', s('version'), x.version, pkg.version, 'restage: npx tsx scripts/stage-packages.ts');
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
        expected: `only ${Object.keys(template).join(', ')}: a platform package runs nothing, links nothing and pulls in nothing at install`,
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
