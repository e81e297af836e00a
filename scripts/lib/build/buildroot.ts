// The pinned Linux build root: a Debian 11 (bullseye) tree made by debootstrap,
// with gcc and the aarch64 cross compiler. Building inside it means every
// machine uses the same compiler and the binaries need at most glibc 2.31.
//
// What makes it trustworthy and portable:
//  - the Release file is checked against a pinned keyring (debian-archive-keyring
//    at a pinned sha256, fetched from the mirror), never "unchecked" (gpgv required);
//  - every .deb is pinned by name, version and sha256 (buildroot-lock.json) and
//    checked BEFORE anything is installed (debootstrap --download-only first);
//  - the main mirror is tried first, then Debian's archive, where old releases go;
//  - the cached tree holds no device nodes (a non-root `tar`, as actions/cache
//    restores, could not create them): /dev is a fresh tmpfs, made in a private
//    mount namespace each time a command enters the root (enterArgv); /tmp is a
//    fresh tmpfs too and /build is bound from outside the tree, so nothing run
//    inside writes into the tree (a cache save or a tar of it sees it still);
//  - a root found on disk is used only after it is checked (checkBuildRoot):
//    its installed packages equal the lock, and every entry of the tree is what
//    the repository pins (buildroot-contents.ts): the files of the pinned .debs
//    themselves, and buildroot-contents.json for the rest; nothing else. Neither
//    a stamp nor the root's own dpkg records are ever trusted. A build re-reads
//    only the entries whose stat key changed since the last check that passed
//    (<root>.verified.json, as git's index), and reads none when no entry's
//    ctime is newer than that check; a root made anew or restored from a cache
//    (another directory), another pin, and `buildroot.ts --check` read all.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/fs.ts';
import { pinnedDownload } from '../core/pinned-cache.ts';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, timed } from '../core/cli.ts';
import { CheckFailed, nextStep, OperationError, UsageError, type Failure } from '../core/errors.ts';
import { run, runRaw, which } from '../core/exec.ts';
import { canonicalJson, idOf, sha256File, sha256Hex } from '../core/hash.ts';
import {
  compareTree,
  CONTENTS_FILE,
  expectedTree,
  packagedIndex,
  parseDiversions,
  readContentsPin,
  unpackagedOf,
  readSnapshot,
  readSnapshotHead,
  changedSince,
  directoryIdentity,
  walkRoot,
  writeSnapshot,
  type ContentsPin,
} from './buildroot-contents.ts';
import { cacheDir } from '../core/paths.ts';
import { httpRequest } from '../core/net.ts';

/** The signing keys of Debian's archive, pinned by the sha256 of their package. */
export const KEYRING = {
  package: 'debian-archive-keyring',
  version: '2025.1',
  path: 'pool/main/d/debian-archive-keyring/debian-archive-keyring_2025.1_all.deb',
  sha256: '9ea7778e443144ca490668737a8ab22dd3e748bb99e805e22ec055abeb3c7fac',
  /** the keyring inside the package that signs bullseye (11), bookworm (12) and trixie (13) */
  file: 'usr/share/keyrings/debian-archive-keyring.gpg',
} as const;

/** Change this (or buildroot-lock.json) and every machine makes a new build root (and rebuilds). */
export const BUILD_ROOT_SPEC = {
  distribution: 'debian',
  suite: 'bullseye',
  arch: 'amd64',
  variant: 'minbase',
  include: ['build-essential', 'gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'],
  keyring: { package: KEYRING.package, version: KEYRING.version, sha256: KEYRING.sha256 },
} as const;

/** Packages whose exact versions define the toolchain (and so the bytes we produce). */
const TOOLCHAIN_PACKAGES = [
  'gcc-10',
  'cpp-10',
  'binutils',
  'libc6-dev',
  'make',
  'gcc-10-aarch64-linux-gnu',
  'binutils-aarch64-linux-gnu',
  'libc6-dev-arm64-cross',
];

export interface LockedPackage {
  name: string;
  version: string;
  arch: string;
  /** where the .deb lies in Debian's pool (from the mirror's Packages index) */
  path: string;
  sha256: string;
}
export interface BuildRootLock {
  suite: string;
  arch: string;
  include: readonly string[];
  packages: LockedPackage[];
}

export const LOCK_FILE = join(dirname(fileURLToPath(import.meta.url)), 'buildroot-lock.json');

export function readLock(file = LOCK_FILE): BuildRootLock {
  const lock = JSON.parse(readFileSync(file, 'utf8')) as BuildRootLock;
  if (
    lock.suite !== BUILD_ROOT_SPEC.suite ||
    lock.arch !== BUILD_ROOT_SPEC.arch ||
    lock.include.join() !== BUILD_ROOT_SPEC.include.join()
  ) {
    throw new UsageError(
      `${file} is for ${lock.suite}/${lock.arch} with ${lock.include.join(',')}, the spec is ${BUILD_ROOT_SPEC.suite}/${BUILD_ROOT_SPEC.arch} with ${BUILD_ROOT_SPEC.include.join(',')}: run npx tsx scripts/buildroot.ts --update-lock`,
    );
  }
  return lock;
}

