// What a build root must hold, from what the repository pins and nothing the
// root says about itself:
//  - every file, directory and link of every locked package, read from the
//    pinned .deb itself (its sha256 is in buildroot-lock.json; its data.tar
//    member, through `dpkg-deb --fsys-tarfile` and the `tar` parser), placed
//    where dpkg puts it (merged /usr, diversions);
//  - everything else (maintainer scripts' output, alternatives links, dpkg's
//    own records, the stamp) as buildroot-contents.json pins it: committed
//    next to the lock, written by `scripts/buildroot.ts --update-contents`
//    from a root made by this code;
//  - nothing more: an entry that neither names is a failure.
// The index of the .debs' contents is cached (it takes a while to read 160
// .debs), and a cached index is used only when its sha256 is the one
// buildroot-contents.json pins; otherwise it is read again from the .debs.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/fs.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Tar from 'tar';
import type { ReadEntry } from 'tar';
import { log } from '../core/cli.ts';
import { nextStep, OperationError, type Failure } from '../core/errors.ts';
import { runRaw, which } from '../core/exec.ts';
import { canonicalJson, sha256Hex } from '../core/hash.ts';
import { cacheDir } from '../core/paths.ts';
import { lazy } from '../core/lazy.ts';

const tar = lazy<typeof Tar>('tar');

/** What a path holds: `d` a directory, `l:<target>` a symbolic link, `f:<sha256>` a regular file, `-` nothing. */
export type Entry = string;

/** path (absolute in the root) -> entry, per package */
export type PackagedIndex = Record<string, Record<string, Entry>>;

export interface ContentsPin {
  /** the build root id these were written for */
  id: string;
  /** sha256 of canonicalJson(PackagedIndex): what the locked .debs hold */
  packaged: string;
  /**
   * Every path whose entry is not the one a package gives it: files no package owns (maintainer scripts' output,
   * alternatives links, dpkg's records, the stamp), and packaged paths a maintainer script changed or removed (`-`).
   */
  unpackaged: Record<string, Entry>;
}

export const CONTENTS_FILE = join(dirname(fileURLToPath(import.meta.url)), 'buildroot-contents.json');

/** Mount points the root's entry makes fresh each time (enterArgv): their contents on disk are never used. */
export const FRESH_MOUNTS = ['/dev', '/tmp', '/build', '/proc'];

export function readContentsPin(file = CONTENTS_FILE): ContentsPin | null {
  if (!existsSync(file)) return null;
  const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<ContentsPin>;
  if (typeof v.id !== 'string' || typeof v.packaged !== 'string' || typeof v.unpackaged !== 'object' || !v.unpackaged)
    throw new OperationError(
      `${file}: expected {"id", "packaged", "unpackaged"}, got keys ${Object.keys(v).join(', ')}` +
        nextStep('npx tsx scripts/buildroot.ts --update-contents (as root)'),
    );
  return v as ContentsPin;
}

const normal = (p: string) => '/' + p.replace(/^\.?\/+/, '').replace(/\/+$/, '');

