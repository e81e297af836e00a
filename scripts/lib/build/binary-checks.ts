// Checks of one xsnap-worker binary against its target, from its bytes and by
// running it: header (ELF machine / Mach-O CPU and minimum macOS), glibc floor,
// no fused multiply-add instruction, no libm math import under the portable
// math profile, and the version it reports. Shared by build-target and
// verify-artifacts.
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import coerce from 'semver/functions/coerce.js';
import gt from 'semver/functions/gt.js';
import { OperationError, type Failure } from '../core/errors.ts';
import { readElf, isElf, compareGlibc } from './elf.ts';
import { readMachO, isMachO, PLATFORM_MACOS, type MachOInfo } from './macho.ts';
import { runRaw, which } from '../core/exec.ts';
import { sha256Hex } from '../core/hash.ts';
import { glibcFloorOf, macosMinOf, runnerFor, type Target } from '../core/targets.ts';
import { debFileName, existingBuildRoot, fetchPinnedDeb, LOCK_FILE, readLock, type BuildRoot } from './buildroot.ts';
import type { MathProfile } from '../core/pin.ts';
import { readLibmPin } from './portable-libm.ts';

export interface BinaryFacts {
  format: 'elf' | 'macho' | 'unknown';
  machine?: string;
  maxGlibc?: string | null;
  minMacos?: string | null;
  executable: boolean;
  /** what `xsnap-worker -v` printed, or null if it cannot run on this host */
  reportedVersion: string | null;
}

export interface BinaryCheckOptions {
  version: string;
  /** argv prefix to run the binary on this host; null: do not run it here */
  runner: string[] | null;
  /** report a glibc above the floor as a warning, not a failure (host-toolchain builds) */
  glibcFloorIsWarning?: boolean;
  /** "portable": the binary must import no libm math function */
  math?: MathProfile;
}

/**
 * Fused multiply-add mnemonics per CPU, as objdump/otool print them. One
 * rounding instead of two: a binary holding any computes other doubles than
 * one without (see docs/consensus.md, -ffp-contract=off).
 */
export const FUSED_MNEMONICS: Record<Target['cpu'], RegExp> = {
  arm64: /\s(fmadd|fmsub|fnmadd|fnmsub|fmla|fmls)\s/,
  x64: /\s(vfn?m(add|sub)(132|213|231)?[ps][sd])\s/,
};

/** argv prefix that runs an x86-64 program with the build root's loader and libraries (glibc 2.31), or null. */
export function buildRootLoader(root: BuildRoot | null): string[] | null {
  if (!root || process.platform !== 'linux' || process.arch !== 'x64') return null;
  const loader = join(root.path, 'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
  if (!existsSync(loader)) return null;
  return [
    loader,
    '--library-path',
    [join(root.path, 'lib/x86_64-linux-gnu'), join(root.path, 'usr/lib/x86_64-linux-gnu')].join(':'),
  ];
}

/**
 * How to run linux-x64 binaries at the glibc floor here: with the build root's
 * glibc, or (where there is no build root, as on CI's verify runners) with
 * Debian 11's libc6 package as buildroot-lock.json pins it, unpacked once per
 * process. Null on other hosts.
 */
export async function glibcFloorRunner(): Promise<string[] | null> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  return buildRootLoader(await existingBuildRoot()) ?? (floorFromLibc6 ??= unpackFloorLibc6());
}

let floorFromLibc6: Promise<string[]> | undefined;

