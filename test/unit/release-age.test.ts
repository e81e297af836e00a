// The release-age windows the gate prints: when a fresh version leaves Yarn's
// default quarantine and a day-long pnpm minimumReleaseAge.
import t from 'tap';
import { ageLine, ageWindows, YARN_MIN_AGE_MINUTES } from '../../scripts/lib/release/release-age.ts';

const published = '2026-11-20T12:00:00.000Z';

t.test('a version leaves each window a day after it was published', async (t) => {
  t.equal(YARN_MIN_AGE_MINUTES, 1440, "Yarn 4.18's default npmMinimalAgeGate (1d)");
  const before = ageWindows(published, new Date('2026-11-21T11:59:59Z'));
  t.same(
    before.map((w) => [w.from, w.open]),
    [
      ['2026-11-21T12:00:00.000Z', false],
      ['2026-11-21T12:00:00.000Z', false],
    ],
  );
  t.ok(
    ageWindows(published, new Date('2026-11-21T12:00:00Z')).every((w) => w.open),
    'open at the minute',
  );
  t.same(ageWindows('not a time'), [], 'no publish time, no windows');
});

t.test('the gate line: "installable from" while in the window, "since" after; both managers named', async (t) => {
  const fresh = ageLine('@agoric/xsnap-linux-x64', '1.2.3', published, new Date('2026-11-20T13:00:00Z'));
  t.match(fresh, /^@agoric\/xsnap-linux-x64@1\.2\.3 published 2026-11-20T12:00:00\.000Z; /);
  t.match(fresh, /Yarn npmMinimalAgeGate \(default 1440\): installable from 2026-11-21T12:00:00\.000Z/);
  t.match(fresh, /pnpm minimumReleaseAge \(off by default; if set to 1440\): installable from 2026-11-21T12:00/);
  const old = ageLine('@agoric/xsnap-linux-x64', '1.2.3', published, new Date('2026-11-23T00:00:00Z'));
  t.equal((old.match(/installable since 2026-11-21T12:00:00\.000Z/g) ?? []).length, 2);
  t.match(ageLine('p', '1.2.3', undefined), /gives no publish time; release-age windows unknown/);
});
