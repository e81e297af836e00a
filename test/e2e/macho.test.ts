// The Mach-O checks on the real darwin binaries (cross-compiled by zig in
// test/setup.ts), each shown failing on a copy of the real binary with one
// defect planted in its bytes.
import t, { type Test } from 'tap';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkBinary, type BinaryCheck } from '../../scripts/lib/build/binary-checks.ts';
import { readMachO } from '../../scripts/lib/build/macho.ts';
import { binaryPath } from '../../scripts/lib/core/layout.ts';
import { getTarget, type Goal, type TargetName } from '../../scripts/lib/core/targets.ts';
import type { MathProfile } from '../../scripts/lib/core/pin.ts';
import { sharedDist } from '../helpers/shared-build.ts';

const VERSION = '0.15.0';
const real = (target: TargetName, goal: Goal = 'release', math: MathProfile = 'system') =>
  readFile(binaryPath(sharedDist(math), target, goal));

/** Run checkBinary on `buf` written to a temp file, as `target`. */
async function check(t: Test, name: string, buf: Buffer, target: TargetName, math?: MathProfile) {
  const file = join(t.testdir(), name);
  await writeFile(file, buf);
  await chmod(file, 0o755);
  return checkBinary(file, getTarget(target), `${target} ${name}`, { version: VERSION, runner: null, math });
}
const names = (r: { failures: Array<{ check: BinaryCheck }> }) => [...new Set(r.failures.map((f) => f.check))].sort();

/** The file offset of the first load command `cmd`. */
function loadCommand(buf: Buffer, cmd: number): number {
  let off = 32;
  for (let i = 0; i < buf.readUInt32LE(16); i++) {
    if (buf.readUInt32LE(off) === cmd) return off;
    off += buf.readUInt32LE(off + 4);
  }
  throw new Error(`no load command 0x${cmd.toString(16)}`);
}
const textOffset = (buf: Buffer) => readMachO(buf).sections.find((s) => s.name === '__text')!.offset;
const LC_BUILD_VERSION = 0x32;
const LC_CODE_SIGNATURE = 0x1d;

t.test('the real darwin binaries pass every Mach-O check, under both math profiles', async (t) => {
  for (const target of ['darwin-x64', 'darwin-arm64'] as const)
    for (const math of ['system', 'portable'] as const)
      for (const goal of ['release', 'debug'] as const) {
        const r = await check(t, `real-${math}-${goal}`, await real(target, goal, math), target, math);
        t.same(r.failures, [], `${target} ${goal} (${math}) passes`);
        t.equal(r.facts.minMacos, '11.0');
      }
  const arm = readMachO(await real('darwin-arm64'));
  t.same(arm.dylibs, ['/usr/lib/libSystem.B.dylib']);
  t.equal(arm.codeSignature?.codeDirectory?.hashType, 2, 'SHA-256 page hashes');
  t.same(arm.codeSignature?.codeDirectory?.badPages, []);
});

t.test('CPU type: an x64 binary claiming arm64 fails', async (t) => {
  const buf = await real('darwin-x64');
  buf.writeUInt32LE(0x0100000c, 4);
  const r = await check(t, 'planted-cputype', buf, 'darwin-x64');
  t.match(r.failures, [
    { check: 'macho-cputype', subject: /planted-cputype/, expected: /x86_64/, actual: /0x100000c/ },
  ]);
});

t.test('platform and minimum macOS come from LC_BUILD_VERSION', async (t) => {
  const ios = await real('darwin-x64');
  ios.writeUInt32LE(2, loadCommand(ios, LC_BUILD_VERSION) + 8); // PLATFORM_IOS
  const r = await check(t, 'planted-ios', ios, 'darwin-x64');
  t.match(r.failures, [{ check: 'macho-platform', expected: /platform 1 \(macOS\)/, actual: 'platform 2' }]);
  const newer = await real('darwin-x64');
  newer.writeUInt32LE((13 << 16) | (0 << 8), loadCommand(newer, LC_BUILD_VERSION) + 12);
  const n = await check(t, 'planted-macos13', newer, 'darwin-x64');
  t.match(n.failures, [{ check: 'macos-min-version', expected: /<= 11\.0/, actual: '13.0' }]);
});