export interface BuildRoot {
  path: string;
  /** id of the spec + the locked package set */
  id: string;
  suite: string;
  /** exact versions of the toolchain packages */
  packages: Record<string, string>;
}

const STAMP = 'xsnap-buildroot.json';

// ------------------------------------------------------------------ mirrors

export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
/** Where Debian moves releases that left the main mirror (bullseye's LTS ended 2026-08-31). */
export const DEBIAN_ARCHIVE_MIRROR = 'http://archive.debian.org/debian';

/** The main mirror ($XSNAP_DEBIAN_MIRROR or deb.debian.org). */
export function debianMirror(): string {
  return process.env.XSNAP_DEBIAN_MIRROR || DEBIAN_MIRROR;
}

/** The mirrors tried in order: the main one, then the archive ($XSNAP_DEBIAN_ARCHIVE_MIRROR or archive.debian.org). */
export function debianMirrors(): string[] {
  const all = [debianMirror(), process.env.XSNAP_DEBIAN_ARCHIVE_MIRROR || DEBIAN_ARCHIVE_MIRROR].map((m) =>
    m.replace(/\/+$/, ''),
  );
  return [...new Set(all)];
}

async function download(url: string): Promise<{ status: number; body?: Buffer; error?: string }> {
  try {
    const res = await httpRequest(url, { timeoutMs: 60_000 });
    return res.status === 200 ? { status: 200, body: res.body! } : { status: res.status };
  } catch (e) {
    return { status: 0, error: (e as Error).message };
  }
}

/**
 * The pinned keyring: debian-archive-keyring's .deb from the first mirror that
 * serves it with the pinned sha256, cached by that hash (and re-hashed at each
 * use), unpacked into a temporary folder. Returns the keyring file's path.
 */
export async function pinnedKeyring(mirrors = debianMirrors(), into?: string): Promise<string> {
  const dir = await fetchPinnedDeb(
    { package: KEYRING.package, version: KEYRING.version, path: KEYRING.path, sha256: KEYRING.sha256 },
    into ?? (await mkdtemp(join(tmpdir(), 'xsnap-keyring-'))),
    mirrors,
  );
  const file = join(dir, KEYRING.file);
  if (!existsSync(file)) throw new OperationError(`${KEYRING.package} ${KEYRING.version} has no ${KEYRING.file}`);
  return file;
}

/** A Debian package pinned by the sha256 of its .deb, and where it lies in the pool. */
export interface PinnedDeb {
  package: string;
  version: string;
  /** e.g. pool/main/g/glibc/libc6_2.31-13+deb11u11_amd64.deb */
  path: string;
  sha256: string;
}

/**
 * A pinned .deb from the first mirror that serves it with the pinned sha256,
 * cached by that hash (and re-hashed at each use), unpacked into `into`/x.
 * Returns that folder.
 */
export async function fetchPinnedDeb(p: PinnedDeb, into: string, mirrors = debianMirrors()): Promise<string> {
  const deb = await readFile(await pinnedDebFile(p, mirrors));
  await mkdir(into, { recursive: true });
  const debFile = join(into, `${p.package}.deb`);
  await writeFile(debFile, deb);
  const dpkgDeb = await which('dpkg-deb');
  if (!dpkgDeb) throw new OperationError(`dpkg-deb is needed to unpack the pinned ${p.package}: apt-get install dpkg`);
  await run([dpkgDeb, '-x', debFile, join(into, 'x')], { what: `unpacking ${p.package}` });
  return join(into, 'x');
}

/** Where the cache keeps a pinned .deb (by name, version and the start of its sha256). */
export const cachedDebPath = (p: Pick<PinnedDeb, 'package' | 'version' | 'sha256'>) =>
  join(cacheDir(), 'debs', `${p.package}_${p.version.replace(/:/g, '%3a')}_${p.sha256.slice(0, 16)}.deb`);

/**
 * A pinned .deb in the cache, checked against its sha256 (a cached one re-hashed, a missing or wrong one fetched from
 * the first mirror that serves it with the pinned sha256). Returns its path in the cache.
 */
