// One publish-all at a time per registry and version on this machine. Two runs
// of the same release with different bytes would otherwise interleave (x64 from
// one build, arm64 from the other) and leave a set neither can finish.
// The lock is a file created exclusively (O_EXCL) holding the owner's pid; a
// lock whose owner is gone (killed, machine restarted) is taken over.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nextStep, OperationError } from './errors.ts';
import { cacheDir } from './paths.ts';

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

/** Where the lock of (registry, version) lives: $XSNAP_LOCK_DIR, else <cache>/locks. */
export function lockFile(registryKey: string, version: string): string {
  const dir = process.env.XSNAP_LOCK_DIR || join(cacheDir(), 'locks');
  const id = createHash('sha256').update(`${registryKey}\n${version}`).digest('hex').slice(0, 24);
  return join(dir, `publish-${id}.lock`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
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
    try {
      writeFileSync(file, JSON.stringify(record) + '\n', { flag: 'wx', mode: 0o600 });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        try {
          const now = JSON.parse(readFileSync(file, 'utf8')) as LockRecord;
          if (now.pid === process.pid) rmSync(file, { force: true });
        } catch {
          /* already gone */
        }
      };
      process.once('exit', release);
      return { file, release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: LockRecord | undefined;
    try {
      holder = JSON.parse(readFileSync(file, 'utf8')) as LockRecord;
    } catch {
      holder = undefined; // being written, or garbage: look again
    }
    if (holder && typeof holder.pid === 'number' && alive(holder.pid) && holder.pid !== process.pid) {
      throw new OperationError(
        `another publish-all of ${version} to ${registryKey} is running (pid ${holder.pid}, since ${holder.since}` +
          `); nothing was written.` +
          nextStep(`wait for it to finish, then re-run (it has nothing to do if that run completed). Lock: ${file}`),
      );
    }
    // its owner is gone: take it over
    rmSync(file, { force: true });
  }
  throw new OperationError(`could not take the publish lock ${file}; remove it if no publish-all is running`);
}
