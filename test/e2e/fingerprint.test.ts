// The behaviour fingerprint on the real linux binaries: x64 natively and arm64
// under qemu must agree exactly, and the comparison must name what differs.
import t from 'tap';
import { copyFile, cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedDist } from '../helpers/shared-build.ts';
import { binaryPath } from '../../scripts/lib/core/layout.ts';
import { getTarget } from '../../scripts/lib/core/targets.ts';
import { hostRunner } from '../../scripts/lib/build/binary-checks.ts';
import {
  CORPUS_DIR,
  compareFingerprints,
  fingerprintBinary,
  fingerprintDigest,
  readCorpus,
  type Fingerprint,
} from '../../scripts/lib/behaviour/fingerprint.ts';
import type { Failure } from '../../scripts/lib/core/errors.ts';
import { XsnapWorker } from '../../scripts/lib/behaviour/worker-protocol.ts';

const dist = sharedDist();
const quiet = { onRestoreDivergence: (_f: Failure) => {} };

t.test('linux-x64 and linux-arm64 release binaries give identical, non-trivial fingerprints', async (t) => {
  const byTarget: Record<string, Fingerprint> = {};
  for (const name of ['linux-x64', 'linux-arm64'] as const) {
    const runner = await hostRunner(getTarget(name));
    if (!runner) throw new Error(`cannot run ${name} here`);
    byTarget[name] = await fingerprintBinary(binaryPath(dist, name, 'release'), runner, quiet);
  }
  const x64 = byTarget['linux-x64'];
  t.same(compareFingerprints(byTarget), [], 'no differences');
  t.equal(byTarget['linux-arm64'].digest, x64.digest);
  t.equal(x64.corpusDigest, (await readCorpus()).digest);
  t.equal(x64.digest, fingerprintDigest(x64), 'digest is recomputable from its parts');

  const names = Object.keys(x64.workloads);
  t.ok(names.length >= 8, `${names.length} workloads`);
  t.same(names, [...names].sort(), 'workloads in name order (stable digest)');
  const results = new Set(names.map((n) => x64.workloads[n].resultSha256));
  const snapshots = new Set(names.map((n) => x64.workloads[n].snapshotSha256));
  t.equal(results.size, names.length, 'distinct workloads give distinct results');
  t.equal(snapshots.size, names.length, 'distinct workloads give distinct snapshots');
  for (const n of names) {
    const m = x64.workloads[n].meter;
    for (const step of ['eval', 'run', 'resume', 'restored'])
      t.ok(m[`${step}.compute`] > 0 && m[`${step}.currentHeapCount`] > 0, `${n} ${step}: metered`);
    t.notOk(
      Object.keys(m).some((k) => k.includes('timestamps')),
      `${n}: no wall-clock values`,
    );
  }
  t.ok(
    x64.workloads['gc-metering'].meter['run.compute'] > 100 * x64.workloads.dates.meter['resume.compute'],
    'heavy and light workloads meter differently',
  );
});

t.test('the same binary gives the same fingerprint twice, from a copy elsewhere', async (t) => {
  const dir = t.testdir({});
  const copy = join(dir, 'xsnap-worker');
  await copyFile(binaryPath(dist, 'linux-x64', 'release'), copy);
  const [a, b] = await Promise.all([
    fingerprintBinary(binaryPath(dist, 'linux-x64', 'release'), [], quiet),
    fingerprintBinary(copy, [], { ...quiet, concurrency: 1 }),
  ]);
  t.equal(a.digest, b.digest);
});

t.test('compareFingerprints names the workload, targets and values that differ', async (t) => {
  const real = await fingerprintBinary(binaryPath(dist, 'linux-x64', 'release'), [], quiet);
  const changed = structuredClone(real);
  changed.workloads.numbers.meter['run.compute'] += 1;
  changed.workloads.json.snapshotSha256 = '0'.repeat(64);
  changed.digest = fingerprintDigest(changed);
  const failures = compareFingerprints({ 'linux-x64': real, 'fixture-darwin-arm64': changed });
  t.equal(failures.length, 2);
  const meter = failures.find((f) => f.check === 'fingerprint-meter')!;
  t.match(meter.subject, /linux-x64 vs fixture-darwin-arm64: workload numbers meter run\.compute/);
  t.match(meter.expected, String(real.workloads.numbers.meter['run.compute'] + 1));
  t.match(meter.actual, String(real.workloads.numbers.meter['run.compute']));
  const snap = failures.find((f) => f.check === 'fingerprint-snapshot')!;
  t.match(snap.subject, /workload json heap snapshot/);
  t.match(snap.expected, '0'.repeat(64));

  const removed = structuredClone(real);
  delete (removed.workloads as Record<string, unknown>).bigint;
  removed.digest = fingerprintDigest(removed);
  t.match(compareFingerprints({ a: real, b: removed }), [
    { check: 'fingerprint-workload', subject: /workload bigint/, expected: 'present', actual: 'absent' },
  ]);

  const tamperedDigest = { ...real, digest: 'f'.repeat(64) };
  t.match(compareFingerprints({ a: real, b: tamperedDigest }), [{ check: 'fingerprint-digest' }]);

  // other values under a digest copied from the real one: the digest is recomputed, not trusted
  const disguised = structuredClone(changed);
  disguised.digest = real.digest;
  t.match(compareFingerprints({ a: real, b: disguised }), [
    {
      check: 'fingerprint-digest',
      subject: /b: fingerprint digest does not match its workloads/,
      expected: changed.digest,
      actual: real.digest,
    },
  ]);
  t.match(
    compareFingerprints({ only: disguised }),
    [{ check: 'fingerprint-digest' }],
    'even a single carried fingerprint is checked',
  );

  // a difference outside the named fields (here an extra field) still fails
  const extra = structuredClone(real) as typeof real & { workloads: Record<string, Record<string, unknown>> };
  extra.workloads.numbers.extra = 1;
  extra.digest = fingerprintDigest(extra);
  t.match(compareFingerprints({ a: real, b: extra }), [
    { check: 'fingerprint-digest', subject: /b vs a: fingerprint digest/ },
  ]);

  const otherCorpus = { ...real, corpusDigest: 'e'.repeat(64) };
  otherCorpus.digest = fingerprintDigest(otherCorpus);
  t.match(compareFingerprints({ a: real, b: otherCorpus }), [{ check: 'fingerprint-corpus' }]);
  t.same(compareFingerprints({ only: real }), []);
});