/** A .deb's data.tar as path -> entry (hard links resolved to their target's digest). */
export async function debContents(deb: string): Promise<Record<string, Entry>> {
  const dpkgDeb = await which('dpkg-deb');
  if (!dpkgDeb) throw new OperationError(`dpkg-deb is needed to read ${deb}: apt-get install dpkg`);
  const out: Record<string, Entry> = {};
  const hard: Array<[string, string]> = [];
  const child = spawn(dpkgDeb, ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  const parser = new (tar().Parser)({ strict: true });
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('entry', (e: ReadEntry) => {
      const path = normal(e.path);
      if (path === '/') return e.resume();
      if (e.type === 'Directory') {
        out[path] = 'd';
        e.resume();
      } else if (e.type === 'SymbolicLink') {
        out[path] = `l:${e.linkpath}`;
        e.resume();
      } else if (e.type === 'Link') {
        hard.push([path, normal(e.linkpath ?? '')]);
        e.resume();
      } else if (e.type === 'File' || e.type === 'OldFile' || e.type === 'ContiguousFile') {
        const h = createHash('sha256');
        e.on('data', (c: Buffer) => h.update(c));
        e.on('end', () => (out[path] = `f:${h.digest('hex')}`));
      } else {
        out[path] = `?${e.type}`;
        e.resume();
      }
    });
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  child.stdout.pipe(parser);
  const [code] = await Promise.all([exited, parsed]);
  if (code !== 0) throw new OperationError(`dpkg-deb --fsys-tarfile ${deb} failed (exit ${code}): ${stderr.trim()}`);
  for (const [path, target] of hard) out[path] = out[target] ?? `?hard link to ${target}`;
  return out;
}

export const packagedDigest = (index: PackagedIndex) => sha256Hex(canonicalJson(index, 0));

/** Next to the roots (buildroots/), so a cache of the roots (build.yml's actions/cache) holds it too. */
const indexCacheFile = (digest: string) => join(cacheDir(), 'buildroots', `contents-${digest}.json`);

/**
 * The packaged index: from the cache when its sha256 is `want` (the pinned one), else read from the .debs that
 * `debFile(name)` gives (each checked against the lock by the caller) and cached under its own digest.
 */
export async function packagedIndex(
  names: string[],
  debFile: (name: string) => Promise<string>,
  want?: string,
): Promise<{ index: PackagedIndex; digest: string }> {
  if (want && existsSync(indexCacheFile(want))) {
    const text = await readFile(indexCacheFile(want), 'utf8');
    const index = JSON.parse(text) as PackagedIndex;
    if (packagedDigest(index) === want) return { index, digest: want };
    log.warn(`${indexCacheFile(want)} is not what its name says; reading the .debs again`);
  }
  const index: PackagedIndex = {};
  const queue = [...names];
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      for (let n = queue.shift(); n; n = queue.shift()) index[n] = await debContents(await debFile(n));
    }),
  );
  const sorted = Object.fromEntries(
    Object.keys(index)
      .sort()
      .map((k) => [k, index[k]]),
  );
  const digest = packagedDigest(sorted);
  const file = indexCacheFile(digest);
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, canonicalJson(sorted, 0));
  return { index: sorted, digest };
}

/** dpkg's diversions file: (from, to, by package) triples. */
export function parseDiversions(text: string): Array<{ from: string; to: string; by: string }> {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out = [];
  for (let i = 0; i + 2 < lines.length; i += 3) out.push({ from: lines[i], to: lines[i + 1], by: lines[i + 2] });
  return out;
}

/** The merged-/usr links among `entries`: `/bin` -> `/usr/bin` for a top-level link `/bin` to `usr/bin`. */
function mergedUsr(entries: Iterable<[string, Entry]>): Map<string, string> {
  const merged = new Map<string, string>();
  for (const [p, e] of entries) {
    const m = /^\/([^/]+)$/.exec(p);
    if (m && e === `l:usr/${m[1]}`) merged.set(`/${m[1]}`, `/usr/${m[1]}`);
  }
  return merged;
}

/** Each packaged path where dpkg puts it: merged /usr followed, diversions applied. */
function placePackaged(
  index: PackagedIndex,
  merged: Map<string, string>,
  diversions: Array<{ from: string; to: string; by: string }>,
): Map<string, { entry: Entry; from: string }> {
  const place = (p: string) => {
    const top = /^\/[^/]+/.exec(p)?.[0];
    return top && merged.has(top) ? merged.get(top)! + p.slice(top.length) : p;
  };
  const out = new Map<string, { entry: Entry; from: string }>();
  for (const [pkg, files] of Object.entries(index))
    for (const [p, entry] of Object.entries(files)) {
      const d = diversions.find((x) => x.from === p && x.by !== pkg);
      const at = place(d ? d.to : p);
      if (!out.has(at) || out.get(at)!.entry === 'd') out.set(at, { entry, from: `package ${pkg}` });
    }
  return out;
}

/**
 * What the tree must hold: each packaged path where dpkg puts it (the merged-/usr links as the unpackaged entries pin
 * them; `diversions` is the root's own file, itself pinned there), then the unpackaged entries over them.
 */
export function expectedTree(
  index: PackagedIndex,
  unpackaged: Record<string, Entry>,
  diversions: Array<{ from: string; to: string; by: string }>,
): Map<string, { entry: Entry; from: string }> {
  const out = placePackaged(index, mergedUsr(Object.entries(unpackaged)), diversions);
  for (const [p, entry] of Object.entries(unpackaged)) out.set(p, { entry, from: 'buildroot-contents.json' });
  return out;
}

