// The "portable" math profile's libm: musl's math sources (native/portable-libm/pin.json),
// compiled with the target's own compiler and -ffp-contract=off, archived, and
// linked statically ahead of the system libm, so that the worker imports no
// libm math function and computes the same doubles on every target and host.
//
// The archive is fetched from Debian's package pool and checked against the
// pinned sha256 every time it is used (the cached copy too: the pin is the
// reference, never a record written next to the cache).
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { pinnedDownload } from '../core/pinned-cache.ts';
import { join } from 'node:path';
import { log } from '../core/cli.ts';
import { CheckFailed, OperationError, UsageError } from '../core/errors.ts';
import { sha256Hex } from '../core/hash.ts';
import { cacheDir, REPO_ROOT } from '../core/paths.ts';
import { download, extractSafely } from './sources.ts';
import { debianMirror } from './buildroot.ts';
import type { Target } from '../core/targets.ts';
import type { MathInfo } from '../core/manifest.ts';
export type { MathInfo };

export const LIBM_DIR = join(REPO_ROOT, 'native', 'portable-libm');
export const LIBM_PIN_FILE = join(LIBM_DIR, 'pin.json');
/** Our own files compiled or included with musl's (see each file's comment). */
const SHIM_FILES = ['prelude.h', 'nearbyint.c', 'include-darwin/endian.h', 'include-darwin/features.h'];

export interface LibmPin {
  library: string;
  version: string;
  poolPath: string;
  sha256: string;
  files: string[];
}

export function readLibmPin(file = LIBM_PIN_FILE): LibmPin {
  let v: Partial<LibmPin>;
  try {
    v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LibmPin>;
  } catch (e) {
    throw new UsageError(`portable libm pin ${file}: ${(e as Error).message}`);
  }
  const ok =
    typeof v.library === 'string' &&
    typeof v.version === 'string' &&
    typeof v.poolPath === 'string' &&
    !v.poolPath.includes('..') &&
    typeof v.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(v.sha256) &&
    Array.isArray(v.files) &&
    v.files.length > 0 &&
    v.files.every((f) => typeof f === 'string' && /^[\w]+$/.test(f));
  if (!ok)
    throw new UsageError(
      `portable libm pin ${file}: needs library, version, poolPath, sha256 (64 hex) and files (names under src/math/)`,
    );
  return v as LibmPin;
}

export async function mathInfo(profile: MathInfo['profile'], pin = readLibmPin()): Promise<MathInfo> {
  if (profile === 'system') return { profile };
  const shims = await Promise.all(SHIM_FILES.map(async (f) => `${f}\0${sha256Hex(await readFile(join(LIBM_DIR, f)))}`));
  return {
    profile,
    library: pin.library,
    version: pin.version,
    integrity: `sha256:${pin.sha256}`,
    buildDigest: sha256Hex([...pin.files, ...shims].join('\n')),
  };
}

export const libmUrl = (pin: LibmPin) => `${debianMirror().replace(/\/+$/, '')}/${pin.poolPath}`;

/** The pinned source archive: from the cache if its bytes still match the pin, else downloaded and checked. */
export async function fetchLibmArchive(pin = readLibmPin()): Promise<Buffer> {
  const url = libmUrl(pin);
  const { data } = await pinnedDownload({
    file: join(cacheDir(), 'libm', `${pin.library}-${pin.version}-${pin.sha256.slice(0, 16)}.tar.gz`),
    matches: (d) => sha256Hex(d) === pin.sha256,
    expected: `sha256 ${pin.sha256}`,
    sources: [
      {
        url,
        get: () => {
          log.info(`downloading ${pin.library} ${pin.version} sources ${url}`);
          return download(url, `${pin.library} ${pin.version} sources`);
        },
      },
    ],
    refused: (_s, d) =>
      new CheckFailed([
        {
          check: 'source-integrity',
          subject: `${pin.library} ${pin.version} archive ${url} (${LIBM_PIN_FILE})`,
          expected: `sha256 ${pin.sha256}`,
          actual: `sha256 ${sha256Hex(d)}`,
          hint: 'the archive does not match the pinned sha256; nothing was unpacked or cached',
        },
      ]),
    missed: (tried) => new OperationError(`cannot download ${pin.library} ${pin.version} sources: ${tried.join('; ')}`),
  });
  return data;
}

