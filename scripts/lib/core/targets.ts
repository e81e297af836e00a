// The one table of targets. Every other file asks this module; nothing else
// lists targets, package names, platform dirs or toolchains, and nothing tells
// targets apart by name: what differs between them is a field here.
import { UsageError } from './errors.ts';
import type { MathProfile } from './pin.ts';

export type TargetName = 'linux-x64' | 'linux-arm64' | 'darwin-x64' | 'darwin-arm64';
export type Goal = 'release' | 'debug';
export const GOALS: readonly Goal[] = ['release', 'debug'];

/** The C library a linux binary links (npm's `libc` field of its package). */
export type Libc = 'glibc' | 'musl';
export const LIBCS: readonly Libc[] = ['glibc', 'musl'];
/**
 * pinned: inside the Debian bullseye build root (linux targets, releasable);
 * zig: the pinned zig (native/zig/pin.json) on a Linux x64 host, beside the
 * build root: it is one static binary with its own macOS headers and libSystem
 * stubs, so it needs no chroot (darwin targets, releasable);
 * host: this machine's compiler, never releasable (on macOS: Apple clang, which
 * verify.yml's macOS legs use to cross-check the zig-built binaries).
 */
export type ToolchainKind = 'pinned' | 'zig' | 'host';
export const TOOLCHAIN_KINDS: readonly ToolchainKind[] = ['pinned', 'zig', 'host'];
/** A host as Node names it: `${process.platform}-${process.arch}`. */
export type HostName = `${Target['os']}-${Target['cpu']}`;

/** The oldest system the binaries run on: checked on every binary, stated in its package's README. */
export type Floor =
  | {
      kind: 'glibc';
      /** the newest GLIBC_x.y symbol version a binary may need */
      version: string;
      /** the systems that version admits, for the README */
      systems: string;
      /** verify also runs the determinism corpus at the floor (glibcFloorRunner: the pinned x86-64 glibc) */
      determinismAtFloor: boolean;
    }
  | { kind: 'macos'; version: string };

/** A way to run a target's binaries on some host (runnerFor picks the first that fits this one). */
export type RunWay =
  /** as is, on a host of the target's os and cpu (and C library, when `libc` is given) */
  | { via: 'native'; libc?: Libc }
  /** on `host` under qemu-user, with the target's C runtime from `sysroot` (in the build root, else below /) */
  | { via: 'qemu'; host: HostName; emulator: string; sysroot: string }
  /** on `host` under Rosetta 2 */
  | { via: 'rosetta'; host: HostName };

export interface Target {
  name: TargetName;
  /** npm `os` / Node's process.platform */
  os: 'linux' | 'darwin';
  /** npm `cpu` / Node's process.arch */
  cpu: 'x64' | 'arm64';
  /** the C library it links, and npm `libc` of its package; null: none to name (darwin's libSystem) */
  libc: Libc | null;
  /** the oldest system it runs on; null: nothing to check (musl binaries carry no symbol versions) */
  floor: Floor | null;
  /** the npm platform package */
  packageName: string;
  /** Moddable / xsnap-native makefile platform dir */
  platformDir: 'lin' | 'mac';
  /** compiler inside the pinned Linux build root, or (darwin) Apple's on a macOS host (`--toolchain host`) */
  compiler: string;
  /** zig toolchain: the `zig cc -target` triple (CPU, os and minimum macOS); null: not built with zig */
  zigTarget: string | null;
  /** the toolchains that may build it; the first is the default */
  toolchains: readonly ToolchainKind[];
  /** the math profiles it can be built with (docs/consensus.md) */
  math: readonly MathProfile[];
  /** ELF e_machine, or Mach-O cputype, that the binary must carry */
  binary:
    | { format: 'elf'; machine: number; machineName: string }
    | {
        format: 'macho';
        cpuType: number;
        cpuName: string;
        /** the only libraries it may load */
        dylibs: readonly string[];
        /** must carry a code signature whose page hashes match (macOS kills unsigned arm64 code) */
        signed: boolean;
      };
  /** how to run its binaries, here or elsewhere */
  run: readonly RunWay[];
  /**
   * GitHub-hosted runners: `build` compiles it, `check` runs it natively.
   * linux-arm64 is cross-compiled on x64 inside the same pinned build root as
   * linux-x64, so CI and developer machines produce identical bytes; it is then
   * run and fingerprinted on a native arm64 runner.
   */
  ci: { build: string; check: string };
  /** the kind of host its default (releasable) toolchain runs on; `--toolchain host` builds on a host of its os */
  buildHost: 'linux' | 'darwin';
}