export async function pinnedDebFile(p: PinnedDeb, mirrors = debianMirrors()): Promise<string> {
  const { file } = await pinnedDownload({
    file: cachedDebPath(p),
    matches: (d) => sha256Hex(d) === p.sha256,
    expected: `sha256 ${p.sha256}`,
    sources: mirrors.map((m) => {
      const url = `${m}/${p.path}`;
      return {
        url,
        get: async () => {
          const r = await download(url);
          return r.status === 200 ? r.body! : { miss: r.error ?? `HTTP ${r.status}` };
        },
      };
    }),
    // a mirror serving other bytes under the pinned name is an error, not a miss
    refused: (s, d) =>
      new CheckFailed([
        {
          check: 'deb-pinned',
          subject: s.url,
          expected: `sha256 ${p.sha256}`,
          actual: `sha256 ${sha256Hex(d)}`,
          hint: `the mirror serves another ${p.package} under the pinned name; use another mirror (XSNAP_DEBIAN_MIRROR)`,
        },
      ]),
    missed: (tried) =>
      new OperationError(
        `cannot fetch the pinned ${p.package} ${p.version}:\n  ${tried.join('\n  ')}\nset XSNAP_DEBIAN_MIRROR to a Debian mirror that serves it`,
      ),
  });
  return file;
}

/** A locked package as a pinned .deb (the lock must say where it lies in the pool). */
export function lockedDeb(p: LockedPackage, lockFile = LOCK_FILE): PinnedDeb {
  if (!p.path)
    throw new OperationError(
      `${lockFile}: ${p.name} ${p.version} has no pool path${nextStep('npx tsx scripts/buildroot.ts --update-lock')}`,
    );
  return { package: p.name, version: p.version, path: p.path, sha256: p.sha256 };
}

/**
 * Check a Release file's signature (InRelease, clearsigned) with `keyring`:
 * gpgv must say it is good, and the signed text must be the suite's.
 * Never "unchecked": without gpgv this fails.
 */
export async function verifyRelease(
  file: string,
  keyring: string,
  suite: string = BUILD_ROOT_SPEC.suite,
): Promise<Failure[]> {
  const gpgv = await which('gpgv');
  if (!gpgv)
    throw new OperationError(
      'gpgv is needed to check the Release signature of the build root: apt-get install gpgv (scripts/setup.sh installs it)',
    );
  const r = await runRaw([gpgv, '--keyring', keyring, file]);
  if (r.code !== 0) {
    return [
      {
        check: 'release-signature',
        subject: file,
        expected: `a good signature by a key of the pinned ${KEYRING.package} ${KEYRING.version}`,
        actual:
          r.stderr
            .trim()
            .split('\n')
            .filter((l) =>
              /BAD|Can't check|no signature|not found|No public key|verify signatures failed|no valid OpenPGP/i.test(l),
            )
            .join('; ') || `gpgv exited ${r.code}`,
        hint: 'the mirror served a Release file that Debian did not sign: use another mirror',
      },
    ];
  }
  const text = await readFile(file, 'utf8');
  const signed =
    /-----BEGIN PGP SIGNED MESSAGE-----\n(?:Hash:[^\n]*\n)*\n([\s\S]*?)\n-----BEGIN PGP SIGNATURE-----/.exec(
      text,
    )?.[1] ?? '';
  if (!new RegExp(`^Codename: ${suite}$`, 'm').test(signed)) {
    return [
      {
        check: 'release-suite',
        subject: file,
        expected: `Codename: ${suite} in the signed text`,
        actual: /^Codename: .*$/m.exec(signed)?.[0] ?? 'no Codename',
      },
    ];
  }
  return [];
}

/**
 * The first mirror that serves the suite, its InRelease checked with the
 * keyring. A mirror that does not serve it (404/410, unreachable) is skipped;
 * one that serves a badly signed Release stops everything (never fall through
 * to another source after a bad signature).
 */
