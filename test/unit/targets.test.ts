import t from 'tap';
import { readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  TARGET_NAMES,
  TARGETS,
  canBuildOn,
  floorText,
  getTarget,
  glibcFloorOf,
  hostTarget,
  macosMinOf,
  parseTargetList,
  runnerFor,
  type Libc,
  type Target,
  type TargetName,
} from '../../scripts/lib/core/targets.ts';
import { checkBinary } from '../../scripts/lib/build/binary-checks.ts';
import { planBuild } from '../../scripts/lib/build/build.ts';
import { platformsFor } from '../../scripts/lib/verify/install-check.ts';
import { targetFor } from '../../scripts/lib/ci/delivery.ts';
import { SCHEMA_FILE } from '../../scripts/lib/core/manifest.ts';
import { DEFAULT_PIN } from '../../scripts/lib/core/paths.ts';
import { MATH_PROFILES, readPin } from '../../scripts/lib/core/pin.ts';
import { tarballName } from '../../scripts/lib/core/layout.ts';
import { templatePackageJson, templateReadme } from '../../scripts/lib/package/package-text.ts';

t.test('target table', async (t) => {
  t.same(
    TARGETS.map((x) => x.name),
    ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64'],
  );
  t.throws(() => getTarget('win32-x64'), /Windows is not supported/);
  t.throws(() => parseTargetList('linux-x64,linux-x64'), /twice/);
});

/** linux-x64 built against musl: a target made here, not in the table. */
const musl: Target = {
  ...getTarget('linux-x64'),
  name: 'linux-x64-musl' as TargetName,
  libc: 'musl',
  floor: null,
  packageName: '@agoric/xsnap-linux-x64-musl',
  compiler: 'musl-gcc',
  toolchains: ['pinned'],
  math: ['system'],
  // a musl binary needs musl's loader: it runs natively on a musl host only
  run: [{ via: 'native', libc: 'musl' }],
};

t.test('each target says its C library, floor, toolchains and math profiles', async (t) => {
  const byName = (n: string) => getTarget(n);
  t.equal(byName('linux-x64').libc, 'glibc');
  t.equal(byName('linux-arm64').libc, 'glibc');
  t.equal(byName('darwin-x64').libc, null);
  t.equal(byName('darwin-arm64').libc, null);
  for (const n of ['linux-x64', 'linux-arm64']) {
    t.equal(glibcFloorOf(byName(n)), '2.31', `${n} glibc floor`);
    t.equal(macosMinOf(byName(n)), undefined);
    t.same(byName(n).toolchains, ['pinned', 'host'], `${n}: pinned by default, or this host's compiler`);
  }
  for (const n of ['darwin-x64', 'darwin-arm64']) {
    t.equal(macosMinOf(byName(n)), '11.0', `${n} minimum macOS`);
    t.equal(glibcFloorOf(byName(n)), undefined);
    t.same(byName(n).toolchains, ['zig', 'host'], `${n}: zig on Linux by default, or Apple clang on macOS`);
    t.equal(byName(n).buildHost, 'linux', `${n}: its releasable build runs on Linux`);
    t.match(byName(n).zigTarget, new RegExp(`^${byName(n).cpu === 'x64' ? 'x86_64' : 'aarch64'}-macos\\.11\\.0-none$`));
  }
  t.equal(floorText(byName('linux-arm64')), 'glibc 2.31 or newer (Ubuntu 20.04, Debian 11 and later)');
  t.equal(floorText(byName('darwin-arm64')), 'macOS 11.0 or newer');
  // only linux-x64 has a pinned loader for the floor (x86-64 libc6 in buildroot-lock.json)
  const atFloor = TARGETS.filter((x) => x.floor?.kind === 'glibc' && x.floor.determinismAtFloor);
  t.same(
    atFloor.map((x) => x.name),
    ['linux-x64'],
  );
  for (const x of TARGETS) {
    t.same(x.math, ['system', 'portable'], `${x.name} builds with either math profile`);
    t.ok(x.math.every((m) => MATH_PROFILES.includes(m)));
    // the rules that keep the table consistent
    t.equal(x.floor?.kind === 'macos', x.binary.format === 'macho', `${x.name}: a Mach-O target has a macOS floor`);
    t.equal(x.floor?.kind === 'glibc', x.libc === 'glibc', `${x.name}: a glibc target has a glibc floor`);
    t.equal(x.libc === null, x.os === 'darwin', `${x.name}: every linux target names its C library`);
    t.ok(x.toolchains.length > 0 && x.run.some((w) => w.via === 'native'));
  }
});

