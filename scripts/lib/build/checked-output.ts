// What a full check of a build's output (dist/<target>) established, kept so that
// a build whose inputs and output are unchanged does not re-check the same bytes:
// as git's index does, each file is keyed by what would change if it did (device,
// inode, mode, size, mtime, ctime), the set of files by their paths, and the whole
// by the build's cache key and the checks' own inputs (the options, the target's
// row and the checking code). Anything else (a file changed, added or removed, a
// folder restored from a cache or copied, other checks, --check) means a full check.
//
// Kept in the cache folder, not in dist/: dist/<target> holds only what is shipped
// and uploaded. A record vouches only for entries whose ctime is older than the
// record by a margin (git's "racy" rule): a change in the same clock tick as the
// record would not show in the times.
import { existsSync, lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../core/fs.ts';
import { join, relative, resolve } from 'node:path';
import { idOf, sha256Hex } from '../core/hash.ts';
import { cacheDir } from '../core/paths.ts';

/** Bump when what the record means changes. */
const RECORD_VERSION = 1;
/**
 * File times come from a coarse clock (the kernel's tick, a few ms, on Linux file systems with nanosecond times; a
 * second or two where times are whole seconds): an entry whose ctime is within this of the record is not vouched
 * for, as a change in the same tick would not show.
 */
const FINE_MARGIN_MS = 100;
const COARSE_MARGIN_MS = 2000;
const racyMargin = (ctimeMs: number) => (Number.isInteger(ctimeMs / 1000) ? COARSE_MARGIN_MS : FINE_MARGIN_MS);

export interface CheckedOutput {
  version: typeof RECORD_VERSION;
  /** the folder, as resolved when recorded */
  dir: string;
  /** the build's cache key and the checks' inputs */
  key: string;
  /** when the stat keys were taken (ms since the epoch) */
  at: number;
  /** path below dir -> stat key; folders have '' */
  entries: Record<string, string>;
}

const recordFile = (dir: string) => join(cacheDir(), 'checked-outputs', `${sha256Hex(resolve(dir)).slice(0, 24)}.json`);

const statKey = (st: Stats) =>
  st.isDirectory() ? '' : `${st.dev}:${st.ino}:${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

/** Every entry below dir with its stat key (no symlink followed), or null if dir is not a folder. */
function walk(dir: string): Map<string, { key: string; ctimeMs: number }> | null {
  if (!existsSync(dir) || !lstatSync(dir).isDirectory()) return null;
  const out = new Map<string, { key: string; ctimeMs: number }>();
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const name of readdirSync(d)) {
      const abs = join(d, name);
      const st = lstatSync(abs);
      out.set(relative(dir, abs), { key: statKey(st), ctimeMs: st.ctimeMs });
      if (st.isDirectory()) stack.push(abs);
    }
  }
  return out;
}

/**
 * The key of a check: the build's cache key, the check's options and whatever else it depends on, and the checking
 * code itself (these files' bytes), so that a changed check never trusts an old record.
 */
export function checkKey(inputs: unknown, code: string[]): string {
  return idOf({ inputs, code: code.map((f) => sha256Hex(readFileSync(f))) });
}

/** Whether dir holds exactly what the last full check under `key` found, unchanged since (and not racy). */
export function isAsChecked(dir: string, key: string): boolean {
  let record: CheckedOutput;
  try {
    record = JSON.parse(readFileSync(recordFile(dir), 'utf8')) as CheckedOutput;
  } catch {
    return false;
  }
  if (record.version !== RECORD_VERSION || record.key !== key || record.dir !== resolve(dir)) return false;
  const now = walk(dir);
  if (!now || now.size !== Object.keys(record.entries).length) return false;
  for (const [p, { key: k, ctimeMs }] of now) {
    if (record.entries[p] !== k) return false;
    if (k && ctimeMs >= record.at - racyMargin(ctimeMs)) return false;
  }
  return true;
}

/** The stat keys of `paths` below dir, taken before a check reads them (see recordChecked). */
export function statKeys(dir: string, paths: string[]): Record<string, string> {
  return Object.fromEntries(paths.map((p) => [p, statKey(lstatSync(join(dir, p)))]));
}

/**
 * Record dir as a full check under `key` just found it. `checked` holds the stat keys of the files the check read,
 * taken before it read them (a folder renamed since keeps them: same inode, same times): if any differs now, the
 * bytes may not be those checked, and nothing is recorded. The record is taken once the newest entry is older than
 * the racy margin (at most that long a wait), so that the next run can trust it.
 */
export async function recordChecked(dir: string, key: string, checked: Record<string, string>): Promise<void> {
  const first = walk(dir);
  if (!first) return;
  for (const [p, k] of Object.entries(checked)) if (first.get(p)?.key !== k) return;
  const newest = Math.max(0, ...[...first.values()].filter((e) => e.key).map((e) => e.ctimeMs));
  // waited by the wall clock, not by one timer: a timer can fire a millisecond or two early (libuv counts whole
  // milliseconds), and Date.now() is truncated to the millisecond while ctimes are not, so a file written just now
  // looks up to 1 ms newer than now (hence + 2). A record taken too early vouched for nothing: the next build
  // checked everything again (test/unit/checked-output.test.ts)
  const trustedFrom = newest + racyMargin(newest) + 1;
  for (let wait = trustedFrom - Date.now(); wait > 0 && wait <= FINE_MARGIN_MS + 2; wait = trustedFrom - Date.now())
    await new Promise((r) => setTimeout(r, Math.ceil(wait)));
  const at = Date.now();
  const now = walk(dir);
  if (!now || now.size !== first.size || [...now].some(([p, e]) => first.get(p)?.key !== e.key)) return;
  const record: CheckedOutput = {
    version: RECORD_VERSION,
    dir: resolve(dir),
    key,
    at,
    entries: Object.fromEntries([...now].map(([p, e]) => [p, e.key])),
  };
  const file = recordFile(dir);
  await mkdir(join(cacheDir(), 'checked-outputs'), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(record) + '\n');
}