export async function selectMirror(
  keyring: string,
  mirrors = debianMirrors(),
  suite: string = BUILD_ROOT_SPEC.suite,
): Promise<string> {
  const tried: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'xsnap-release-'));
  try {
    for (const m of mirrors) {
      const url = `${m}/dists/${suite}/InRelease`;
      const r = await download(url);
      if (r.status !== 200) {
        tried.push(`${url}: ${r.error ?? `HTTP ${r.status}`}`);
        continue;
      }
      const file = join(dir, 'InRelease');
      await writeFile(file, r.body!);
      const failures = await verifyRelease(file, keyring, suite);
      if (failures.length) throw new CheckFailed(failures.map((f) => ({ ...f, subject: url })));
      if (tried.length) log.warn(`${tried.join('; ')}: using ${m}`);
      return m;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  throw new OperationError(
    `no mirror serves Debian ${suite}:\n  ${tried.join('\n  ')}\nset XSNAP_DEBIAN_MIRROR (main) or XSNAP_DEBIAN_ARCHIVE_MIRROR (archive) to a mirror that does (see RELEASING.md)`,
  );
}

// ------------------------------------------------------------------ the locked package set

/** debootstrap's file name for a package: name_version_arch.deb, ':' written %3a. */
export const debFileName = (p: Pick<LockedPackage, 'name' | 'version' | 'arch'>) =>
  `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.arch}.deb`;

/** The .debs in `dir` (debootstrap's var/cache/apt/archives) as lock entries. */
export async function debsIn(dir: string): Promise<Array<Omit<LockedPackage, 'path'>>> {
  const out: Array<Omit<LockedPackage, 'path'>> = [];
  for (const f of (await readdir(dir)).filter((f) => f.endsWith('.deb')).sort()) {
    const [name, version, arch] = f.slice(0, -4).split('_');
    out.push({ name, version: decodeURIComponent(version), arch, sha256: await sha256File(join(dir, f)) });
  }
  return out;
}

/** Every .deb in `dir` is in the lock with its sha256, and every locked package is there. */
export async function checkDebs(dir: string, lock: BuildRootLock): Promise<Failure[]> {
  const failures: Failure[] = [];
  const got = new Map((await debsIn(dir)).map((p) => [debFileName(p), p]));
  const hint =
    'the mirror serves other packages than the lock pins; if that is deliberate, run npx tsx scripts/buildroot.ts --update-lock and review the diff';
  for (const p of lock.packages) {
    const name = debFileName(p);
    const g = got.get(name);
    if (!g)
      failures.push({
        check: 'buildroot-package',
        subject: join(dir, name),
        expected: `${p.name} ${p.version} (${p.arch}) sha256 ${p.sha256}`,
        actual: 'not downloaded',
        hint,
      });
    else if (g.sha256 !== p.sha256)
      failures.push({
        check: 'buildroot-package',
        subject: join(dir, name),
        expected: `sha256 ${p.sha256}`,
        actual: `sha256 ${g.sha256}`,
        hint,
      });
    got.delete(name);
  }
  for (const [name] of got)
    failures.push({
      check: 'buildroot-package',
      subject: join(dir, name),
      expected: 'only the packages of the lock',
      actual: 'a package the lock does not list',
      hint,
    });
  return failures;
}

/** Installed packages (name -> version) from a tree's dpkg status file, no dpkg needed. */
export async function installedPackages(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const text = await readFile(join(root, 'var/lib/dpkg/status'), 'utf8');
  for (const para of text.split(/\n\n+/)) {
    const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(para)?.[1];
    const name = field('Package');
    if (name && field('Status') === 'install ok installed') out.set(name, field('Version') ?? '');
  }
  return out;
}

/**
 * Whether `dir` is a build root that can be trusted, from its own bytes against what the repository pins: the stamp
 * names the expected id, dpkg's status lists exactly the locked packages at their versions, and every entry of the
 * tree is what the pinned .debs hold or what buildroot-contents.json pins, and there is nothing else. An empty list
 * means trusted.
 */
export async function checkBuildRoot(
  dir: string,
  opts: {
    id?: string;
    lock?: BuildRootLock;
    contents?: ContentsPin | null;
    /**
     * Re-read only the entries whose stat key changed since the last check that passed (its snapshot); a root without
     * one for this pin (made anew, restored from a cache, another pin) is read in full. Default: read in full.
     */
    incremental?: boolean;
    /** keep the snapshot for this path (the root's final name, when `dir` is renamed there after the check) */
    snapshotAs?: string;
  } = {},
): Promise<Failure[]> {
  const lock = opts.lock ?? readLock();
  const id = opts.id ?? buildRootId(lock);
  const pin = opts.contents === undefined ? readContentsPin() : opts.contents;
  // what the expected tree depends on besides the tree itself (whose diversions file is one of its entries)
  const pinKey = pin && sha256Hex(canonicalJson({ id, lock: lock.packages, pin }, 0));
  // whether any entry changed since the last check that passed, for this same pin: a find, begun first as it runs
  // beside the checks below
  const head = opts.incremental && pinKey ? readSnapshotHead(opts.snapshotAs ?? dir, pinKey) : null;
  const changed = head ? changedSince(dir, head.at) : Promise.resolve(true);
  const failures: Failure[] = [];
  const subject = dir;
  const stampFile = join(dir, STAMP);
  if (!existsSync(stampFile)) return [{ check: 'buildroot-stamp', subject, expected: STAMP, actual: 'missing' }];
  try {
    const stamp = JSON.parse(await readFile(stampFile, 'utf8')) as { id?: string };
    if (stamp.id !== id)
      failures.push({ check: 'buildroot-stamp', subject, expected: `id ${id}`, actual: `id ${stamp.id}` });
  } catch (e) {
    return [{ check: 'buildroot-stamp', subject, expected: `${STAMP} with JSON`, actual: (e as Error).message }];
  }
  let installed: Map<string, string>;
  try {
    installed = await installedPackages(dir);
  } catch (e) {
    return [
      ...failures,
      { check: 'buildroot-packages', subject, expected: 'var/lib/dpkg/status', actual: (e as Error).message },
    ];
  }
  const want = new Map(lock.packages.map((p) => [p.name, p.version]));
  for (const [name, version] of want) {
    const got = installed.get(name);
    if (got !== version)
      failures.push({
        check: 'buildroot-packages',
        subject,
        expected: `${name} ${version} installed`,
        actual: got ? `${name} ${got}` : 'not installed',
      });
  }
  for (const [name, version] of installed)
    if (!want.has(name))
      failures.push({
        check: 'buildroot-packages',
        subject,
        expected: 'only the locked packages',
        actual: `${name} ${version} installed`,
      });
  if (failures.length) return failures;
  if (!pin || !pinKey || pin.id !== id)
    return [
      {
        check: 'buildroot-contents',
        subject: CONTENTS_FILE,
        expected: `the contents of build root ${id}`,
        actual: pin ? `the contents of build root ${pin.id}` : 'missing',
        hint: 'npx tsx scripts/buildroot.ts --update-contents (as root), and review the diff',
      },
    ];
  if (!(await changed)) return []; // nothing to read: every entry as that check found it
  const walked = walkRoot(dir, opts.incremental ? readSnapshot(opts.snapshotAs ?? dir, pinKey) : null);
  if (walked.unchanged) return []; // every entry as the last full comparison found it, for this same pin
  const tree = await expectedContents(
    lock,
    pin,
    await readFile(join(dir, 'var/lib/dpkg/diversions'), 'utf8').catch(() => ''),
  );
  if ('failure' in tree) return [tree.failure];
  failures.push(...compareTree(dir, tree.expected, walked.actual));
  if (!failures.length) await writeSnapshot(dir, pinKey, walked, opts.snapshotAs);
  if (failures.length > 20)
    return [
      ...failures.slice(0, 20),
      {
        check: 'buildroot-files',
        subject,
        expected: 'every entry of the tree as pinned',
        actual: `${failures.length - 20} more differ`,
      },
    ];
  return failures;
}

/** The packaged index of the lock's .debs: cached when pinned, else read from the .debs (fetched, sha256 checked). */
async function lockedIndex(lock: BuildRootLock, want?: string) {
  const byName = new Map(lock.packages.map((p) => [p.name, p]));
  return packagedIndex([...byName.keys()].sort(), (name) => pinnedDebFile(lockedDeb(byName.get(name)!)), want);
}

/** What the tree must hold: the pinned .debs' entries placed as dpkg does, and the pinned rest. */
async function expectedContents(
  lock: BuildRootLock,
  pin: ContentsPin,
  diversions: string,
): Promise<{ expected: ReturnType<typeof expectedTree> } | { failure: Failure }> {
  const { index, digest } = await lockedIndex(lock, pin.packaged);
  if (digest !== pin.packaged)
    return {
      failure: {
        check: 'buildroot-contents',
        subject: `${CONTENTS_FILE} (packaged)`,
        expected: `sha256 ${pin.packaged} of what the locked .debs hold`,
        actual: `sha256 ${digest}, read from the .debs pinned by ${LOCK_FILE}`,
        hint: 'npx tsx scripts/buildroot.ts --update-contents (as root), and review the diff',
      },
    };
  return { expected: expectedTree(index, pin.unpackaged, parseDiversions(diversions)) };
}

/**
 * Pin what the root in `dir` holds beyond its packages (and the digest of what its packages hold) in `file`: run by
 * `scripts/buildroot.ts --update-contents` on a root this code made; the diff is for review.
 */
export async function writeContentsPin(dir: string, lock: BuildRootLock, file = CONTENTS_FILE): Promise<ContentsPin> {
  const { index, digest } = await lockedIndex(lock);
  const diversions = await readFile(join(dir, 'var/lib/dpkg/diversions'), 'utf8').catch(() => '');
  const pin: ContentsPin = {
    id: buildRootId(lock),
    packaged: digest,
    unpackaged: unpackagedOf(index, walkRoot(dir).actual, diversions),
  };
  await writeFileAtomic(file, JSON.stringify(pin, null, 2) + '\n');
  return pin;
}

// ------------------------------------------------------------------ the root

/**
 * How a root is made beyond debootstrap: 2 = the files that vary by host, mirror or day removed (VOLATILE), the
 * .debs kept in the cache. Part of the id: a root made otherwise is another root.
 */
const ROOT_FORMAT = 2;

export function buildRootId(lock: BuildRootLock = readLock()): string {
  const packages = lock.packages.map(({ name, version, arch, sha256 }) => ({ name, version, arch, sha256 }));
  return idOf({ spec: BUILD_ROOT_SPEC, packages, format: ROOT_FORMAT });
}

/**
 * What debootstrap leaves that varies by host (hostname, resolver), mirror (sources.list, apt lists), day (shadow's
 * last-change dates, logs) or run (backups, ldconfig's aux-cache): removed when a root is made, so that every other
 * entry of a new root can be pinned (buildroot-contents.json). A build uses none of them.
 */
export const VOLATILE = [
  'etc/hostname',
  'etc/resolv.conf',
  'etc/shadow',
  'etc/shadow-',
  'etc/gshadow-',
  'etc/passwd-',
  'etc/group-',
  'etc/subuid-',
  'etc/subgid-',
  'etc/apt/sources.list',
  'run/utmp',
  'var/cache/ldconfig/aux-cache',
  'var/cache/debconf/config.dat-old',
  'var/cache/debconf/templates.dat-old',
  'var/lib/dpkg/status-old',
  'var/lib/dpkg/diversions-old',
  'var/lib/dpkg/available-old',
];
/** Folders whose files (not the folders) are removed too: logs and apt's downloaded indexes. */
const VOLATILE_FILES_IN = ['var/log', 'var/lib/apt/lists', 'var/cache/apt'];

async function removeVolatile(root: string): Promise<void> {
  for (const f of VOLATILE) await rm(join(root, f), { force: true });
  const files = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true }).catch(() => []))
      if (d.isDirectory()) await files(join(dir, d.name));
      else await rm(join(dir, d.name), { force: true });
  };
  for (const d of VOLATILE_FILES_IN) await files(join(root, d));
}