t.test('how each target runs on each host', async (t) => {
  const on = (target: string, host: string, opts: Parameters<typeof runnerFor>[1] = {}) => {
    const [platform, arch] = host.split('-');
    return runnerFor(getTarget(target), { platform, arch, libc: platform === 'linux' ? 'glibc' : null, ...opts });
  };
  const qemu = { qemu: '/usr/bin/qemu-aarch64', sysroot: '/root/usr/aarch64-linux-gnu' };
  t.same(on('linux-x64', 'linux-x64'), []);
  t.same(on('linux-arm64', 'linux-arm64'), []);
  t.same(on('linux-arm64', 'linux-x64', qemu), ['/usr/bin/qemu-aarch64', '-L', '/root/usr/aarch64-linux-gnu']);
  t.equal(on('linux-arm64', 'linux-x64'), null, 'no qemu or no arm64 runtime here');
  t.equal(on('linux-x64', 'linux-arm64', qemu), null, 'no way to run x64 on arm64 Linux');
  t.same(on('darwin-x64', 'darwin-arm64'), ['arch', '-x86_64'], 'Rosetta 2');
  t.equal(on('darwin-arm64', 'darwin-x64'), null);
  t.equal(on('darwin-arm64', 'linux-x64', qemu), null);
  t.equal(on('linux-x64', 'darwin-x64'), null);
  t.equal(hostTarget('linux', 'x64', 'glibc')?.name, 'linux-x64');
  t.equal(hostTarget('darwin', 'arm64', null)?.name, 'darwin-arm64');
  t.equal(hostTarget('win32', 'x64', null), undefined);
});

/** A minimal 64-bit x86-64 ELF whose .gnu.version_r needs libc.so.6 at GLIBC_<version>. A fixture, not a binary. */
function elfNeedingGlibc(version: string): Buffer {
  const strtab = Buffer.from(`\0libc.so.6\0GLIBC_${version}\0`, 'latin1');
  const verneed = Buffer.alloc(32);
  verneed.writeUInt16LE(1, 0); // vn_version
  verneed.writeUInt16LE(1, 2); // vn_cnt
  verneed.writeUInt32LE(1, 4); // vn_file: "libc.so.6"
  verneed.writeUInt32LE(16, 8); // vn_aux
  verneed.writeUInt16LE(2, 16 + 6); // vna_other
  verneed.writeUInt32LE(11, 16 + 8); // vna_name: "GLIBC_<version>"
  const header = Buffer.alloc(64);
  header.write('\x7fELF\x02\x01\x01', 0, 'latin1');
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(62, 18); // EM_X86_64
  const strOffset = 64;
  const vnOffset = strOffset + strtab.length;
  const shoff = vnOffset + verneed.length;
  header.writeBigUInt64LE(BigInt(shoff), 0x28);
  header.writeUInt16LE(64, 0x3a); // e_shentsize
  header.writeUInt16LE(3, 0x3c); // e_shnum: null, .dynstr, .gnu.version_r
  const sections = Buffer.alloc(3 * 64);
  const section = (i: number, type: number, offset: number, size: number, link: number, info: number) => {
    sections.writeUInt32LE(type, i * 64 + 4);
    sections.writeBigUInt64LE(BigInt(offset), i * 64 + 24);
    sections.writeBigUInt64LE(BigInt(size), i * 64 + 32);
    sections.writeUInt32LE(link, i * 64 + 40);
    sections.writeUInt32LE(info, i * 64 + 44);
  };
  section(1, 3, strOffset, strtab.length, 0, 0); // SHT_STRTAB
  section(2, 0x6ffffffe, vnOffset, verneed.length, 1, 1); // SHT_GNU_VERNEED
  return Buffer.concat([header, strtab, verneed, sections]);
}