const ELF_X86_64 = 62;
const ELF_AARCH64 = 183;
const CPU_TYPE_X86_64 = 0x01000007;
const CPU_TYPE_ARM64 = 0x0100000c;

/** Ubuntu 20.04 and Debian 11 validators run the linux binaries. */
const GLIBC_2_31 = { kind: 'glibc', version: '2.31', systems: 'Ubuntu 20.04, Debian 11 and later' } as const;
const MACOS_11 = { kind: 'macos', version: '11.0' } as const;
/** macOS has no separate libm or libc: everything the worker calls is in libSystem */
const MACOS_DYLIBS = ['/usr/lib/libSystem.B.dylib'];
const LINUX_TOOLCHAINS: readonly ToolchainKind[] = ['pinned', 'host'];
const MACOS_TOOLCHAINS: readonly ToolchainKind[] = ['zig', 'host'];
const ALL_MATH: readonly MathProfile[] = ['system', 'portable'];

export const TARGETS: readonly Target[] = [
  {
    name: 'linux-x64',
    os: 'linux',
    cpu: 'x64',
    libc: 'glibc',
    floor: { ...GLIBC_2_31, determinismAtFloor: true },
    packageName: '@agoric/xsnap-linux-x64',
    platformDir: 'lin',
    compiler: 'gcc',
    zigTarget: null,
    toolchains: LINUX_TOOLCHAINS,
    math: ALL_MATH,
    binary: { format: 'elf', machine: ELF_X86_64, machineName: 'x86-64' },
    run: [{ via: 'native' }],
    ci: { build: 'ubuntu-24.04', check: 'ubuntu-24.04' },
    buildHost: 'linux',
  },
  {
    name: 'linux-arm64',
    os: 'linux',
    cpu: 'arm64',
    libc: 'glibc',
    floor: { ...GLIBC_2_31, determinismAtFloor: false },
    packageName: '@agoric/xsnap-linux-arm64',
    platformDir: 'lin',
    // cross-compiled inside the pinned build root on any Linux host
    compiler: 'aarch64-linux-gnu-gcc',
    zigTarget: null,
    toolchains: LINUX_TOOLCHAINS,
    math: ALL_MATH,
    binary: { format: 'elf', machine: ELF_AARCH64, machineName: 'AArch64' },
    // the build root carries the arm64 runtime (and so does Debian's libc6-arm64-cross)
    run: [
      { via: 'native' },
      { via: 'qemu', host: 'linux-x64', emulator: 'qemu-aarch64', sysroot: 'usr/aarch64-linux-gnu' },
    ],
    ci: { build: 'ubuntu-24.04', check: 'ubuntu-24.04-arm' },
    buildHost: 'linux',
  },
  {
    name: 'darwin-x64',
    os: 'darwin',
    cpu: 'x64',
    libc: null,
    floor: MACOS_11,
    packageName: '@agoric/xsnap-darwin-x64',
    platformDir: 'mac',
    compiler: 'cc', // Apple clang (--toolchain host on macOS); the CPU goes through the mac makefile's MACOS_ARCH
    // cross-compiled on Linux x64 by the pinned zig, beside the build root (linux-arm64's job in build.yml)
    zigTarget: 'x86_64-macos.11.0-none',
    toolchains: MACOS_TOOLCHAINS,
    math: ALL_MATH,
    // signed when signed (zig does not sign x86-64; macOS runs unsigned x86-64 code)
    binary: { format: 'macho', cpuType: CPU_TYPE_X86_64, cpuName: 'x86_64', dylibs: MACOS_DYLIBS, signed: false },
    run: [{ via: 'native' }, { via: 'rosetta', host: 'darwin-arm64' }],
    ci: { build: 'ubuntu-24.04', check: 'macos-15-intel' },
    buildHost: 'linux',
  },
  {
    name: 'darwin-arm64',
    os: 'darwin',
    cpu: 'arm64',
    libc: null,
    floor: MACOS_11,
    packageName: '@agoric/xsnap-darwin-arm64',
    platformDir: 'mac',
    compiler: 'cc', // Apple clang (--toolchain host on macOS); the CPU goes through the mac makefile's MACOS_ARCH
    zigTarget: 'aarch64-macos.11.0-none',
    toolchains: MACOS_TOOLCHAINS,
    math: ALL_MATH,
    binary: { format: 'macho', cpuType: CPU_TYPE_ARM64, cpuName: 'arm64', dylibs: MACOS_DYLIBS, signed: true },
    run: [{ via: 'native' }],
    ci: { build: 'ubuntu-24.04', check: 'macos-15' },
    buildHost: 'linux',
  },
];

