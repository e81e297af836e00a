// Verification pieces that need no build: Mach-O header checks on synthetic
// fixtures (darwin binaries cannot be built here), tags, install platforms.
import t from 'tap';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkBinary } from '../../scripts/lib/binary-checks.ts';
import { getTarget, parseTargetList } from '../../scripts/lib/targets.ts';
import { tagFromEnv } from '../../scripts/lib/release-tag.ts';
import { platformsFor } from '../../scripts/lib/install-check.ts';

/** A minimal 64-bit Mach-O: header + LC_BUILD_VERSION (macOS, minos). A fixture, not a binary. */
function machoFixture(cpuType: number, minos: [number, number]): Buffer {
  const b = Buffer.alloc(32 + 24);
  b.writeUInt32LE(0xfeedfacf, 0);
  b.writeUInt32LE(cpuType, 4);
  b.writeUInt32LE(2, 12); // MH_EXECUTE
  b.writeUInt32LE(1, 16); // ncmds
  b.writeUInt32LE(24, 20); // sizeofcmds
  b.writeUInt32LE(0x32, 32); // LC_BUILD_VERSION
  b.writeUInt32LE(24, 36);
  b.writeUInt32LE(1, 40); // PLATFORM_MACOS
  b.writeUInt32LE((minos[0] << 16) | (minos[1] << 8), 44);
  return b;
}

const ARM64 = 0x0100000c;
const X86_64 = 0x01000007;

t.test('Mach-O header checks on fixtures', async (t) => {
  const dir = t.testdir();
  const check = async (name: string, buf: Buffer, target: string) => {
    const file = join(dir, name);
    await writeFile(file, buf);
    await chmod(file, 0o755);
    return checkBinary(file, getTarget(target), name, { version: '1.2.3', runner: null });
  };
  const good = await check('fixture-darwin-arm64', machoFixture(ARM64, [11, 0]), 'darwin-arm64');
  t.same(good.failures, []);
  t.equal(good.facts.minMacos, '11.0');
  const wrongCpu = await check('fixture-darwin-x64-wrong-cpu', machoFixture(ARM64, [11, 0]), 'darwin-x64');
  t.match(wrongCpu.failures, [
    { check: 'macho-cputype', subject: /fixture-darwin-x64-wrong-cpu/, expected: /x86_64/, actual: /0x100000c/ },
  ]);
  const tooNew = await check('fixture-darwin-x64-macos13', machoFixture(X86_64, [13, 0]), 'darwin-x64');
  t.match(tooNew.failures, [{ check: 'macos-min-version', actual: '13.0' }]);
  const elfAsDarwin = await check(
    'fixture-darwin-arm64-elf',
    Buffer.from('\x7fELF\x02\x01\x01' + '\0'.repeat(57), 'latin1'),
    'darwin-arm64',
  );
  t.match(elfAsDarwin.failures, [{ check: 'binary-format', actual: /ELF file, not Mach-O/ }]);
});

t.test('the release tag comes from --tag or a GitHub tag ref', async (t) => {
  t.equal(tagFromEnv('v1.2.3', {}), 'v1.2.3');
  t.equal(tagFromEnv(undefined, { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'v0.15.0' }), 'v0.15.0');
  t.equal(tagFromEnv(undefined, { GITHUB_REF_TYPE: 'branch', GITHUB_REF_NAME: 'main' }), undefined);
});

t.test('install platforms: one per target, plus a musl host none fits', async (t) => {
  t.same(platformsFor(parseTargetList('linux-x64,darwin-arm64')), [
    { os: 'linux', cpu: 'x64', libc: 'glibc', expect: '@agoric/xsnap-linux-x64' },
    { os: 'darwin', cpu: 'arm64', expect: '@agoric/xsnap-darwin-arm64' },
    { os: 'linux', cpu: 'x64', libc: 'musl', expect: null },
  ]);
});
