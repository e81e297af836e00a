// The one table of targets. Every other file asks this module; nothing else
// lists targets, package names, platform dirs or toolchains.
import { UsageError } from './errors.ts';

export type TargetName = 'linux-x64' | 'linux-arm64' | 'darwin-x64' | 'darwin-arm64';
export type Goal = 'release' | 'debug';
export const GOALS: readonly Goal[] = ['release', 'debug'];

export interface Target {
  name: TargetName;
  /** npm `os` / Node's process.platform */
  os: 'linux' | 'darwin';
  /** npm `cpu` / Node's process.arch */
  cpu: 'x64' | 'arm64';
  /** npm `libc` field of the platform package (linux only) */
  libc?: 'glibc';
  /** the npm platform package */
  packageName: string;
  /** Moddable / xsnap-native makefile platform dir */
  platformDir: 'lin' | 'mac';
  /** compiler inside the pinned Linux build root, or on the macOS host */
  compiler: string;
  /** ELF e_machine, or Mach-O cputype, that the binary must carry */
  binary: { format: 'elf'; machine: number; machineName: string } | { format: 'macho'; cpuType: number; cpuName: string };
  /**
   * GitHub-hosted runners: `build` compiles it, `check` runs it natively.
   * linux-arm64 is cross-compiled on x64 inside the same pinned build root as
   * linux-x64, so CI and developer machines produce identical bytes; it is then
   * run and fingerprinted on a native arm64 runner.
   */
  ci: { build: string; check: string };
  /** the kind of host that can build it */
  buildHost: 'linux' | 'darwin';
}

const ELF_X86_64 = 62;
const ELF_AARCH64 = 183;
const CPU_TYPE_X86_64 = 0x01000007;
const CPU_TYPE_ARM64 = 0x0100000c;

export const TARGETS: readonly Target[] = [
  {
    name: 'linux-x64', os: 'linux', cpu: 'x64', libc: 'glibc',
    packageName: '@agoric/xsnap-linux-x64', platformDir: 'lin',
    compiler: 'gcc',
    binary: { format: 'elf', machine: ELF_X86_64, machineName: 'x86-64' },
    ci: { build: 'ubuntu-24.04', check: 'ubuntu-24.04' }, buildHost: 'linux',
  },
  {
    name: 'linux-arm64', os: 'linux', cpu: 'arm64', libc: 'glibc',
    packageName: '@agoric/xsnap-linux-arm64', platformDir: 'lin',
    // cross-compiled inside the pinned build root on any Linux host
    compiler: 'aarch64-linux-gnu-gcc',
    binary: { format: 'elf', machine: ELF_AARCH64, machineName: 'AArch64' },
    ci: { build: 'ubuntu-24.04', check: 'ubuntu-24.04-arm' }, buildHost: 'linux',
  },
  {
    name: 'darwin-x64', os: 'darwin', cpu: 'x64',
    packageName: '@agoric/xsnap-darwin-x64', platformDir: 'mac',
    compiler: 'cc', // Apple clang; the CPU goes through the mac makefile's MACOS_ARCH
    binary: { format: 'macho', cpuType: CPU_TYPE_X86_64, cpuName: 'x86_64' },
    ci: { build: 'macos-15-intel', check: 'macos-15-intel' }, buildHost: 'darwin',
  },
  {
    name: 'darwin-arm64', os: 'darwin', cpu: 'arm64',
    packageName: '@agoric/xsnap-darwin-arm64', platformDir: 'mac',
    compiler: 'cc', // Apple clang; the CPU goes through the mac makefile's MACOS_ARCH
    binary: { format: 'macho', cpuType: CPU_TYPE_ARM64, cpuName: 'arm64' },
    ci: { build: 'macos-15', check: 'macos-15' }, buildHost: 'darwin',
  },
];

export const TARGET_NAMES: readonly TargetName[] = TARGETS.map((t) => t.name);

/** Oldest glibc the linux binaries may need: Ubuntu 20.04 and Debian 11 validators run them. */
export const GLIBC_FLOOR = '2.31';
/** Oldest macOS the darwin binaries run on. */
export const MACOS_MIN_VERSION = '11.0';

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
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('--targets needs at least one target name');
  const seen = new Set<string>();
  return names.map((n) => {
    if (seen.has(n)) throw new UsageError(`target "${n}" is listed twice in --targets`);
    seen.add(n);
    return getTarget(n);
  });
}

/** The target matching this Node process, if any (used to pick the package to install back). */
export function hostTarget(platform = process.platform, arch = process.arch): Target | undefined {
  return TARGETS.find((t) => t.os === platform && t.cpu === arch);
}

/** Whether this host can build `target` at all (darwin needs macOS). */
export function canBuildOn(target: Target, platform = process.platform): boolean {
  return target.buildHost === platform;
}

/**
 * How to run `target`'s binary on this host: the argv prefix, or null when it cannot run here.
 * linux-arm64 runs under qemu-aarch64 on an x64 Linux host, with the arm64 runtime from
 * `arm64SysRoot` (the pinned build root carries it).
 */
export function runnerFor(
  target: Target,
  opts: { platform?: string; arch?: string; arm64SysRoot?: string; qemu?: string | null } = {},
): string[] | null {
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  if (target.os !== platform) return null;
  if (target.cpu === arch) return [];
  if (platform === 'linux' && target.cpu === 'arm64' && arch === 'x64' && opts.qemu && opts.arm64SysRoot) {
    return [opts.qemu, '-L', opts.arm64SysRoot];
  }
  if (platform === 'darwin' && target.cpu === 'x64' && arch === 'arm64') {
    return ['arch', '-x86_64']; // Rosetta 2
  }
  return null;
}