export const TARGET_NAMES: readonly TargetName[] = TARGETS.map((t) => t.name);

/** The glibc version `t`'s binaries may need at most, or undefined (no glibc floor: darwin, musl). */
export const glibcFloorOf = (t: Target): string | undefined =>
  t.floor?.kind === 'glibc' ? t.floor.version : undefined;
/** The oldest macOS `t`'s binaries run on, or undefined (linux). */
export const macosMinOf = (t: Target): string | undefined => (t.floor?.kind === 'macos' ? t.floor.version : undefined);

/** What `t` needs, as its package's README says it. */
export function floorText(t: Target): string {
  if (t.floor?.kind === 'glibc') return `glibc ${t.floor.version} or newer (${t.floor.systems})`;
  if (t.floor?.kind === 'macos') return `macOS ${t.floor.version} or newer`;
  return t.libc ? `the ${t.libc} C library` : t.os;
}

export function getTarget(name: string): Target {
  const target = TARGETS.find((t) => t.name === name);
  if (target) return target;
  const supported = TARGET_NAMES.join(', ');
  if (/^win(32|dows)?[-_]|^win32$/i.test(name)) {
    throw new UsageError(`target "${name}": Windows is not supported by xsnap-worker. Supported targets: ${supported}`);
  }
  throw new UsageError(`unknown target "${name}". Supported targets: ${supported}`);
}

/** Parse a `--targets a,b` list (default: every target), refusing unknown and duplicate names. */
export function parseTargetList(value: string | undefined): Target[] {
  if (value === undefined || value === '' || value === 'all') return [...TARGETS];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new UsageError('--targets needs at least one target name');
  const seen = new Set<string>();
  return names.map((n) => {
    if (seen.has(n)) throw new UsageError(`target "${n}" is listed twice in --targets`);
    seen.add(n);
    return getTarget(n);
  });
}

let detectedLibc: Libc | undefined;

/** This process's C library: glibc or musl on Linux (Node reports a glibc version only under glibc), null elsewhere. */
export function hostLibc(): Libc | null {
  if (process.platform !== 'linux') return null;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return (detectedLibc ??= report?.header?.glibcVersionRuntime ? 'glibc' : 'musl');
}

/** The host's C library when it is this process's host, else null (unknown). */
const libcOf = (platform: string): Libc | null => (platform === process.platform ? hostLibc() : null);

/** The target matching this Node process, if any (used to pick the package to install back). */
export function hostTarget(
  platform = process.platform,
  arch = process.arch,
  libc = libcOf(platform),
): Target | undefined {
  return TARGETS.find((t) => t.os === platform && t.cpu === arch && (!t.libc || !libc || t.libc === libc));
}

/**
 * Whether this host can build `target` with `toolchain` (default: its releasable one).
 * `host` builds a target on a host of its own os (darwin: Apple clang on macOS); `zig` needs an x64
 * host, the one the pinned zig package is built for (native/zig/pin.json).
 */
export function canBuildOn(
  target: Target,
  platform = process.platform,
  toolchain: ToolchainKind = target.toolchains[0],
  arch = process.arch,
): boolean {
  if (toolchain === 'host') return target.os === platform;
  return target.buildHost === platform && (toolchain !== 'zig' || arch === 'x64');
}

/**
 * How to run `target`'s binary on this host: the argv prefix, or null when it cannot run here.
 * The first of `target.run` that fits the host; a qemu way needs `qemu` (the emulator's
 * path) and `sysroot` (the target's C runtime) found on this host (binary-checks' hostRunner).
 */
export function runnerFor(
  target: Target,
  opts: { platform?: string; arch?: string; libc?: Libc | null; sysroot?: string; qemu?: string | null } = {},
): string[] | null {
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  const host = `${platform}-${arch}`;
  for (const way of target.run) {
    if (way.via === 'native' && target.os === platform && target.cpu === arch) {
      if (!way.libc || way.libc === (opts.libc === undefined ? libcOf(platform) : opts.libc)) return [];
    }
    if (way.via === 'qemu' && way.host === host && opts.qemu && opts.sysroot) return [opts.qemu, '-L', opts.sysroot];
    if (way.via === 'rosetta' && way.host === host) return ['arch', '-x86_64']; // Rosetta 2 runs x86-64 only
  }
  return null;
}

/** A GitHub Actions matrix of every target: `build` legs on `ci.build`, `check` legs on `ci.check` (ci-matrix.ts). */
export function ciMatrix(role: 'build' | 'check'): { include: Array<{ target: TargetName; runner: string }> } {
  return { include: TARGETS.map((t) => ({ target: t.name, runner: t.ci[role] })) };
}