export function buildRootDir(lock?: BuildRootLock): string {
  return join(cacheDir(), 'buildroots', `${BUILD_ROOT_SPEC.suite}-${buildRootId(lock)}`);
}

async function readStamp(dir: string): Promise<BuildRoot | null> {
  const file = join(dir, STAMP);
  if (!existsSync(file)) return null;
  const s = JSON.parse(await readFile(file, 'utf8')) as Omit<BuildRoot, 'path'>;
  return { id: s.id, suite: s.suite, packages: s.packages, path: dir };
}

/**
 * The build root if one exists already (no side effects, not checked): only
 * for running binaries (a target's qemu sysroot, the glibc floor's loader,
 * its objdump), never to build.
 */
export async function existingBuildRoot(): Promise<BuildRoot | null> {
  return readStamp(buildRootDir());
}

/**
 * Where builds inside `root` work, as /build: outside the cached tree (so a
 * build never writes into it) and outside the cache, one folder per root.
 */
export const buildRootWorkDir = (root: string) => join(tmpdir(), 'xsnap-buildroot-work', basename(root));

/**
 * The argv that runs `argv` inside the root: a private mount namespace (so
 * nothing it mounts outlives it or shows outside), a fresh /dev (tmpfs with
 * null, zero, full, random, urandom and tty bound from the host), a fresh /tmp,
 * /build bound from buildRootWorkDir(root), then chroot.
 */