/**
 * What a full check established about a root, kept next to it (`<root>.verified.json`) so that the next check
 * re-reads only what changed: per entry its stat key (mode, size, mtime, inode, ctime, as git's index keeps them)
 * and its Entry. Used only for the same pin and lock (`pin`), the same root directory (device and inode: a root
 * restored from a cache or made anew is another directory), and never for an entry whose ctime is not older than
 * the snapshot (racy: it may have changed within the clock's resolution).
 *
 * Two lines: the head (everything but the entries), then the entries, so that a check of an unchanged root reads the
 * head alone (changedSince needs nothing more) and not the 2 MB of entries.
 */
export interface Snapshot extends SnapshotHead {
  /** path -> [stat key, Entry]; a directory's key is empty (its entries are compared one by one) */
  entries: Record<string, [key: string, entry: Entry]>;
}

export interface SnapshotHead {
  version: 3;
  pin: string;
  root: string;
  /** ctime (ms since the epoch) before which an unchanged stat key means unchanged content */
  at: number;
}

export const snapshotFile = (root: string) => `${root}.verified.json`;

/** The head of root's snapshot if it is for this pin and this very directory, else null. */
export function readSnapshotHead(root: string, pin: string): SnapshotHead | null {
  try {
    const buf = Buffer.alloc(4096); // the head is a few hundred bytes
    const fd = openSync(snapshotFile(root), 'r');
    let n: number;
    try {
      n = readSync(fd, buf);
    } finally {
      closeSync(fd);
    }
    const text = buf.toString('utf8', 0, n);
    return headFor(root, pin, JSON.parse(text.slice(0, text.indexOf('\n'))) as SnapshotHead);
  } catch {
    return null;
  }
}

export function readSnapshot(root: string, pin: string): Snapshot | null {
  try {
    const [head, entries] = readFileSync(snapshotFile(root), 'utf8').split('\n');
    const h = headFor(root, pin, JSON.parse(head) as SnapshotHead);
    return h && { ...h, entries: JSON.parse(entries) as Snapshot['entries'] };
  } catch {
    return null;
  }
}

function headFor(root: string, pin: string, h: SnapshotHead): SnapshotHead | null {
  return h.version === 3 && h.pin === pin && h.root === directoryIdentity(root) ? h : null;
}

/** Which directory this is (device and inode): a root restored from a cache or made anew is another one. */
export function directoryIdentity(dir: string): string {
  const st = lstatSync(dir);
  return `${st.dev}:${st.ino}`;
}

/**
 * Whether any entry of the tree (contents of FRESH_MOUNTS left out) changed since `at` (ms since the epoch): whether
 * any has a ctime newer than that. Any change to an entry sets its ctime to the current time, which no program can set
 * back: its bytes, its metadata, or its name (adding, removing or renaming an entry changes its folder's). One `find`
 * lstats the 15,000 entries of a root in about 45 ms, where walking them in JavaScript takes 160 ms. Anything
 * unexpected (find missing or failing) counts as a change: the caller then walks the tree.
 */
export async function changedSince(root: string, at: number): Promise<boolean> {
  const prune = FRESH_MOUNTS.flatMap((m, i) => [...(i ? ['-o'] : []), '-path', join(root, m)]);
  // whole milliseconds, one earlier: find's "newer" is strict, and an entry at `at` itself is racy
  const since = `@${((at - 1) / 1000).toFixed(3)}`;
  const r = await runRaw(['find', root, '(', ...prune, ')', '-prune', '-o', '-newerct', since, '-print', '-quit']);
  return r.code !== 0 || r.stdout !== '';
}

export interface Walked {
  /** path -> Entry, every entry of the tree (no symlink followed), contents of FRESH_MOUNTS left out */
  actual: Map<string, Entry>;
  keys: Map<string, string>;
  /** entries read again (hashed, link read) because the snapshot did not vouch for them */
  reread: number;
  /** the snapshot vouches for every entry, and the tree holds exactly its paths */
  unchanged: boolean;
  startedAt: number;
}

/**
 * Walk the tree: each entry's stat key, and its Entry from `previous` when the key is the same (and not racy), else
 * read (a file hashed, a link read).
 */
