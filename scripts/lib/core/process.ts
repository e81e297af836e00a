// Process identity: is a recorded pid still a process, may we signal it, and what is its command line.
import { existsSync, readFileSync } from 'node:fs';
import { runRaw } from './exec.ts';

/**
 * What `pid` is to us now: 'ours' (a live process this user may signal), 'another-user' (alive, but signal 0 is
 * refused with EPERM: another user's process), or 'gone'.
 */
export type ProcessState = 'ours' | 'another-user' | 'gone';

export function processState(pid: number): ProcessState {
  try {
    process.kill(pid, 0);
    return 'ours';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? 'another-user' : 'gone';
  }
}

/** Is `pid` a live process, whoever's it is? */
export const processAlive = (pid: number): boolean => processState(pid) !== 'gone';

/** The command line of a running process: Linux's /proc, else `ps` (macOS has no /proc); null if none. */
export async function commandLine(pid: number, procfs = '/proc'): Promise<string | null> {
  if (existsSync(procfs)) {
    try {
      return readFileSync(`${procfs}/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      return null;
    }
  }
  const r = await runRaw(['ps', '-o', 'command=', '-p', String(pid)]);
  return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}