export function enterArgv(root: string, argv: string[]): string[] {
  const script = [
    'root=$1; work=$2; shift 2',
    'mkdir -p "$root/tmp" "$root/build" "$work"',
    'mount -t tmpfs -o mode=1777,nosuid xsnap-tmp "$root/tmp"',
    'mount --bind "$work" "$root/build"',
    'mkdir -p "$root/dev"',
    'mount -t tmpfs -o mode=0755,nosuid,noexec xsnap-dev "$root/dev"',
    'for d in null zero full random urandom tty; do : > "$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done',
    'ln -s /proc/self/fd "$root/dev/fd"; ln -s fd/0 "$root/dev/stdin"; ln -s fd/1 "$root/dev/stdout"; ln -s fd/2 "$root/dev/stderr"',
    'exec chroot "$root" "$@"',
  ].join('\n');
  return [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-ec',
    script,
    'xsnap-buildroot',
    root,
    buildRootWorkDir(root),
    ...argv,
  ];
}

const checked = new Map<string, Promise<Failure[]>>();

/**
 * The build root, checked (once per process), or made with debootstrap (about three minutes, 1.2 GB). The check reads
 * only the entries whose stat key changed since the last check that passed, or with `full` every entry.
 */
export async function ensureBuildRoot(opts: { full?: boolean } = {}): Promise<BuildRoot> {
  const lock = readLock();
  const dir = buildRootDir(lock);
  const once = opts.full ? `${dir} (full)` : dir;
  if (existsSync(dir)) {
    if (!checked.has(once))
      checked.set(
        once,
        timed(`checking the build root ${dir}${opts.full ? ' in full' : ''}`, () =>
          checkBuildRoot(dir, { lock, incremental: !opts.full }),
        ),
      );
    const failures = await checked.get(once)!;
    if (!failures.length) return (await readStamp(dir))!;
    checked.delete(once);
    log.warn(
      `the build root in ${dir} is not intact, so it is not used:\n  ${failures
        .slice(0, 5)
        .map((f) => `${f.check} ${f.subject}: expected ${f.expected}, got ${f.actual}`)
        .join('\n  ')}`,
    );
    if (process.getuid?.() !== 0)
      throw new CheckFailed(
        failures.map((f) => ({
          ...f,
          hint: f.hint ?? 'run as root to make the build root anew (it replaces the broken one)',
        })),
      );
    log.warn('making it anew');
  }
  return createBuildRoot(dir, lock);
}