/**
 * Unpack what the build needs into `hostDir` (musl's math files, libm.h, the
 * generic fp_arch.h) with our shims, and return the commands that compile them
 * and archive the objects, with paths as the compiler sees them (`insideDir`).
 */
export async function prepareLibmBuild(opts: {
  hostDir: string;
  insideDir: string;
  /** the compiler and archiver, as argv (e.g. ['zig', 'cc', '-target', ...], ['zig', 'ar']) */
  compiler: string[];
  ar: string[];
  target: Target;
  extraFlags: string[];
  pin?: LibmPin;
}): Promise<{ script: string; archive: string }> {
  // returns `script`: the path (as the compiler sees it) of a shell script doing the work
  const pin = opts.pin ?? readLibmPin();
  const data = await fetchLibmArchive(pin);
  const wanted = new Set([...pin.files.map((f) => `src/math/${f}.c`), 'src/internal/libm.h', 'arch/generic/fp_arch.h']);
  // the tables' headers sit beside the sources (src/math/exp_data.h, ...)
  const header = (rest: string) => /^src\/math\/[\w]+\.h$/.test(rest);
  const top = `${pin.library}-${pin.version}`;
  await rm(opts.hostDir, { recursive: true, force: true });
  await extractSafely(data, opts.hostDir, {
    strip: 1,
    what: `${top} archive`,
    keep: (p) => {
      const rest = p.split('/').slice(1).join('/').replace(/\/$/, '');
      return rest === '' || wanted.has(rest) || header(rest) || [...wanted].some((w) => w.startsWith(rest + '/'));
    },
  });
  const missing = [...wanted].filter((w) => !existsSync(join(opts.hostDir, w)));
  if (missing.length)
    throw new CheckFailed(
      missing.map((m) => ({
        check: 'portable-libm-sources',
        subject: `${top} archive`,
        expected: `contains ${m}`,
        actual: 'missing',
        hint: `fix files in ${LIBM_PIN_FILE}`,
      })),
    );
  for (const f of SHIM_FILES) {
    await mkdir(join(opts.hostDir, 'shim', f.includes('/') ? f.slice(0, f.lastIndexOf('/')) : ''), { recursive: true });
    await copyFile(join(LIBM_DIR, f), join(opts.hostDir, 'shim', f));
  }
  const inside = opts.insideDir;
  const darwin = opts.target.os === 'darwin';
  const flags = [
    '-std=c99',
    '-O2',
    '-ffp-contract=off',
    '-frounding-math',
    // aarch64 compilers define these; musl's log/log2/pow then call __builtin_fma. Take x86-64's path everywhere.
    '-U__FP_FAST_FMA',
    '-U__FP_FAST_FMAF',
    `-ffile-prefix-map=${inside}=.`,
    '-include',
    `${inside}/shim/prelude.h`,
    `-I${inside}/src/internal`,
    `-I${inside}/arch/generic`,
    ...(darwin ? [`-I${inside}/shim/include-darwin`] : []),
    ...opts.extraFlags,
  ];
  const sources = [...pin.files.map((f) => `src/math/${f}.c`), 'shim/nearbyint.c'];
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const archive = `${inside}/libxsnap-portable-m.a`;
  const cc = opts.compiler.map(q).join(' ');
  const ar = opts.ar.map(q).join(' ');
  // Apple's ar has no D (it honours ZERO_AR_DATE); GNU ar and zig's (llvm-ar) do
  const appleAr = darwin && opts.ar[0] !== 'zig';
  const lines = ['set -ex', `cd ${q(inside)}`];
  for (const s of sources)
    lines.push(`${cc} ${flags.map(q).join(' ')} -c ${q(s)} -o ${q(s.replace(/[/.]/g, '_') + '.o')}`);
  // D: deterministic (no timestamps, uids); objects in a fixed order
  lines.push(
    `${ar} ${appleAr ? 'rcs' : 'rcsD'} ${q(archive)} ${sources.map((s) => q(s.replace(/[/.]/g, '_') + '.o')).join(' ')}`,
  );
  await writeFile(join(opts.hostDir, 'build.sh'), lines.join('\n') + '\n');
  return { script: `${inside}/build.sh`, archive };
}
