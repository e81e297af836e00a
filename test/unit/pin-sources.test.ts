// Pin parsing, safe archive extraction and the ELF / Mach-O readers, on
// small inputs (no network, no build).
import t from 'tap';
import { mkdtemp, readFile, writeFile, mkdir, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { parsePin, checkVersion } from '../../scripts/lib/core/pin.ts';
import { extractSafely, parseBuildEnv, treeDigest } from '../../scripts/lib/build/sources.ts';
import { readElf, compareGlibc } from '../../scripts/lib/build/elf.ts';
import { readMachO } from '../../scripts/lib/build/macho.ts';
import { canonicalJson } from '../../scripts/lib/core/hash.ts';

const integrity = 'sha512-' + Buffer.alloc(64, 1).toString('base64');

t.test('pin: versions and kinds', async (t) => {
  t.equal(checkVersion('0.15.0', 'x'), '0.15.0');
  t.equal(checkVersion('0.14.3-u16.1', 'x'), '0.14.3-u16.1');
  for (const bad of ['v0.15.0', '0.15', 'latest', '0.15.0+build', '', 15])
    t.throws(() => checkVersion(bad, 'pin'), /is not an exact npm version/, String(bad));
  t.equal(
    parsePin({ version: '1.2.3', source: { kind: 'npm', package: '@agoric/xsnap', integrity } }, 'p.json').source.kind,
    'npm',
  );
  t.throws(
    () =>
      parsePin(
        { version: '1.2.3', source: { kind: 'npm', package: '@agoric/xsnap', integrity: 'sha1-abc' } },
        'p.json',
      ),
    /sha512 SRI/,
  );
  t.throws(() => parsePin({ version: '1.2.3', source: { kind: 'git' } }, 'p.json'), /source\.kind must be/);
  const archive = { repo: 'a/b', commit: 'c'.repeat(40), sha256: 'd'.repeat(64) };
  t.equal(
    parsePin(
      { version: '1.2.3', source: { kind: 'agoric-sdk', agoricSdk: archive, moddable: archive, xsnapNative: archive } },
      'p.json',
    ).source.kind,
    'agoric-sdk',
  );
  t.throws(
    () =>
      parsePin(
        {
          version: '1.2.3',
          source: {
            kind: 'agoric-sdk',
            agoricSdk: archive,
            moddable: { ...archive, sha256: 'short' },
            xsnapNative: archive,
          },
        },
        'p.json',
      ),
    /moddable\.sha256 must be 64 hex/,
  );
  t.match(parsePin({ version: '1.2.3', source: { kind: 'dir', path: 'src' } }, '/x/native/p.json').source, {
    kind: 'dir',
    path: '/x/native/src',
  });
});

t.test('build.env and canonical JSON', async (t) => {
  t.same(parseBuildEnv('A=1\n# c\nMODDABLE_COMMIT_HASH=abc\n'), { A: '1', MODDABLE_COMMIT_HASH: 'abc' });
  t.equal(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 0 }] } }, 0), '{"a":{"c":[3,{"e":0,"f":1}],"d":2},"b":1}');
});

async function archiveWith(populate: (root: string) => Promise<void>, entries: string[]): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'xsnap-unit-'));
  await populate(dir);
  const file = join(dir, 'a.tgz');
  await tar.c({ gzip: true, cwd: dir, file, portable: true }, entries);
  return readFile(file);
}

t.test('extraction refuses symlinks and path escapes, keeping nothing', async (t) => {
  const withLink = await archiveWith(
    async (d) => {
      await mkdir(join(d, 'top/xs'), { recursive: true });
      await writeFile(join(d, 'top/xs/a.c'), 'int a;');
      await symlink('/etc/passwd', join(d, 'top/xs/link'));
    },
    ['top'],
  );
  const dest = await mkdtemp(join(tmpdir(), 'xsnap-unit-dest-'));
  await t.rejects(
    extractSafely(withLink, dest, { strip: 1, what: 'test archive' }),
    /top\/xs\/link: SymbolicLink entries are not allowed/,
  );
  t.notOk(existsSync(join(dest, 'xs/link')), 'symlink not created');

  // a `..` entry, written by hand because tar refuses to create one
  const header = Buffer.alloc(512);
  header.write('../escape.txt', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write('00000000004\0', 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const body = Buffer.alloc(512);
  body.write('evil');
  const { gzipSync } = await import('node:zlib');
  const escaping = gzipSync(Buffer.concat([header, body, Buffer.alloc(1024)]));
  const dest2 = await mkdtemp(join(tmpdir(), 'xsnap-unit-dest-'));
  await t.rejects(
    extractSafely(escaping, join(dest2, 'inner'), { what: 'test archive' }),
    /\.\.\/escape\.txt: path escapes the archive/,
  );
  t.notOk(existsSync(join(dest2, 'escape.txt')), 'nothing written outside');
});

t.test('tree digest covers content and the execute bit', async (t) => {
  const d = await mkdtemp(join(tmpdir(), 'xsnap-unit-tree-'));
  await writeFile(join(d, 'a'), 'x');
  const one = await treeDigest(d);
  await writeFile(join(d, 'a'), 'y');
  const two = await treeDigest(d);
  t.not(one, two);
  const { chmod } = await import('node:fs/promises');
  await chmod(join(d, 'a'), 0o755);
  t.not(await treeDigest(d), two);
});

t.test("ELF reader on this host's own programs", async (t) => {
  const elf = readElf(await readFile(process.execPath));
  t.equal(elf.machine, process.arch === 'x64' ? 62 : 183);
  t.ok(elf.glibcVersions.length > 0, 'node needs some GLIBC versions');
  t.equal(compareGlibc('2.29', '2.31') < 0, true);
  t.equal(compareGlibc('2.3.4', '2.31') < 0, true);
  t.equal(compareGlibc('2.35', '2.31') > 0, true);
  t.throws(() => readElf(Buffer.from('#!/bin/sh\n')), /not an ELF file/);
});

t.test('Mach-O reader on a synthetic header (fixture)', async (t) => {
  // fixture: mach_header_64 + one LC_BUILD_VERSION (macOS 11.0) for arm64
  const fixture = Buffer.alloc(32 + 24);
  fixture.writeUInt32LE(0xfeedfacf, 0);
  fixture.writeUInt32LE(0x0100000c, 4);
  fixture.writeUInt32LE(2, 12); // MH_EXECUTE
  fixture.writeUInt32LE(1, 16); // ncmds
  fixture.writeUInt32LE(24, 20);
  fixture.writeUInt32LE(0x32, 32); // LC_BUILD_VERSION
  fixture.writeUInt32LE(24, 36);
  fixture.writeUInt32LE(1, 40); // PLATFORM_MACOS
  fixture.writeUInt32LE(11 << 16, 44); // minos 11.0
  t.match(readMachO(fixture), { cpuType: 0x0100000c, platform: 1, minMacos: '11.0', dylibs: [], codeSignature: null });
  t.throws(() => readMachO(Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2])), /universal/);
});