/**
 * The first line of `compiler --version` run inside the root (it enters a build's key and its build-info). A root that
 * passed its check holds exactly the pinned bytes, so the line is a function of its id and the compiler's name: kept
 * beside the root for this very directory (device and inode, as its snapshot), so that a root restored from a cache,
 * with whatever file came beside it, runs the compiler again.
 */
export async function compilerVersion(root: BuildRoot, compiler: string): Promise<string> {
  const file = `${root.path}.compilers.json`;
  const self = { id: root.id, root: directoryIdentity(root.path) };
  let lines: Record<string, string> = {};
  try {
    const known = JSON.parse(readFileSync(file, 'utf8')) as typeof self & { lines: Record<string, string> };
    if (known.id === self.id && known.root === self.root) lines = known.lines;
  } catch {
    // none yet, or unreadable: run the compiler
  }
  if (typeof lines[compiler] === 'string') return lines[compiler];
  const r = await run(enterArgv(root.path, [compiler, '--version']), { what: 'compiler in the build root' });
  const line = r.stdout.split('\n')[0];
  await writeFileAtomic(file, JSON.stringify({ ...self, lines: { ...lines, [compiler]: line } }) + '\n');
  return line;
}

async function debootstrapPath(): Promise<string> {
  const d = (await which('debootstrap')) ?? (existsSync('/usr/sbin/debootstrap') ? '/usr/sbin/debootstrap' : null);
  if (!d)
    throw new OperationError(
      'debootstrap is not installed: apt-get install debootstrap (scripts/setup.sh installs it)',
    );
  return d;
}

export function debootstrapArgv(
  debootstrap: string,
  keyring: string,
  target: string,
  mirror: string,
  downloadOnly: boolean,
): string[] {
  return [
    debootstrap,
    ...(downloadOnly ? ['--download-only'] : []),
    `--variant=${BUILD_ROOT_SPEC.variant}`,
    `--arch=${BUILD_ROOT_SPEC.arch}`,
    `--include=${BUILD_ROOT_SPEC.include.join(',')}`,
    `--keyring=${keyring}`,
    '--force-check-gpg',
    BUILD_ROOT_SPEC.suite,
    target,
    mirror,
  ];
}

async function runDebootstrap(argv: string[], what: string): Promise<void> {
  let n = 0;
  await run(argv, {
    what,
    onLine: (line) => {
      if (
        /^I: (Valid Release signature|Retrieving|Extracting|Installing|Configuring|Base system)/.test(line) &&
        (++n % 40 === 0 || /Base system|Valid Release/.test(line))
      )
        log.info(line);
    },
  });
}

/**
 * Download the locked package set (checked against the lock) into `target` with the pinned keyring; returns the mirror
 * used.
 */
async function downloadLocked(
  target: string,
  lock: BuildRootLock,
): Promise<{ mirror: string; keyring: string; keyDir: string }> {
  const debootstrap = await debootstrapPath();
  const keyDir = await mkdtemp(join(tmpdir(), 'xsnap-keyring-'));
  const keyring = await pinnedKeyring(debianMirrors(), keyDir);
  const mirror = await selectMirror(keyring);
  await runDebootstrap(debootstrapArgv(debootstrap, keyring, target, mirror, true), 'debootstrap --download-only');
  const failures = await checkDebs(join(target, 'var/cache/apt/archives'), lock);
  if (failures.length) throw new CheckFailed(failures);
  return { mirror, keyring, keyDir };
}

