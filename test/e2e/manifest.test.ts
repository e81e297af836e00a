// generate-manifest.ts on the real staged linux packages: checkable with
// sha256sum -c, the same bytes when regenerated, a bundle real tar reads, and
// the manifests/ copy that never silently changes.
import t from 'tap';
import { loadCorpus } from '../../scripts/lib/behaviour/determinism.ts';
import { releasedCorpusFile } from '../../scripts/lib/behaviour/released-corpus.ts';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from '../helpers/run.ts';
import { stagedDist, stagedCopy, LINUX } from '../helpers/staged.ts';
import { runRaw } from '../../scripts/lib/core/exec.ts';
import { sha256Hex } from '../../scripts/lib/core/hash.ts';
import { readPin, pinPath } from '../../scripts/lib/core/pin.ts';
import { schemaFailures } from '../../scripts/lib/core/manifest.ts';
import { hostname } from 'node:os';

const VERSION = readPin(pinPath()).version;
const MANIFEST = `xsnap-worker-manifest-${VERSION}.json`;
const BUNDLE = `xsnap-worker-binaries-${VERSION}.tar.gz`;

t.test('dist/release checks with sha256sum -c and holds what was promised', async (t) => {
  const dist = await stagedDist();
  const release = join(dist, 'release');
  const r = await runRaw(['sha256sum', '-c', 'SHA256SUMS'], { cwd: release });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, new RegExp(`${MANIFEST}: OK`));
  t.match(r.stdout, new RegExp(`${BUNDLE}: OK`));
  const text = await readFile(join(release, MANIFEST), 'utf8');
  const m = JSON.parse(text);
  t.same(await schemaFailures(m, MANIFEST), []);
  t.same(Object.keys(m.targets).sort(), ['linux-arm64', 'linux-x64']);
  for (const [target, e] of Object.entries<any>(m.targets)) {
    t.equal(e.package, `@agoric/xsnap-${target}`);
    t.equal(e.release.path, 'bin/release/xsnap-worker');
    t.equal(e.release.sha256, sha256Hex(await readFile(join(dist, target, 'release', 'xsnap-worker'))));
    t.equal(e.tarball.name, `agoric-xsnap-${target}-${VERSION}.tgz`);
    t.match(e.tarball.integrity, /^sha512-/);
    t.ok(e.fingerprint.digest, 'fingerprint recorded');
  }
  t.equal(
    m.targets['linux-x64'].fingerprint.digest,
    m.targets['linux-arm64'].fingerprint.digest,
    'same behaviour on both',
  );
  // nothing about this machine or this moment
  for (const bad of [hostname(), '/root', 'durationSeconds', 'hostname', String(new Date().getFullYear())])
    t.notMatch(text, bad, `no ${bad}`);
  // the bundle as real tar sees it
  const list = await runRaw(['tar', 'tvzf', join(release, BUNDLE)]);
  t.equal(list.code, 0);
  const lines = list.stdout.trim().split('\n');
  t.same(
    lines.map((l) => l.split(/\s+/).pop()),
    [
      'dist/',
      'dist/linux-arm64/',
      'dist/linux-arm64/debug/',
      'dist/linux-arm64/debug/xsnap-worker',
      'dist/linux-arm64/release/',
      'dist/linux-arm64/release/xsnap-worker',
      'dist/linux-x64/',
      'dist/linux-x64/debug/',
      'dist/linux-x64/debug/xsnap-worker',
      'dist/linux-x64/release/',
      'dist/linux-x64/release/xsnap-worker',
    ],
  );
  t.ok(
    lines.every((l) => / 0\/0 /.test(l) && / 1970-01-01 00:00 /.test(l)),
    'owner 0/0, mtime 0',
  );
  const gz = await readFile(join(release, BUNDLE));
  t.equal(gz.readUInt32LE(4), 0, 'no gzip mtime');
  t.equal(gz[9], 0xff, 'gzip OS byte fixed, whatever the host');
});

