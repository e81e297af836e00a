// One retry policy (issue 20, item 3): attempts in all, waits doubling from a base up to a cap, and the caller's
// word on which outcomes are worth another attempt.
import t from 'tap';
import { backoffMs, retrying } from '../../scripts/lib/core/retry.ts';

t.test('waits double from the base, capped; the attempts are bounded', async (t) => {
  t.same(
    [1, 2, 3, 4, 5].map((n) => backoffMs({ baseMs: 500, capMs: 15_000 }, n)),
    [500, 1000, 2000, 4000, 8000],
  );
  t.equal(backoffMs({ baseMs: 500, capMs: 15_000 }, 7), 15_000, 'capped');
  t.equal(backoffMs({ baseMs: 0 }, 3), 0, 'a zero base never waits');
  const seen: Array<[number, number]> = [];
  const calls: number[] = [];
  const last = await retrying(
    async (n) => {
      calls.push(n);
      return 'busy';
    },
    { attempts: 4, baseMs: 1, capMs: 2, retryable: () => true, onRetry: (_o, wait, next) => seen.push([wait, next]) },
  );
  t.equal(last, 'busy', 'the last outcome when the attempts are spent');
  t.same(calls, [1, 2, 3, 4]);
  t.same(seen, [
    [1, 2],
    [2, 3],
    [2, 4],
  ]);
});

t.test('an outcome that is not retryable ends it at once', async (t) => {
  let calls = 0;
  const out = await retrying(async () => (++calls === 2 ? 'different' : 'lagging'), {
    attempts: 8,
    baseMs: 0,
    retryable: (o) => o === 'lagging',
  });
  t.equal(out, 'different');
  t.equal(calls, 2);
  let once = 0;
  t.equal(await retrying(async () => ++once, { attempts: 1, baseMs: 0, retryable: () => true }), 1, 'one attempt');
});