async function createBuildRoot(
  dir: string,
  lock: BuildRootLock,
  opts: { pinContents?: boolean } = {},
): Promise<BuildRoot> {
  if (process.platform !== 'linux')
    throw new UsageError('the pinned build root is a Linux chroot; build linux targets on Linux');
  if (process.getuid?.() !== 0) {
    throw new UsageError(
      'making and entering the pinned build root (debootstrap, chroot) needs root; run as root (CI does), or pass --toolchain host for a quick, non-releasable local build',
    );
  }
  const debootstrap = await debootstrapPath();
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  let keyDir: string | undefined;
  try {
    await timed(`creating the ${BUILD_ROOT_SPEC.suite} build root in ${dir} (first use only)`, async () => {
      const d = await downloadLocked(partial, lock);
      keyDir = d.keyDir;
      log.ok(`${lock.packages.length} packages from ${d.mirror} match buildroot-lock.json; installing`);
      // the second run finds the checked .debs in place and installs them
      await runDebootstrap(debootstrapArgv(debootstrap, d.keyring, partial, d.mirror, false), 'debootstrap');
    });
    // the .debs (checked above, 200 MB) go to the cache, where the root's check reads them; debootstrap's device
    // nodes and what varies by host or day are not part of the root
    const archives = join(partial, 'var/cache/apt/archives');
    const byFile = new Map(lock.packages.map((p) => [debFileName(p), p]));
    for (const f of await readdir(archives))
      if (byFile.has(f)) {
        const to = cachedDebPath(lockedDeb(byFile.get(f)!));
        await mkdir(dirname(to), { recursive: true });
        await rename(join(archives, f), to).catch(() => rm(join(archives, f)));
      }
    await removeVolatile(partial);
    await rm(join(partial, 'dev'), { recursive: true, force: true });
    await mkdir(join(partial, 'dev'), { mode: 0o755 });
    await mkdir(join(partial, 'build'), { mode: 0o755, recursive: true });
    const installed = await installedPackages(partial);
    const packages = Object.fromEntries(TOOLCHAIN_PACKAGES.map((p) => [p, installed.get(p) ?? 'missing']));
    const id = buildRootId(lock);
    await writeFile(
      join(partial, STAMP),
      canonicalJson({ id, suite: BUILD_ROOT_SPEC.suite, spec: BUILD_ROOT_SPEC, packages }) + '\n',
    );
    if (opts.pinContents) {
      const pin = await writeContentsPin(partial, lock);
      log.ok(`${CONTENTS_FILE}: ${Object.keys(pin.unpackaged).length} entries beyond the packages; review the diff`);
    }
    const failures = await checkBuildRoot(partial, { id, lock, snapshotAs: dir });
    if (failures.length) throw new CheckFailed(failures);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
    checked.set(dir, Promise.resolve([]));
  } finally {
    await rm(partial, { recursive: true, force: true });
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  }
  const made = (await readStamp(dir))!;
  log.ok(`build root ${made.id}: gcc ${made.packages['gcc-10']}, libc6-dev ${made.packages['libc6-dev']}`);
  return made;
}

/**
 * Download the package set the spec resolves to today (with the pinned keyring,
 * into a temporary folder) and write it as the lock. Needs root (debootstrap).
 */
export async function updateLock(file = LOCK_FILE): Promise<{ lock: BuildRootLock; mirror: string }> {
  if (process.getuid?.() !== 0) throw new UsageError('debootstrap --download-only needs root');
  const debootstrap = await debootstrapPath();
  const tmp = await mkdtemp(join(tmpdir(), 'xsnap-lock-'));
  try {
    const keyring = await pinnedKeyring(debianMirrors(), tmp);
    const mirror = await selectMirror(keyring);
    await runDebootstrap(
      debootstrapArgv(debootstrap, keyring, join(tmp, 'root'), mirror, true),
      'debootstrap --download-only',
    );
    const lock: BuildRootLock = {
      suite: BUILD_ROOT_SPEC.suite,
      arch: BUILD_ROOT_SPEC.arch,
      include: BUILD_ROOT_SPEC.include,
      packages: await withPoolPaths(
        await debsIn(join(tmp, 'root/var/cache/apt/archives')),
        join(tmp, 'root/var/lib/apt/lists'),
      ),
    };
    await writeFileAtomic(file, JSON.stringify(lock, null, 2) + '\n');
    return { lock, mirror };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Each package's pool path, from the Packages index debootstrap fetched into `lists` (its signed Release checked). */
async function withPoolPaths(debs: Array<Omit<LockedPackage, 'path'>>, lists: string): Promise<LockedPackage[]> {
  const where = new Map<string, string>();
  for (const f of (await readdir(lists)).filter((f) => f.endsWith('_Packages')))
    for (const para of (await readFile(join(lists, f), 'utf8')).split(/\n\n+/)) {
      const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(para)?.[1];
      const name = field('Package');
      if (name) where.set(`${name} ${field('Version')} ${field('Architecture')}`, field('Filename') ?? '');
    }
  return debs.map((p) => {
    const path = where.get(`${p.name} ${p.version} ${p.arch}`);
    if (!path) throw new OperationError(`${p.name} ${p.version} (${p.arch}) is not in the Packages index in ${lists}`);
    return { name: p.name, version: p.version, arch: p.arch, path, sha256: p.sha256 };
  });
}

/**
 * Write buildroot-contents.json from the build root of the lock: the cached one as it is, or one made now (root).
 * What it pins is what the check then requires: review the diff.
 */
export async function updateContents(): Promise<{ pin: ContentsPin; root: string }> {
  const lock = readLock();
  const dir = buildRootDir(lock);
  if (existsSync(dir)) return { pin: await writeContentsPin(dir, lock), root: dir };
  await createBuildRoot(dir, lock, { pinContents: true });
  return { pin: readContentsPin()!, root: dir };
}