t.test('a musl target: musl as its libc everywhere, no glibc floor check, runs only on musl', async (t) => {
  t.equal(musl.libc, 'musl');
  t.equal(glibcFloorOf(musl), undefined);
  const file = join(t.testdir(), 'needs-glibc-2.35');
  await writeFile(file, elfNeedingGlibc('2.35'));
  await chmod(file, 0o755);
  const check = (target: Target) => checkBinary(file, target, target.name, { version: '1.2.3', runner: null });
  const glibcFloor = (r: Awaited<ReturnType<typeof check>>) => r.failures.filter((f) => f.check === 'glibc-floor');
  const x64 = await check(getTarget('linux-x64'));
  t.match(glibcFloor(x64), [{ expected: 'GLIBC <= 2.31', actual: 'GLIBC_2.35' }], 'the fixture trips the glibc check');
  t.same(glibcFloor(await check(musl)), [], 'no glibc floor for musl');
  // its package, README, install platforms and delivery
  t.same(templatePackageJson(musl).libc, ['musl']);
  t.match(templateReadme(musl), /Needs the musl C library\./);
  t.same(
    platformsFor([getTarget('linux-x64'), musl]).map((p) => [p.libc, p.expect]),
    [
      ['glibc', '@agoric/xsnap-linux-x64'],
      ['musl', '@agoric/xsnap-linux-x64-musl'],
    ],
    'no "none fits" musl host once a musl package is in the set',
  );
  t.equal(targetFor({ os: 'linux', cpu: 'x64', libc: 'musl' }, [getTarget('linux-x64'), musl]), musl);
  t.equal(targetFor({ os: 'linux', cpu: 'x64', libc: 'glibc' }, [getTarget('linux-x64'), musl])?.name, 'linux-x64');
  // run: natively on a musl host, not on glibc's
  t.equal(runnerFor(musl, { platform: 'linux', arch: 'x64', libc: 'glibc' }), null);
  t.same(runnerFor(musl, { platform: 'linux', arch: 'x64', libc: 'musl' }), []);
});

t.test('planBuild reads the toolchains and math profiles of the table', async (t) => {
  const pin = readPin(DEFAULT_PIN);
  const here = (x: Target): Target => ({ ...x, buildHost: process.platform as Target['buildHost'] });
  const plan = (x: Target, o: { toolchain?: string; math?: string } = {}) =>
    planBuild({ target: here(x), pin, dist: 'dist', ...o });
  t.equal(plan(getTarget('linux-x64')).toolchain, 'pinned', 'the first toolchain is the default');
  t.equal(plan(getTarget('darwin-arm64')).toolchain, 'zig');
  t.equal(plan(getTarget('darwin-arm64')).releasable, true, 'a zig build ships');
  const linuxOnZig = () => plan(getTarget('linux-x64'), { toolchain: 'zig' });
  t.throws(linuxOnZig, /--toolchain for linux-x64 must be pinned or host, not "zig"/);
  const darwinPinned = () => plan(getTarget('darwin-x64'), { toolchain: 'pinned' });
  t.throws(darwinPinned, /--toolchain for darwin-x64 must be zig or host, not "pinned"/);
  // Apple clang builds only on macOS, and never ships
  const appleHere = () => planBuild({ target: getTarget('darwin-x64'), pin, dist: 'dist', toolchain: 'host' });
  if (process.platform === 'darwin') t.equal(appleHere().releasable, false);
  else t.throws(appleHere, /darwin-x64 cannot be built with the host toolchain on linux: it needs a macOS host/);
  t.equal(canBuildOn(getTarget('darwin-arm64'), 'linux'), true, 'darwin builds on Linux (zig)');
  t.equal(canBuildOn(getTarget('darwin-arm64'), 'darwin'), false, 'not its zig build on macOS');
  t.equal(canBuildOn(getTarget('darwin-arm64'), 'darwin', 'host'), true, 'Apple clang on macOS');
  t.equal(canBuildOn(getTarget('darwin-x64'), 'linux', 'zig', 'arm64'), false, 'the pinned zig runs on x64');
  t.equal(canBuildOn(getTarget('linux-arm64'), 'linux', 'pinned', 'arm64'), true);
  t.throws(() => plan(musl, { toolchain: 'host' }), /must be pinned, not "host"/);
  t.equal(plan(musl, { math: 'system' }).math, 'system');
  const portable = /linux-x64-musl cannot be built with the portable math profile: it supports system/;
  t.throws(() => plan(musl, { math: 'portable' }), portable);
  t.throws(() => plan(getTarget('linux-x64'), { math: 'fast' }), /--math must be system or portable, not "fast"/);
});

