// bench/compare-release.ts with real binaries: the base fetched from a real
// registry (Verdaccio) or from the release bundle, the candidate from the shared
// build. Timings are never asserted: the speed verdict is made irrelevant with
// a huge --threshold (its logic is tested in test/unit/perf-verdict.test.ts);
// the meter verdict is deterministic: the debug build meters generator resumes
// differently, a planted consensus-visible change.
import t from 'tap';
import { join } from 'node:path';
import { runScript } from '../helpers/run.ts';
import { VERSION, startTestRegistry, releaseDist, publishDirect } from '../helpers/registry.ts';

const bench = (args: string[]) =>
  runScript('../bench/compare-release.ts', [
    '--runs',
    '1',
    '--workloads',
    'generators,json',
    '--threshold',
    '100000',
    '--json',
    ...args,
  ]);

t.test('compare-release: the same binary passes with equal meters; a meter change fails unless accepted', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  await publishDirect(reg, join(dist, `agoric-xsnap-linux-x64-${VERSION}.tgz`));
  const release = join(dist, 'linux-x64', 'release', 'xsnap-worker');
  const debug = join(dist, 'linux-x64', 'debug', 'xsnap-worker');

  const same = await bench(['--base', VERSION, '--registry', reg.direct, '--candidate', release]);
  t.equal(same.code, 0, same.stderr);
  const r = JSON.parse(same.stdout);
  t.equal(r.base.sha256, r.candidate.sha256, "the base from the registry is the candidate's bytes");
  t.same(
    r.rows.map((x: { workload: string; meterChanged: boolean }) => [x.workload, x.meterChanged]),
    [
      ['generators', false],
      ['json', false],
    ],
  );
  t.ok(
    r.rows.every((x: { base: { ms: number[] } }) => x.base.ms.length === 1),
    'one measured round each (after the warm-up)',
  );
  t.match(same.stderr, /\| generators \| [\d.]+ \| [\d.]+ \| [\d.]+/, 'the table');

  const fromBundle = await bench([
    '--base',
    VERSION,
    '--base-bundle',
    join(dist, 'release', `xsnap-worker-binaries-${VERSION}.tar.gz`),
    '--candidate',
    release,
  ]);
  t.equal(fromBundle.code, 0, fromBundle.stderr);
  t.match(JSON.parse(fromBundle.stdout).base.from, /bundle/);

  const changed = await bench(['--base', VERSION, '--registry', reg.direct, '--candidate', debug]);
  t.equal(changed.code, 1);
  t.match(changed.stderr, /\[perf-meter\] workload generators: compute meter/);
  t.notMatch(changed.stderr, /workload json: compute meter/, 'json meters the same in both builds');
  const accepted = await bench([
    '--base',
    VERSION,
    '--registry',
    reg.direct,
    '--candidate',
    debug,
    '--accept',
    'debug build, for the test',
  ]);
  t.equal(accepted.code, 0, accepted.stderr);
  t.equal(JSON.parse(accepted.stdout).verdict.accepted, 'debug build, for the test');

  const missing = await bench(['--base', '0.0.1', '--registry', reg.direct, '--candidate', release]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /\[perf-base\] @agoric\/xsnap-linux-x64@0\.0\.1/);
  t.equal((await bench(['--candidate', release])).code, 2, 'no --base');
  t.equal((await bench(['--base', VERSION, '--candidate', join(dist, 'nope')])).code, 2);
});