t.test('a workload over the meter limit is reported naming the binary and workload', async (t) => {
  const corpus = t.testdir({});
  await cp(join(CORPUS_DIR, '_prelude.js'), join(corpus, '_prelude.js'));
  await writeFile(join(corpus, 'spin.js'), 'fp.define({ run() { for (;;) {} }, resume() { return 1; } });\n');
  const bin = binaryPath(dist, 'linux-x64', 'release');
  await t.rejects(fingerprintBinary(bin, [], { corpusDir: corpus }), {
    message: new RegExp(`${bin} workload spin: step run failed: .*exit 17 \\(too much computation`),
    exitCode: 1,
  });
});

t.test('a hung worker is killed after the timeout and reported', async (t) => {
  // No metering limit: the loop would run forever.
  const w = new XsnapWorker({
    binary: binaryPath(dist, 'linux-x64', 'release'),
    name: 'spinner',
    meteringLimit: 0,
    cwd: t.testdir({}),
    timeoutMs: 300,
  });
  const started = Date.now();
  await t.rejects(w.evaluate('for (;;) {}'), {
    message: /spinner: no answer to evaluate within 0.3 s; killed the worker/,
    exitCode: 1,
  });
  await w.done;
  t.ok(Date.now() - started < 5000);
  await t.rejects(w.evaluate('1'), { message: /spinner/ }, 'a killed worker refuses further requests');
});

t.test('an exception in a workload is reported with its message', async (t) => {
  const corpus = t.testdir({});
  await cp(join(CORPUS_DIR, '_prelude.js'), join(corpus, '_prelude.js'));
  await writeFile(join(corpus, 'broken.js'), 'fp.define({ run() { return 1; } }); null.x;\n');
  await t.rejects(fingerprintBinary(binaryPath(dist, 'linux-x64', 'release'), [], { corpusDir: corpus }), {
    message: new RegExp(
      'workload broken: step eval failed: .*uncaught exception in the worker: TypeError: .*cannot coerce null to object',
    ),
  });
});

t.test('worker protocol: issueCommand round trip, -r restore, errors, clean quit', async (t) => {
  const dir = t.testdir({});
  const bin = binaryPath(dist, 'linux-arm64', 'release');
  const runner = (await hostRunner(getTarget('linux-arm64')))!;
  const w = new XsnapWorker({
    binary: bin,
    runner,
    cwd: dir,
    handleCommand: (b) => Buffer.from(`host saw ${b.length} bytes`),
  });
  const r = await w.evaluate(
    'globalThis.n = 41; const te = new TextEncoder(); te.encode(new TextDecoder().decode(issueCommand(te.encode("abc").buffer))).buffer',
  );
  t.equal(r.reply.toString(), 'host saw 3 bytes');
  t.ok(r.meter.compute > 0);
  await t.rejects(w.evaluate('throw new RangeError("nope")'), {
    message: /uncaught exception in the worker: RangeError: nope/,
  });
  const snap = await w.snapshot(join(dir, 's.xss'));
  t.ok(snap.size > 10_000, `snapshot of ${snap.size} bytes`);
  t.equal(await w.close(), 15, 'the worker exits with the error of its last evaluation');
  const restored = new XsnapWorker({ binary: bin, runner, cwd: dir, snapshot: join(dir, 's.xss') });
  t.equal((await restored.evaluate('new TextEncoder().encode(String(n + 1)).buffer')).reply.toString(), '42');
  t.equal(await restored.close(), 0);
  const gone = new XsnapWorker({ binary: bin, runner, cwd: dir, snapshot: join(dir, 'missing.xss') });
  await t.rejects(gone.ready(), { message: /exit 2 \(I\/O error\)[\s\S]*cannot read snapshot/ });
});
