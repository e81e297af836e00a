// The pinned Linux build root: a Debian 11 (bullseye) tree made by debootstrap,
// with gcc and the aarch64 cross compiler. Building inside it means every
// machine uses the same compiler and the binaries need at most glibc 2.31.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { log, timed } from './cli.ts';
import { OperationError, UsageError } from './errors.ts';
import { run, which } from './exec.ts';
import { canonicalJson, idOf } from './hash.ts';
import { cacheDir } from './paths.ts';

/** Change this and every machine makes a new build root (and rebuilds). */
export const BUILD_ROOT_SPEC = {
  distribution: 'debian',
  suite: 'bullseye',
  arch: 'amd64',
  variant: 'minbase',
  include: ['build-essential', 'gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'],
} as const;

/** Packages whose exact versions define the toolchain (and so the bytes we produce). */
const TOOLCHAIN_PACKAGES = ['gcc-10', 'cpp-10', 'binutils', 'libc6-dev', 'make', 'gcc-10-aarch64-linux-gnu', 'binutils-aarch64-linux-gnu', 'libc6-dev-arm64-cross'];

export interface BuildRoot {
  path: string;
  /** id of the spec + the exact toolchain package versions */
  id: string;
  suite: string;
  packages: Record<string, string>;
  /** where the arm64 runtime lives, for qemu-aarch64 -L */
  arm64SysRoot: string;
}

const STAMP = 'xsnap-buildroot.json';

export function debianMirror(): string {
  return process.env.XSNAP_DEBIAN_MIRROR || 'http://deb.debian.org/debian';
}

export function buildRootDir(): string {
  return join(cacheDir(), 'buildroots', `${BUILD_ROOT_SPEC.suite}-${idOf(BUILD_ROOT_SPEC)}`);
}

async function readStamp(dir: string): Promise<BuildRoot | null> {
  const file = join(dir, STAMP);
  if (!existsSync(file)) return null;
  const s = JSON.parse(await readFile(file, 'utf8')) as Omit<BuildRoot, 'path' | 'arm64SysRoot'>;
  return { ...s, path: dir, arm64SysRoot: join(dir, 'usr/aarch64-linux-gnu') };
}

/** The build root if it exists already (no side effects). */
export async function existingBuildRoot(): Promise<BuildRoot | null> {
  return readStamp(buildRootDir());
}

/** The build root, made with debootstrap on first use (about a minute, 1.2 GB). */
export async function ensureBuildRoot(): Promise<BuildRoot> {
  const dir = buildRootDir();
  const existing = await readStamp(dir);
  if (existing) return existing;
  if (process.platform !== 'linux') throw new UsageError('the pinned build root is a Linux chroot; build linux targets on Linux');
  if (process.getuid?.() !== 0) {
    throw new UsageError('making and entering the pinned build root (debootstrap, chroot) needs root; run as root (CI does), or pass --toolchain host for a quick, non-releasable local build');
  }
  const debootstrap = (await which('debootstrap')) ?? (existsSync('/usr/sbin/debootstrap') ? '/usr/sbin/debootstrap' : null);
  if (!debootstrap) throw new OperationError('debootstrap is not installed: apt-get install debootstrap (see .ci/run)');
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    await timed(`creating the ${BUILD_ROOT_SPEC.suite} build root in ${dir} (first use only)`, async () => {
      let n = 0;
      await run(
        [debootstrap, `--variant=${BUILD_ROOT_SPEC.variant}`, `--arch=${BUILD_ROOT_SPEC.arch}`, `--include=${BUILD_ROOT_SPEC.include.join(',')}`, BUILD_ROOT_SPEC.suite, partial, debianMirror()],
        {
          what: 'debootstrap',
          onLine: (line) => {
            if (/^I: (Retrieving|Extracting|Installing|Configuring|Base system)/.test(line) && (++n % 40 === 0 || line.includes('Base system'))) log.info(line);
          },
        },
      );
    });
    const q = await run(['chroot', partial, 'dpkg-query', '-W', '-f', '${Package}\t${Version}\n', ...TOOLCHAIN_PACKAGES], { what: 'dpkg-query in the build root' });
    const packages = Object.fromEntries(q.stdout.trim().split('\n').map((l) => l.split('\t') as [string, string]));
    const stamp = { id: idOf({ spec: BUILD_ROOT_SPEC, packages }), suite: BUILD_ROOT_SPEC.suite, spec: BUILD_ROOT_SPEC, packages };
    await writeFile(join(partial, STAMP), canonicalJson(stamp) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  const made = await readStamp(dir);
  if (!made) throw new OperationError(`build root ${dir} has no ${STAMP} after creation`);
  log.ok(`build root ${made.id}: ${made.packages['gcc-10'] ? 'gcc ' + made.packages['gcc-10'] : ''}, libc6-dev ${made.packages['libc6-dev']}`);
  return made;
}