t.test('no library but libSystem', async (t) => {
  const buf = await real('darwin-x64');
  const at = buf.indexOf('/usr/lib/libSystem.B.dylib\0', 0, 'latin1');
  buf.write('/opt/lib/libFoo1.B.dylib\0\0\0', at, 'latin1');
  const r = await check(t, 'planted-dylib', buf, 'darwin-x64');
  t.match(r.failures, [{ check: 'macho-dylibs', actual: /loads \/opt\/lib\/libFoo1\.B\.dylib/ }]);
});

t.test('arm64: the code signature must cover the bytes as they are', async (t) => {
  const flipped = await real('darwin-arm64');
  const at = textOffset(flipped) + 40_000;
  flipped[at] ^= 0x01; // one bit of code, changed after linking
  const r = await check(t, 'planted-flipped-byte', flipped, 'darwin-arm64');
  t.same(names(r), ['macho-code-signature'], 'only the signature notices');
  t.match(r.failures[0].actual, /1 of \d+ pages differ \(first: page \d+/);
  const unsigned = await real('darwin-arm64');
  unsigned.writeUInt32LE(0x1e, loadCommand(unsigned, LC_CODE_SIGNATURE)); // no longer a signature command
  const u = await check(t, 'planted-unsigned', unsigned, 'darwin-arm64');
  t.match(u.failures, [{ check: 'macho-code-signature', actual: 'no LC_CODE_SIGNATURE' }]);
  const badBlob = await real('darwin-arm64');
  const sig = readMachO(badBlob).codeSignature!;
  badBlob.writeUInt32BE(0xdeadbeef, sig.dataOff);
  const b = await check(t, 'planted-bad-superblob', badBlob, 'darwin-arm64');
  t.match(b.failures, [{ check: 'macho-code-signature', actual: /SuperBlob magic 0xdeadbeef/ }]);
});

t.test('no fused multiply-add', async (t) => {
  const arm = await real('darwin-arm64');
  Buffer.from([0x20, 0x0c, 0x42, 0x1f]).copy(arm, textOffset(arm)); // fmadd d0, d1, d2, d3
  const a = await check(t, 'planted-fmadd', arm, 'darwin-arm64');
  // (the signature fails too: the code changed after signing)
  const fused = a.failures.filter((f) => f.check === 'fused-multiply-add');
  t.match(fused, [{ actual: /^1 \(.*fmadd\s+d0, d1, d2, d3/ }]);
  t.same(names(a), ['fused-multiply-add', 'macho-code-signature']);
  const x64 = await real('darwin-x64');
  Buffer.from([0xc4, 0xe2, 0xf1, 0xb9, 0xc2]).copy(x64, textOffset(x64)); // vfmadd231sd %xmm2, %xmm1, %xmm0
  const x = await check(t, 'planted-vfmadd', x64, 'darwin-x64');
  t.match(x.failures, [{ check: 'fused-multiply-add', actual: /^1 \(.*vfmadd231sd/ }]);
});

t.test('portable: no libm math function imported', async (t) => {
  // the system-profile binary imports libSystem's math: refused when it claims portable
  const sys = await check(t, 'system-as-portable', await real('darwin-arm64'), 'darwin-arm64', 'portable');
  t.match(sys.failures, [{ check: 'portable-libm', actual: /imports .*\bcbrt\b.* from libSystem/ }]);
  // a portable binary with one import renamed to a math function (same length)
  const buf = await real('darwin-x64', 'release', 'portable');
  const { imports } = readMachO(buf);
  t.ok(imports.includes('_free') && !imports.includes('_sinh'));
  const at = buf.indexOf('\0_free\0', 0, 'latin1');
  buf.write('\0_sinh\0', at, 'latin1');
  t.ok(readMachO(buf).imports.includes('_sinh'), 'the planted import is in the symbol table');
  const p = await check(t, 'planted-sinh', buf, 'darwin-x64', 'portable');
  t.match(p.failures, [{ check: 'portable-libm', actual: 'imports sinh from libSystem' }]);
});
