// One publish-all at a time per registry and version on this machine. Two runs
// of the same release with different bytes would otherwise interleave (x64 from
// one build, arm64 from the other) and leave a set neither can finish.
// The lock is a file holding the owner's pid, created whole or not at all (a
// hard link to a file written aside); a lock whose owner is gone (killed,
// machine restarted) is removed by exactly one run, under a second lock held
// only for that moment, and never renamed or removed otherwise, so a live
// run's lock can never be taken away; one that cannot be read is left for a
// person. The key is the registry's identity, not its spelling: the public
// registry's aliases (registry.npmjs.org, .org., .com) share one lock.
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../core/hash.ts';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nextStep, OperationError } from '../core/errors.ts';
import { cacheDir } from '../core/paths.ts';
import { registryIdentity } from '../core/npm-client.ts';
import { processAlive } from '../core/process.ts';

export interface PublishLock {
  file: string;
  release(): void;
}

interface LockRecord {
  pid: number;
  registry: string;
  version: string;
  since: string;
}

/**
 * Where the lock of (registry, version) lives: $XSNAP_LOCK_DIR, else <cache>/locks. `registryKey` is a registry
 * URL (keyed by its identity: every spelling of one registry gets one lock) or "local:<dir>".
 */
export function lockFile(registryKey: string, version: string): string {
  const dir = process.env.XSNAP_LOCK_DIR || join(cacheDir(), 'locks');
  const key = /^https?:/.test(registryKey) ? registryIdentity(registryKey) : registryKey;
  const id = sha256Hex(`${key}\n${version}`).slice(0, 24);
  return join(dir, `publish-${id}.lock`);
}

/**
 * Take the lock for publishing `version` to the registry named by `registryKey`
 * (its URL, or "local:<dir>"), or throw (exit 1) naming the run that holds it.
 */
export function acquirePublishLock(registryKey: string, version: string): PublishLock {
  const file = lockFile(registryKey, version);
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  const record: LockRecord = { pid: process.pid, registry: registryKey, version, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createWhole(file, JSON.stringify(record) + '\n')) {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        if (readRecord(file)?.pid === process.pid) rmSync(file, { force: true });
      };
      process.once('exit', release);
      return { file, release };
    }
    const text = readText(file);
    if (text === undefined) continue; // released meanwhile: try again
    const holder = parseRecord(text);
    if (!holder)
      throw new OperationError(
        `the publish lock ${file} cannot be read (${JSON.stringify(text.slice(0, 60))}); nothing was written.` +
          nextStep('if no publish-all of this version is running, remove the file and re-run'),
      );
    if (processAlive(holder.pid) && holder.pid !== process.pid) {
      throw new OperationError(
        `another publish-all of ${version} to ${registryKey} is running (pid ${holder.pid}, since ${holder.since}); nothing was written.` +
          nextStep(`wait for it to finish, then re-run (it has nothing to do if that run completed). Lock: ${file}`),
      );
    }
    takeOverStale(file, text); // its owner is gone: remove it (one of us), then try again to create ours
  }
  throw new OperationError(`could not take the publish lock ${file}; remove it if no publish-all is running`);
}

/**
 * Create `file` holding `text`, whole, only if it does not exist: written aside, then hard-linked into place
 * (link fails if the name exists), so that a reader never sees a lock half written.
 */
function createWhole(file: string, text: string): boolean {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, text, { mode: 0o600 });
  try {
    linkSync(aside, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return false;
  } finally {
    rmSync(aside, { force: true });
  }
}

/**
 * Remove the stale lock whose text we read, and only that one. Its removal
 * happens under `<file>.takeover`, itself created whole: while the stale file
 * exists nobody can create a lock, and while we hold the takeover nobody else
 * removes anything, so what we re-read and remove is the stale lock and no
 * live run's. Returns whether it was removed. A takeover left by a run killed
 * in that moment is left for a person (it names itself).
 */
export function takeOverStale(file: string, staleText: string, between?: () => void): boolean {
  const takeover = `${file}.takeover`;
  if (!createWhole(takeover, JSON.stringify({ pid: process.pid, since: new Date().toISOString() }) + '\n')) {
    const holder = parseRecord(readText(takeover) ?? '');
    if (holder && !processAlive(holder.pid))
      throw new OperationError(
        `a run taking over the stale publish lock ${file} died doing it (pid ${holder.pid}); nothing was written.` +
          nextStep(`if no publish-all of this version is running, remove ${takeover} and re-run`),
      );
    return false; // another run is removing it right now
  }
  try {
    between?.();
    if (readText(file) !== staleText) return false; // released, or already taken over: try again
    rmSync(file, { force: true });
    return true;
  } finally {
    rmSync(takeover, { force: true });
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function parseRecord(text: string): LockRecord | undefined {
  try {
    const r = JSON.parse(text) as LockRecord;
    return typeof r?.pid === 'number' ? r : undefined;
  } catch {
    return undefined;
  }
}

const readRecord = (file: string) => {
  const text = readText(file);
  return text === undefined ? undefined : parseRecord(text);
};