async function unpackFloorLibc6(): Promise<string[]> {
  const libc6 = readLock().packages.find((p) => p.name === 'libc6' && p.arch === 'amd64');
  if (!libc6) throw new OperationError(`${LOCK_FILE} pins no libc6 for amd64`);
  const dir = await mkdtemp(join(tmpdir(), 'xsnap-glibc-floor-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const x = await fetchPinnedDeb(
    {
      package: libc6.name,
      version: libc6.version,
      sha256: libc6.sha256,
      path: `pool/main/g/glibc/${debFileName(libc6)}`,
    },
    dir,
  );
  const lib = join(x, 'lib/x86_64-linux-gnu');
  return [join(lib, 'ld-linux-x86-64.so.2'), '--library-path', lib];
}

/** A disassembler for `target`'s binaries on this host: argv before the file, or null. */
export async function disassemblerFor(target: Target): Promise<string[] | null> {
  if (target.binary.format === 'macho') {
    // Debian's llvm package (scripts/setup.sh) reads Mach-O anywhere; macOS has otool. Without --macho (otool's
    // format) it takes half the time and disassembles __stubs and __stub_helper besides __text
    const llvm = await which('llvm-objdump');
    if (llvm) return [llvm, '-d', '--no-show-raw-insn'];
    return process.platform === 'darwin' ? ['otool', '-tvV'] : null;
  }
  const native = target.cpu === process.arch && process.platform === 'linux' ? await which('objdump') : null;
  const cross = target.cpu === 'arm64' ? await which('aarch64-linux-gnu-objdump') : null;
  if (native ?? cross) return [(native ?? cross)!, '-d', '--no-show-raw-insn'];
  // the pinned build root carries binutils for both CPUs
  const root = await existingBuildRoot();
  const loader = buildRootLoader(root);
  const tool = root && join(root.path, 'usr/bin', target.cpu === 'arm64' ? 'aarch64-linux-gnu-objdump' : 'objdump');
  return loader && tool && existsSync(tool) ? [...loader, tool, '-d', '--no-show-raw-insn'] : null;
}

const fusedCache = new Map<string, { count: number; first: string[] } | string>();

/** Count fused multiply-add instructions in a binary's code (cached by content). */
export async function fusedInstructions(
  path: string,
  buf: Buffer,
  target: Target,
): Promise<{ count: number; first: string[] } | string> {
  const key = `${target.cpu}:${sha256Hex(buf)}`;
  const hit = fusedCache.get(key);
  if (hit) return hit;
  const tool = await disassemblerFor(target);
  if (!tool) return `no disassembler for ${target.name} binaries on ${process.platform}-${process.arch}`;
  const r = await runRaw([...tool, path], { timeoutMs: 120_000 });
  if (r.code !== 0) return `${tool.at(-3) ?? tool[0]} failed (exit ${r.code}): ${r.stderr.trim().split('\n')[0]}`;
  const pattern = FUSED_MNEMONICS[target.cpu];
  const lines = r.stdout.split('\n').filter((l) => pattern.test(l));
  const result = { count: lines.length, first: lines.slice(0, 3).map((l) => l.trim().replace(/\s+/g, ' ')) };
  fusedCache.set(key, result);
  return result;
}

/**
 * Math functions a Mach-O binary imports: its symbol table's undefined externals that the portable libm
 * defines (macOS has no separate libm: they would bind to libSystem).
 */
export function machoMathImports(macho: MachOInfo): string[] {
  const math = new Set(
    [...readLibmPin().files.filter((f) => !f.startsWith('_') && !f.endsWith('_data')), 'nearbyint'].map((f) => `_${f}`),
  );
  return macho.imports
    .filter((n) => math.has(n))
    .map((n) => n.slice(1))
    .sort();
}

/** libm math functions an ELF binary imports (bound to libm.so.*). */
export const libmImports = (elf: ReturnType<typeof readElf>) =>
  elf.imports
    .filter((i) => i.library?.startsWith('libm.so'))
    .map((i) => i.name)
    .sort();

/**
 * How to run `target`'s binaries on this host: natively, under Rosetta, or under qemu
 * with the target's runtime from the build root (else from /), as `target.run` says.
 */
export async function hostRunner(target: Target): Promise<string[] | null> {
  const direct = runnerFor(target);
  if (direct) return direct;
  const host = `${process.platform}-${process.arch}`;
  const qemu = target.run.flatMap((w) => (w.via === 'qemu' && w.host === host ? [w] : []))[0];
  if (!qemu) return null;
  const emulator = await which(qemu.emulator);
  const root = await existingBuildRoot();
  const inRoot = root && join(root.path, qemu.sysroot);
  const fromRoot = `/${qemu.sysroot}`;
  const sysroot = inRoot && existsSync(inRoot) ? inRoot : existsSync(fromRoot) ? fromRoot : undefined;
  return runnerFor(target, { qemu: emulator, sysroot });
}

/** `xsnap X.Y.Z (XS a.b.c)` -> `X.Y.Z` */
export function parseReportedVersion(line: string): string | null {
  const m = /^xsnap (\S+) \(XS [^)]+\)$/.exec(line.trim());
  return m ? m[1] : null;
}

