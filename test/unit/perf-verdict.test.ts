// The performance gate's verdict on given measurements (no binaries, no timing
// on this machine): medians, the geometric mean of the ratios against the
// threshold, meter changes, and --accept.
import t from 'tap';
import { median, verdictOf, renderTable, type WorkloadResult } from '../../scripts/lib/behaviour/perf.ts';

const row = (
  workload: string,
  base: number[],
  cand: number[],
  compute: [number, number] = [100, 100],
): WorkloadResult => ({
  workload,
  base: { ms: base, median: median(base), compute: [compute[0], compute[0]] },
  candidate: { ms: cand, median: median(cand), compute: [compute[1], compute[1]] },
  ratio: median(cand) / median(base),
  meterChanged: compute[0] !== compute[1],
});
const labels = { base: 'base 0.15.0', candidate: 'candidate' };

t.test('median', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([10, 10, 1000]), 10, 'one outlier does not move it');
});

t.test('within the threshold, no meter change: pass', async (t) => {
  const v = verdictOf([row('a', [10, 11, 10], [10.3, 10.4, 10.2]), row('b', [20, 20, 21], [19, 20, 20])], labels);
  t.equal(v.ok, true);
  t.same(v.failures, []);
  t.ok(v.geomean > 0.98 && v.geomean < 1.03);
});

t.test('more than 5% slower on the geometric mean: fail; accepted with a reason: pass, said', async (t) => {
  const rows = [row('a', [10, 10, 10], [11, 11, 11]), row('b', [20, 20, 20], [21.5, 21.5, 21.5])];
  const v = verdictOf(rows, labels);
  t.equal(v.ok, false);
  t.match(v.failures[0], { check: 'perf-speed', actual: /8\.\d% slower \(a, b each more than 5%\)/ });
  t.same(v.slower, ['a', 'b']);
  const acc = verdictOf(rows, { ...labels, accept: 'portable libm costs 8%, agreed in #123' });
  t.equal(acc.ok, true);
  t.equal(acc.accepted, 'portable libm costs 8%, agreed in #123');
  t.equal(verdictOf(rows, { ...labels, threshold: 0.1 }).ok, true, 'a wider threshold');
});

t.test('one workload slower but the mean within: pass, the workload is named', async (t) => {
  const v = verdictOf(
    [row('a', [10, 10, 10], [11, 11, 11]), row('b', [20, 20, 20], [19, 19, 19]), row('c', [5, 5, 5], [5, 5, 5])],
    labels,
  );
  t.equal(v.ok, true);
  t.same(v.slower, ['a']);
  t.match(
    renderTable([row('a', [10, 10, 10], [11, 11, 11])], labels.base, labels.candidate),
    /\| a \| 10\.0 \| 11\.0 \| 1\.100 slower \|/,
  );
});

t.test('any meter change fails, even when faster', async (t) => {
  const v = verdictOf([row('gen', [10, 10, 10], [9, 9, 9], [1000, 1001])], labels);
  t.equal(v.ok, false);
  t.match(v.failures[0], {
    check: 'perf-meter',
    subject: 'workload gen: compute meter',
    expected: '1000 (base 0.15.0)',
    actual: '1001 (candidate)',
  });
  t.match(renderTable([row('gen', [10], [9], [1000, 1001])], labels.base, labels.candidate), /1001 CHANGED/);
  t.equal(verdictOf([row('gen', [10], [9], [1000, 1001])], { ...labels, accept: 'upstream metering fix' }).ok, true);
});
