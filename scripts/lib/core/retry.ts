// One retry policy: a bounded number of attempts, waits doubling from a base (optionally capped), and the caller
// saying which outcomes are worth another attempt. Used for registry read-backs, npm reads and downloads.

export interface Retry<T> {
  /** attempts in all, the first included (at least 1) */
  attempts: number;
  /** the wait before the second attempt; it doubles before each one after */
  baseMs: number;
  /** the longest wait */
  capMs?: number;
  /** whether an outcome is worth another attempt (a final one, or one that waiting cannot change, is not) */
  retryable: (outcome: T) => boolean;
  /** told before each wait: what the last attempt gave, how long the wait is, which attempt comes next (2, 3, ...) */
  onRetry?: (outcome: T, waitMs: number, next: number) => void;
}

/** The wait before attempt `attempt + 1` (attempt >= 1): baseMs doubled attempt - 1 times, at most capMs. */
export const backoffMs = (p: { baseMs: number; capMs?: number }, attempt: number): number =>
  Math.min(p.baseMs * 2 ** (attempt - 1), p.capMs ?? Infinity);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run `attempt` until its outcome is not retryable or the attempts are spent; the last outcome. */
export async function retrying<T>(attempt: (n: number) => Promise<T>, policy: Retry<T>): Promise<T> {
  let last = await attempt(1);
  for (let n = 1; n < policy.attempts && policy.retryable(last); n++) {
    const wait = backoffMs(policy, n);
    policy.onRetry?.(last, wait, n + 1);
    await sleep(wait);
    last = await attempt(n + 1);
  }
  return last;
}