/** The names of the checks checkBinary reports. */
export const BINARY_CHECKS = [
  'binary-present',
  'executable',
  'binary-format',
  'elf-machine',
  'glibc-floor',
  'macho-cputype',
  'macho-platform',
  'macos-min-version',
  'macho-dylibs',
  'macho-code-signature',
  'portable-libm',
  'fused-multiply-add',
  'reported-version',
] as const;
export type BinaryCheck = (typeof BINARY_CHECKS)[number];

/**
 * The code signature: required where the table says `signed` (arm64: macOS kills unsigned code), checked
 * wherever present. Its CodeDirectory's page hashes must match the file's bytes: a byte changed after
 * linking (or signing) makes macOS kill the process at the first page it loads.
 */
function checkSignature(
  macho: MachOInfo,
  required: boolean,
  fail: (check: BinaryCheck, expected: string, actual: string, hint?: string) => void,
): void {
  const sig = macho.codeSignature;
  const expected = 'an LC_CODE_SIGNATURE whose CodeDirectory page hashes match the file';
  if (!sig) {
    if (required) fail('macho-code-signature', expected, 'no LC_CODE_SIGNATURE', 'link with zig (it signs ad hoc)');
    return;
  }
  const hint = 'the file changed after it was signed: rebuild it; never patch a signed binary';
  if (sig.problems.length) return fail('macho-code-signature', expected, sig.problems.join('; '), hint);
  const cd = sig.codeDirectory!;
  if (cd.badPages.length) {
    const first = cd.badPages[0];
    const at = `bytes ${first.page * cd.pageSize}..${(first.page + 1) * cd.pageSize - 1}`;
    fail(
      'macho-code-signature',
      expected,
      `${cd.badPages.length} of ${cd.nCodeSlots} pages differ (first: page ${first.page}, ${at}, signed ${first.recorded.slice(0, 16)}..., file ${first.actual.slice(0, 16)}...)`,
      hint,
    );
  }
}