export function walkRoot(root: string, previous: Snapshot | null = null): Walked {
  // a second's margin: file times come from a coarse clock, and an entry changed around the walk is read again
  const startedAt = Date.now() - 1000;
  const before = previous ? previous.at : -1;
  const actual = new Map<string, Entry>();
  const keys = new Map<string, string>();
  let reread = 0;
  const stack = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    for (const d of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${d.name}`;
      if (d.isDirectory()) {
        // nothing to read: its entries are walked (an added or removed one changes the set of paths)
        if (previous?.entries[p]?.[1] !== 'd') reread++;
        actual.set(p, 'd');
        keys.set(p, '');
        if (!FRESH_MOUNTS.includes(p)) stack.push(p);
        continue;
      }
      const abs = join(root, p);
      const st = lstatSync(abs);
      const key = `${st.mode}:${st.size}:${st.mtimeMs}:${st.ino}:${st.ctimeMs}`;
      const known = previous?.entries[p];
      let entry: Entry;
      if (known && known[0] === key && st.ctimeMs < before) entry = known[1];
      else {
        reread++;
        if (st.isSymbolicLink()) entry = `l:${readlinkSync(abs)}`;
        else if (st.isFile()) entry = `f:${sha256Hex(readFileSync(abs))}`;
        else entry = `?${st.mode.toString(8)}`;
      }
      actual.set(p, entry);
      keys.set(p, key);
    }
  }
  const unchanged = previous !== null && reread === 0 && Object.keys(previous.entries).length === actual.size;
  return { actual, keys, reread, unchanged, startedAt };
}

/** Keep what a check that passed established (the walk's keys and entries), for the next check of this root. */
export async function writeSnapshot(root: string, pin: string, walked: Walked, as = root): Promise<void> {
  const entries: Snapshot['entries'] = {};
  for (const [p, e] of walked.actual) entries[p] = [walked.keys.get(p)!, e];
  const head: SnapshotHead = { version: 3, pin, root: directoryIdentity(root), at: walked.startedAt };
  await writeFileAtomic(snapshotFile(as), `${JSON.stringify(head)}\n${JSON.stringify(entries)}\n`);
}

const show = (e: Entry | undefined) =>
  e === undefined || e === '-'
    ? 'nothing'
    : e === 'd'
      ? 'a directory'
      : e.startsWith('l:')
        ? `a link to ${e.slice(2)}`
        : e.startsWith('f:')
          ? `a file, sha256 ${e.slice(2)}`
          : `a special file (${e.slice(1)})`;

/** The tree against what it must hold: each difference a failure naming the path, the source, expected and actual. */
export function compareTree(
  root: string,
  expected: Map<string, { entry: Entry; from: string }>,
  actual: Map<string, Entry>,
): Failure[] {
  const failures: Failure[] = [];
  for (const [p, want] of expected) {
    const got = actual.get(p);
    if (want.entry === '-' ? got === undefined : got === want.entry) continue;
    failures.push({
      check: 'buildroot-files',
      subject: join(root, p),
      expected: `${show(want.entry)} (${want.from})`,
      actual: show(got),
    });
  }
  for (const [p, got] of actual)
    if (!expected.has(p))
      failures.push({
        check: 'buildroot-files',
        subject: join(root, p),
        expected: 'nothing (no locked package holds it, and buildroot-contents.json does not list it)',
        actual: show(got),
      });
  return failures.sort((a, b) => (a.subject < b.subject ? -1 : 1));
}

/** The unpackaged entries of a tree: every path whose entry a package does not give it. */
export function unpackagedOf(
  index: PackagedIndex,
  actual: Map<string, Entry>,
  diversionsText: string,
): Record<string, Entry> {
  // the merged-/usr links and diversions come from the tree itself here: what it holds is what gets pinned
  const packaged = placePackaged(index, mergedUsr(actual), parseDiversions(diversionsText));
  const out: Record<string, Entry> = {};
  for (const [p, e] of actual) if (packaged.get(p)?.entry !== e) out[p] = e;
  for (const [p] of packaged) if (!actual.has(p)) out[p] = '-';
  return Object.fromEntries(
    Object.keys(out)
      .sort()
      .map((k) => [k, out[k]]),
  );
}