t.test('regenerating from the same inputs gives the same bytes; --save refuses a changed manifest', async (t) => {
  const first = await stagedDist();
  const dist = await stagedCopy(t.testdir());
  await rm(join(dist, 'release'), { recursive: true });
  const saved = await mkdtemp(join(tmpdir(), 'xsnap-manifests-'));
  t.teardown(() => rm(saved, { recursive: true, force: true }));
  const r = await runScript('generate-manifest.ts', [
    '--dist',
    dist,
    '--targets',
    LINUX,
    '--save',
    '--manifests-dir',
    join(saved, 'm'),
    '--json',
  ]);
  t.equal(r.code, 0, r.stderr);
  for (const f of [MANIFEST, BUNDLE, 'SHA256SUMS']) {
    t.equal(
      sha256Hex(await readFile(join(dist, 'release', f))),
      sha256Hex(await readFile(join(first, 'release', f))),
      `${f} identical`,
    );
  }
  t.equal(
    await readFile(join(saved, 'm', MANIFEST), 'utf8'),
    await readFile(join(dist, 'release', MANIFEST), 'utf8'),
    'saved copy',
  );
  // the corpus the manifest was measured with, kept by its digest (delivery checks of this release run it)
  const { corpusDigest } = JSON.parse(await readFile(join(dist, 'release', MANIFEST), 'utf8')).targets['linux-x64']
    .determinism;
  t.equal(corpusDigest, loadCorpus().digest);
  t.equal(
    await readFile(releasedCorpusFile(join(saved, 'm'), corpusDigest), 'utf8'),
    loadCorpus().source,
    'the corpus kept with the manifest',
  );
  // a different manifest already committed for this version: refused
  await writeFile(join(saved, 'm', MANIFEST), '{"version":"other"}\n');
  // ...and dist/release/ left as it was: mark it to see that it is not replaced
  await writeFile(join(dist, 'release', 'marker'), 'before');
  const again = await runScript('generate-manifest.ts', [
    '--dist',
    dist,
    '--targets',
    LINUX,
    '--save',
    '--manifests-dir',
    join(saved, 'm'),
  ]);
  t.equal(again.code, 1);
  t.match(again.stderr, /committed-manifest.*same version/s);
  t.equal(
    await readFile(join(dist, 'release', 'marker'), 'utf8'),
    'before',
    'dist/release not replaced by a refused run',
  );
  t.same(
    readdirSync(dist).filter((f) => f.includes('partial')),
    [],
    'no partial folder left',
  );
});

t.test('a fingerprint carried from another host must be of these bytes', async (t) => {
  const dist = await stagedCopy(t.testdir());
  await writeFile(
    join(dist, 'linux-x64', 'fingerprint.json'),
    JSON.stringify({
      target: 'linux-x64',
      binarySha256: 'f'.repeat(64),
      fingerprint: { corpusDigest: 'x', digest: 'y', workloads: {} },
    }),
  );
  const r = await runScript('generate-manifest.ts', ['--dist', dist, '--targets', 'linux-x64']);
  t.equal(r.code, 1);
  t.match(r.stderr, /\[fingerprint\] linux-x64: .*fingerprint\.json.*measured on f{64}/s);
});

t.test("--fingerprints-from takes a check leg's manifest and compares it with a fresh measurement", async (t) => {
  const dist = await stagedCopy(t.testdir());
  const checks = join(dist, 'checks');
  await mkdir(checks);
  const m = JSON.parse(await readFile(join(dist, 'release', MANIFEST), 'utf8'));
  await writeFile(join(checks, 'check-linux-x64.json'), JSON.stringify(m));
  const ok = await runScript('generate-manifest.ts', [
    '--dist',
    dist,
    '--targets',
    LINUX,
    '--fingerprints-from',
    checks,
  ]);
  t.equal(ok.code, 0, ok.stderr);
  m.targets['linux-x64'].fingerprint.digest = 'not-what-this-binary-does';
  await writeFile(join(checks, 'check-linux-x64.json'), JSON.stringify(m));
  const bad = await runScript('generate-manifest.ts', [
    '--dist',
    dist,
    '--targets',
    LINUX,
    '--fingerprints-from',
    checks,
  ]);
  t.equal(bad.code, 1);
  t.match(
    bad.stderr,
    /\[fingerprint\] linux-x64: .*check-linux-x64\.json against a fresh measurement.*not-what-this-binary-does/s,
  );
});

t.test('missing tarballs name stage-packages; a subset gives a subset manifest', async (t) => {
  const dist = await stagedCopy(t.testdir());
  await rm(join(dist, `agoric-xsnap-linux-arm64-${VERSION}.tgz`));
  const r = await runScript('generate-manifest.ts', ['--dist', dist, '--targets', LINUX]);
  t.equal(r.code, 1);
  t.match(r.stderr, /stage-packages\.ts/);
  const one = await runScript('generate-manifest.ts', ['--dist', dist, '--targets', 'linux-x64', '--json']);
  t.equal(one.code, 0, one.stderr);
  t.same(Object.keys(JSON.parse(one.stdout).manifest.targets), ['linux-x64']);
  const v = await runScript('verify-artifacts.ts', [
    '--dist',
    dist,
    '--targets',
    'linux-x64',
    '--skip-install',
    '--skip-fingerprint',
  ]);
  t.equal(v.code, 0, v.stdout + v.stderr);
});
