// The record of a full check (build/checked-output.ts) must vouch for what it
// recorded on the very next run, even when it is taken right after the last
// write. Two things made it miss now and then (seen as a flaky no-op build in
// CI): a file's ctime has sub-millisecond precision while Date.now() is
// truncated (a file just written looks up to 1 ms newer than "now"), and a timer
// can fire a millisecond or two early. Reproduced here with 100 records taken
// side by side (0.15 s): the code before the fix missed 1 to 4 of them in each of
// 5 runs (one at a time, 40 records took 4 s and missed 1 to 7, or none).
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAsChecked, recordChecked, statKeys } from '../../scripts/lib/build/checked-output.ts';

t.test('a record taken right after the last write vouches for the files on the next run', async (t) => {
  process.env.XSNAP_CACHE_DIR = mkdtempSync(join(tmpdir(), 'xsnap-checked-cache-'));
  const missed: number[] = [];
  await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const dir = mkdtempSync(join(tmpdir(), 'xsnap-checked-'));
      writeFileSync(join(dir, 'file'), 'bytes');
      await recordChecked(dir, 'key', statKeys(dir, ['file']));
      if (!isAsChecked(dir, 'key')) missed.push(i);
      // and the record can fail: a change after it is not vouched for
      writeFileSync(join(dir, 'file'), 'other');
      if (isAsChecked(dir, 'key')) t.fail(`try ${i}: a file changed after the record was vouched for`);
    }),
  );
  t.same(missed, [], 'every record vouches for the file it recorded');
});