// ---- the manifest's JSON Schema lists the targets again: tied to the table here

/** the schema as parsed JSON: its shape is what the test looks into */
type Schema = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const readSchema = (): Schema => JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));

/** Where the manifest schema and a target table disagree. */
function schemaTargetProblems(schema: Schema, targets: readonly Target[]): string[] {
  const problems: string[] = [];
  const names = schema.properties.targets.propertyNames.enum as string[];
  if (names.join() !== targets.map((x) => x.name).join()) {
    problems.push(`schema targets [${names.join(', ')}], target table [${targets.map((x) => x.name).join(', ')}]`);
  }
  const def = schema.definitions.target.properties;
  const sameSet = (field: string, got: string[], want: Array<string | null>) => {
    const a = [...new Set(got)].sort().join(', ');
    const b = [...new Set(want.filter((x) => x !== null))].sort().join(', ');
    if (a !== b) problems.push(`schema ${field} [${a}], target table [${b}]`);
  };
  sameSet(
    'os',
    def.os.enum,
    targets.map((x) => x.os),
  );
  sameSet(
    'cpu',
    def.cpu.enum,
    targets.map((x) => x.cpu),
  );
  sameSet(
    'libc',
    def.libc.enum,
    targets.map((x) => x.libc),
  );
  const profiles = schema.definitions.math.properties.profile.enum as string[];
  for (const x of targets) {
    const pkgPattern = def.package.pattern;
    if (!new RegExp(pkgPattern).test(x.packageName)) {
      problems.push(`${x.name}: package ${x.packageName} does not match the schema's ${pkgPattern}`);
    }
    const tgz = tarballName(x, '1.2.3');
    const tgzPattern = def.tarball.properties.name.pattern;
    if (!new RegExp(tgzPattern).test(tgz)) {
      problems.push(`${x.name}: tarball ${tgz} does not match the schema's ${tgzPattern}`);
    }
    for (const m of x.math) {
      if (!profiles.includes(m)) problems.push(`${x.name}: math profile ${m} is not in the schema`);
    }
  }
  return problems;
}

t.test('the manifest schema lists exactly the targets of the table', async (t) => {
  t.same(schemaTargetProblems(readSchema(), TARGETS), []);
  // a planted difference on either side fails
  const dropped = readSchema();
  const kept = dropped.properties.targets.propertyNames.enum.slice(0, -1);
  dropped.properties.targets.propertyNames.enum = kept;
  const droppedProblems = schemaTargetProblems(dropped, TARGETS).join('\n');
  t.match(droppedProblems, `schema targets [${kept.join(', ')}], target table [${TARGET_NAMES.join(', ')}]`);
  // a target whose name, C library and package the schema has never heard of (made up, so adding a real one
  // to both the table and the schema keeps this test as it is)
  const planted: Target = {
    ...musl,
    name: 'planted-x64' as TargetName,
    libc: 'planted' as Libc,
    packageName: '@agoric/planted',
  };
  const added = schemaTargetProblems(readSchema(), [...TARGETS, planted]).join('\n');
  t.match(added, `target table [${[...TARGET_NAMES, 'planted-x64'].join(', ')}]`);
  t.match(added, /schema libc \[[^\]]*\], target table \[[^\]]*planted\]/);
  t.match(added, /planted-x64: package @agoric\/planted does not match/);
  const noArm = readSchema();
  noArm.definitions.target.properties.cpu.enum = ['x64'];
  t.match(schemaTargetProblems(noArm, TARGETS).join('\n'), /schema cpu \[x64\], target table \[arm64, x64\]/);
});