export async function checkBinary(
  path: string,
  target: Target,
  label: string,
  opts: BinaryCheckOptions,
): Promise<{ facts: BinaryFacts; failures: Failure<BinaryCheck>[]; warnings: string[] }> {
  const failures: Failure<BinaryCheck>[] = [];
  const warnings: string[] = [];
  const fail = (check: BinaryCheck, expected: string, actual: string, hint?: string) =>
    failures.push({ check, subject: `${label} (${path})`, expected, actual, hint });
  const facts: BinaryFacts = { format: 'unknown', executable: false, reportedVersion: null };

  let buf: Buffer;
  try {
    buf = await readFile(path);
    facts.executable = ((await stat(path)).mode & 0o111) === 0o111;
  } catch {
    fail('binary-present', 'a file', 'missing');
    return { facts, failures, warnings };
  }
  if (!facts.executable)
    fail('executable', 'mode with execute bits (0755)', ((await stat(path)).mode & 0o777).toString(8));

  const want = target.binary;
  try {
    if (want.format === 'elf') {
      if (!isElf(buf)) throw new Error(isMachO(buf) ? 'a Mach-O file, not ELF' : 'not an ELF file');
      const elf = readElf(buf);
      facts.format = 'elf';
      facts.machine = String(elf.machine);
      facts.maxGlibc = elf.maxGlibc;
      if (elf.machine !== want.machine)
        fail(
          'elf-machine',
          `e_machine ${want.machine} (${want.machineName})`,
          `e_machine ${elf.machine}`,
          'the binary was built for another architecture',
        );
      if (opts.math === 'portable') {
        const libm = libmImports(elf);
        if (libm.length)
          fail(
            'portable-libm',
            'no libm math function imported (math profile portable)',
            `imports ${libm.join(', ')} from libm`,
            'a function the worker uses is missing from native/portable-libm/pin.json files, or the archive was not linked ahead of -lm',
          );
      }
      const floor = glibcFloorOf(target); // none for musl: its binaries carry no symbol versions
      if (floor && elf.maxGlibc && compareGlibc(elf.maxGlibc, floor) > 0) {
        const msg = `needs GLIBC_${elf.maxGlibc}, above the floor GLIBC_${floor}`;
        const hint = 'build with the pinned build root (--toolchain pinned)';
        if (opts.glibcFloorIsWarning) warnings.push(`${label}: ${msg} (host toolchain: not releasable)`);
        else fail('glibc-floor', `GLIBC <= ${floor}`, `GLIBC_${elf.maxGlibc}`, hint);
      }
    } else {
      if (!isMachO(buf)) throw new Error(isElf(buf) ? 'an ELF file, not Mach-O' : 'not a Mach-O file');
      const macho = readMachO(buf);
      facts.format = 'macho';
      facts.machine = String(macho.cpuType);
      facts.minMacos = macho.minMacos;
      if (macho.cpuType !== want.cpuType)
        fail(
          'macho-cputype',
          `cputype 0x${want.cpuType.toString(16)} (${want.cpuName})`,
          `cputype 0x${macho.cpuType.toString(16)}`,
          'the binary was built for another architecture',
        );
      if (macho.platform !== PLATFORM_MACOS)
        fail(
          'macho-platform',
          `LC_BUILD_VERSION platform ${PLATFORM_MACOS} (macOS)`,
          macho.platform === null ? 'no LC_BUILD_VERSION' : `platform ${macho.platform}`,
          'link for macOS (zig cc -target <cpu>-macos.<version>-none)',
        );
      const extra = macho.dylibs.filter((d) => !want.dylibs.includes(d));
      if (extra.length || !macho.dylibs.length)
        fail(
          'macho-dylibs',
          `loads only ${want.dylibs.join(', ')}`,
          macho.dylibs.length ? `loads ${macho.dylibs.join(', ')}` : 'loads no library',
          'a library beyond libSystem is not on every Mac: link it statically or drop it',
        );
      checkSignature(macho, want.signed, fail);
      if (opts.math === 'portable') {
        const libm = machoMathImports(macho);
        if (libm.length)
          fail(
            'portable-libm',
            'no libm math function imported (math profile portable)',
            `imports ${libm.join(', ')} from libSystem`,
            'a function the worker uses is missing from native/portable-libm/pin.json files, or the archive was not linked',
          );
      }
      const min = coerce(macho.minMacos ?? '');
      const floor = macosMinOf(target);
      if (floor && (!min || gt(min, coerce(floor)!))) {
        const hint = `link with -mmacosx-version-min=${floor}`;
        fail('macos-min-version', `minimum macOS <= ${floor}`, String(macho.minMacos), hint);
      }
    }
  } catch (e) {
    fail(
      'binary-format',
      want.format === 'elf' ? `ELF for ${want.machineName}` : `Mach-O for ${want.cpuName}`,
      (e as Error).message,
    );
  }

  if (facts.format !== 'unknown') {
    const fused = await fusedInstructions(path, buf, target);
    if (typeof fused === 'string')
      fail(
        'fused-multiply-add',
        'no fused multiply-add instruction in the code',
        `cannot check: ${fused}`,
        want.format === 'macho'
          ? "install Debian's llvm (llvm-objdump reads Mach-O): bash scripts/setup.sh"
          : 'install binutils (objdump), or make the build root (build-target.ts) that carries one',
      );
    else if (fused.count)
      fail(
        'fused-multiply-add',
        'no fused multiply-add instruction in the code',
        `${fused.count} (${fused.first.join('; ')})`,
        'build with -ffp-contract=off: a fused a*b+c rounds once, so this target computes other doubles than the others',
      );
  }

  if (opts.runner && facts.executable && failures.length === 0) {
    const r = await runRaw([...opts.runner, path, '-v'], { timeoutMs: 60_000 });
    const line = (r.stdout || r.stderr).trim().split('\n')[0] ?? '';
    facts.reportedVersion = line;
    const reported = parseReportedVersion(line);
    if (r.code !== 0 || reported !== opts.version) {
      fail(
        'reported-version',
        `xsnap ${opts.version} (XS ...)`,
        r.code !== 0 ? `exit ${r.code}: ${line || r.stderr.trim()}` : line,
      );
    }
  }
  return { facts, failures, warnings };
}
