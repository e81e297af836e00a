// Checks of one xsnap-worker binary against its target, from its bytes and by
// running it: header (ELF machine / Mach-O CPU and minimum macOS), glibc floor,
// and the version it reports. Shared by build-target and verify-artifacts.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import semver from 'semver';
import type { Failure } from './errors.ts';
import { readElf, isElf, compareGlibc } from './elf.ts';
import { readMachO, isMachO } from './macho.ts';
import { runRaw, which } from './exec.ts';
import { GLIBC_FLOOR, MACOS_MIN_VERSION, runnerFor, type Target } from './targets.ts';
import { existingBuildRoot } from './buildroot.ts';

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
}

/** How to run `target`'s binaries on this host (qemu + the build root's arm64 runtime for linux-arm64). */
export async function hostRunner(target: Target): Promise<string[] | null> {
  if (target.os === process.platform && target.cpu === process.arch) return [];
  if (target.name !== 'linux-arm64' || process.platform !== 'linux') return runnerFor(target);
  const qemu = await which('qemu-aarch64');
  const root = await existingBuildRoot();
  const sysroot = root && existsSync(root.arm64SysRoot) ? root.arm64SysRoot : existsSync('/usr/aarch64-linux-gnu') ? '/usr/aarch64-linux-gnu' : undefined;
  return runnerFor(target, { qemu, arm64SysRoot: sysroot });
}

/** `xsnap X.Y.Z (XS a.b.c)` -> `X.Y.Z` */
export function parseReportedVersion(line: string): string | null {
  const m = /^xsnap (\S+) \(XS [^)]+\)$/.exec(line.trim());
  return m ? m[1] : null;
}

export async function checkBinary(path: string, target: Target, label: string, opts: BinaryCheckOptions): Promise<{ facts: BinaryFacts; failures: Failure[]; warnings: string[] }> {
  const failures: Failure[] = [];
  const warnings: string[] = [];
  const fail = (check: string, expected: string, actual: string, hint?: string) => failures.push({ check, subject: `${label} (${path})`, expected, actual, hint });
  const facts: BinaryFacts = { format: 'unknown', executable: false, reportedVersion: null };

  let buf: Buffer;
  try {
    buf = await readFile(path);
    facts.executable = ((await stat(path)).mode & 0o111) === 0o111;
  } catch {
    fail('binary-present', 'a file', 'missing');
    return { facts, failures, warnings };
  }
  if (!facts.executable) fail('executable', 'mode with execute bits (0755)', ((await stat(path)).mode & 0o777).toString(8));

  const want = target.binary;
  try {
    if (want.format === 'elf') {
      if (!isElf(buf)) throw new Error(isMachO(buf) ? 'a Mach-O file, not ELF' : 'not an ELF file');
      const elf = readElf(buf);
      facts.format = 'elf';
      facts.machine = String(elf.machine);
      facts.maxGlibc = elf.maxGlibc;
      if (elf.machine !== want.machine) fail('elf-machine', `e_machine ${want.machine} (${want.machineName})`, `e_machine ${elf.machine}`, 'the binary was built for another architecture');
      if (elf.maxGlibc && compareGlibc(elf.maxGlibc, GLIBC_FLOOR) > 0) {
        const msg = `needs GLIBC_${elf.maxGlibc}, above the floor GLIBC_${GLIBC_FLOOR}`;
        if (opts.glibcFloorIsWarning) warnings.push(`${label}: ${msg} (host toolchain: not releasable)`);
        else fail('glibc-floor', `GLIBC <= ${GLIBC_FLOOR}`, `GLIBC_${elf.maxGlibc}`, 'build with the pinned build root (--toolchain pinned)');
      }
    } else {
      if (!isMachO(buf)) throw new Error(isElf(buf) ? 'an ELF file, not Mach-O' : 'not a Mach-O file');
      const macho = readMachO(buf);
      facts.format = 'macho';
      facts.machine = String(macho.cpuType);
      facts.minMacos = macho.minMacos;
      if (macho.cpuType !== want.cpuType) fail('macho-cputype', `cputype 0x${want.cpuType.toString(16)} (${want.cpuName})`, `cputype 0x${macho.cpuType.toString(16)}`, 'the binary was built for another architecture');
      const min = semver.coerce(macho.minMacos ?? '');
      if (!min || semver.gt(min, semver.coerce(MACOS_MIN_VERSION)!)) fail('macos-min-version', `minimum macOS <= ${MACOS_MIN_VERSION}`, String(macho.minMacos), `link with -mmacosx-version-min=${MACOS_MIN_VERSION}`);
    }
  } catch (e) {
    fail('binary-format', want.format === 'elf' ? `ELF for ${want.machineName}` : `Mach-O for ${want.cpuName}`, (e as Error).message);
  }

  if (opts.runner && facts.executable && failures.length === 0) {
    const r = await runRaw([...opts.runner, path, '-v'], { timeoutMs: 60_000 });
    const line = (r.stdout || r.stderr).trim().split('\n')[0] ?? '';
    facts.reportedVersion = line;
    const reported = parseReportedVersion(line);
    if (r.code !== 0 || reported !== opts.version) {
      fail('reported-version', `xsnap ${opts.version} (XS ...)`, r.code !== 0 ? `exit ${r.code}: ${line || r.stderr.trim()}` : line);
    }
  }
  return { facts, failures, warnings };
}
