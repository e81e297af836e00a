// The processor slots of this process: every corpus job (a determinism family, a
// fingerprint workload) takes one while its worker computes, so that several
// measurements started side by side (x64 natively, the glibc floor, arm64 under
// qemu; the fingerprint and determinism corpora) share the cores instead of
// oversubscribing them, and the tail of one fills the idle core of another.
import { availableParallelism } from 'node:os';

let free = -1;
const waiting: Array<() => void> = [];

/** How many jobs run at once: $XSNAP_JOBS, else the number of processors. */
export function slotCount(env = process.env): number {
  const n = Number(env.XSNAP_JOBS);
  return Number.isInteger(n) && n > 0 ? n : availableParallelism();
}

/** Run `fn` in a slot: wait for one to be free, give it back when `fn` settles. */
export async function inSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (free < 0) free = slotCount();
  if (free > 0) free--;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else free++;
  }
}
