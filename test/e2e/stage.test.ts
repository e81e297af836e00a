// stage-packages.ts on the real builds (linux, and darwin by zig): what the tarballs hold, that the
// same inputs give the same bytes, and that bad input leaves nothing behind.
import t from 'tap';
import { existsSync } from 'node:fs';
import { cp, readdir, readFile, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { runScript } from '../helpers/run.ts';
import { sharedDist } from '../helpers/shared-build.ts';
import { stagedDist, LINUX } from '../helpers/staged.ts';
import { readTarEntries } from '../../scripts/lib/core/tarball.ts';
import { sha256Hex } from '../../scripts/lib/core/hash.ts';
import { LICENSE_EXPRESSION } from '../../scripts/lib/package/package-text.ts';
import { allowedPackageFiles } from '../../scripts/lib/core/layout.ts';
import { readPin, pinPath } from '../../scripts/lib/core/pin.ts';
import { runRaw } from '../../scripts/lib/core/exec.ts';
import { TARGETS } from '../../scripts/lib/core/targets.ts';

const VERSION = readPin(pinPath()).version;
const linux = TARGETS.filter((x) => x.os === 'linux');

t.test('each tarball holds exactly the package, binaries executable', async (t) => {
  const dist = await stagedDist();
  for (const target of linux) {
    const file = join(dist, `agoric-xsnap-${target.name}-${VERSION}.tgz`);
    t.ok(existsSync(file), `${file} named as npm names it`);
    const entries = await readTarEntries(await readFile(file));
    t.same(
      entries.map((e) => e.path.replace(/^package\//, '')).sort(),
      allowedPackageFiles(),
      `${target.name}: exactly the allowed files`,
    );
    t.ok(
      entries.every((e) => e.type === 'File'),
      'regular files only',
    );
    const info = JSON.parse(await readFile(join(dist, target.name, 'build-info.json'), 'utf8'));
    for (const goal of ['release', 'debug']) {
      const bin = entries.find((e) => e.path === `package/bin/${goal}/xsnap-worker`)!;
      t.equal(bin.mode & 0o777, 0o755, `${goal} binary mode 0755`);
      t.equal(
        sha256Hex(bin.data),
        sha256Hex(await readFile(join(dist, target.name, goal, 'xsnap-worker'))),
        `${goal} binary is the built one`,
      );
    }
    const pkg = JSON.parse(entries.find((e) => e.path === 'package/package.json')!.data.toString());
    t.match(pkg, {
      name: target.packageName,
      version: VERSION,
      os: [target.os],
      cpu: [target.cpu],
      libc: ['glibc'],
      license: LICENSE_EXPRESSION,
      publishConfig: { access: 'public' },
    });
    t.equal(pkg.scripts, undefined, 'no scripts');
    const notice = entries.find((e) => e.path === 'package/THIRD_PARTY_NOTICES.md')!.data.toString();
    t.match(notice, info.source.moddableCommit);
    t.match(notice, info.source.xsnapNativeCommit);
    t.notMatch(notice, /\{\{/, 'every placeholder filled');
    // what real tar sees agrees
    const listing = await runRaw(['tar', 'tvzf', file]);
    t.match(listing.stdout, /-rwxr-xr-x .*package\/bin\/release\/xsnap-worker/);
  }
});

t.test('same inputs, same tarball bytes (another folder, other mtimes)', async (t) => {
  const first = await stagedDist();
  const dist = t.testdir();
  for (const target of linux) {
    await cp(join(sharedDist(), target.name), join(dist, target.name), { recursive: true });
    await utimes(join(dist, target.name, 'release', 'xsnap-worker'), new Date(), new Date(2001, 1, 1));
  }
  const r = await runScript('stage-packages.ts', ['--dist', dist, '--targets', LINUX, '--json']);
  t.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  t.equal(json.packages.length, 2);
  for (const target of linux) {
    const name = `agoric-xsnap-${target.name}-${VERSION}.tgz`;
    t.equal(
      sha256Hex(await readFile(join(dist, name))),
      sha256Hex(await readFile(join(first, name))),
      `${name} identical`,
    );
  }
  t.same(
    (await readdir(dist)).filter((n) => n.startsWith('.')),
    [],
    'no temporary folders left',
  );
});

t.test('the darwin packages hold the real zig-built binaries, with their os and cpu and no libc', async (t) => {
  const dist = t.testdir();
  const darwin = TARGETS.filter((x) => x.os === 'darwin');
  for (const target of darwin) await cp(join(sharedDist(), target.name), join(dist, target.name), { recursive: true });
  const list = darwin.map((x) => x.name).join(',');
  const r = await runScript('stage-packages.ts', ['--dist', dist, '--targets', list]);
  t.equal(r.code, 0, r.stderr);
  for (const target of darwin) {
    const entries = await readTarEntries(await readFile(join(dist, `agoric-xsnap-${target.name}-${VERSION}.tgz`)));
    for (const goal of ['release', 'debug']) {
      const bin = entries.find((e) => e.path === `package/bin/${goal}/xsnap-worker`)!;
      t.equal(bin.mode & 0o777, 0o755, `${target.name} ${goal} binary mode 0755`);
      t.equal(bin.data.readUInt32LE(0), 0xfeedfacf, `${target.name} ${goal}: a 64-bit Mach-O`);
      t.ok(bin.data.equals(await readFile(join(dist, target.name, goal, 'xsnap-worker'))), 'the built bytes');
    }
    const pkg = JSON.parse(entries.find((e) => e.path === 'package/package.json')!.data.toString());
    t.match(pkg, { name: target.packageName, version: VERSION, os: ['darwin'], cpu: [target.cpu] });
    t.equal(pkg.libc, undefined, 'no libc field for darwin');
  }
});

t.test('missing build output names the command that makes it (exit 2)', async (t) => {
  const dist = t.testdir();
  const r = await runScript('stage-packages.ts', ['--dist', dist, '--targets', 'linux-x64']);
  t.equal(r.code, 2);
  t.match(r.stderr, /build-target\.ts --target linux-x64/);
  const d = await runScript('stage-packages.ts', ['--dist', dist, '--targets', 'darwin-arm64']);
  t.equal(d.code, 2);
  t.match(d.stderr, /darwin-arm64/);
});

t.test('a broken target stops everything and leaves nothing half-written', async (t) => {
  const dist = t.testdir();
  for (const target of linux) await cp(join(sharedDist(), target.name), join(dist, target.name), { recursive: true });
  await rm(join(dist, 'linux-arm64', 'debug', 'xsnap-worker'));
  const r = await runScript('stage-packages.ts', ['--dist', dist, '--targets', LINUX]);
  t.equal(r.code, 1);
  t.match(r.stderr, /linux-arm64 debug.*missing/s);
  t.same((await readdir(dist)).sort(), ['linux-arm64', 'linux-x64'], 'no tarball, no packages/, no partial folder');
});

t.test('--dry-run plans and writes nothing; --help and unknown flags', async (t) => {
  const dist = t.testdir();
  for (const target of linux) await cp(join(sharedDist(), target.name), join(dist, target.name), { recursive: true });
  const r = await runScript('stage-packages.ts', ['--dist', dist, '--targets', LINUX, '--dry-run', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(
    JSON.parse(r.stdout).plan.targets.map((p: { target: string }) => p.target),
    ['linux-x64', 'linux-arm64'],
  );
  t.same((await readdir(dist)).sort(), ['linux-arm64', 'linux-x64']);
  const h = await runScript('stage-packages.ts', ['--help']);
  t.equal(h.code, 0);
  t.match(h.stdout, /--targets/);
  t.equal((await runScript('stage-packages.ts', ['--nope'])).code, 2);
});
