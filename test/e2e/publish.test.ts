// publish-all against a real Verdaccio (behind the fault proxy, which here only
// watches): the happy path, a run with nothing to do, the dry run, and the
// refusal of a version the registry already holds with other bytes.
import t from 'tap';
import semver from 'semver';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sriSha512 } from '../../scripts/lib/hash.ts';
import { verifyPublished } from '../../scripts/lib/published.ts';
import { getTarget } from '../../scripts/lib/targets.ts';
import { LINUX_TARGETS } from '../helpers/shared-build.ts';
import {
  VERSION,
  PACKAGES,
  startTestRegistry,
  releaseDist,
  seed,
  publishAll,
  publishEnv,
  latestOf,
  packuments,
  publishDirect,
  variantTarball,
} from '../helpers/registry.ts';

const targets = LINUX_TARGETS.map(getTarget);
const leftoverConfigs = (tmp: string) =>
  existsSync(tmp) ? readdirSync(tmp).filter((f) => f.startsWith('xsnap-npm-')) : [];

t.test('happy path: the set published, verified, latest moved last; a second run does nothing', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  await seed(reg, dist);
  t.same(
    await latestOf(reg),
    Object.fromEntries(PACKAGES.map((p) => [p, `${VERSION}-seed`])),
    'seeded: latest is the earlier version',
  );

  const dir = t.testdir({ 'summary.md': '' });
  const tmp = join(dir, 'tmp');
  const summary = join(dir, 'summary.md');
  const env = { ...publishEnv(reg, tmp), GITHUB_STEP_SUMMARY: summary };
  const r = await publishAll(reg, dist, env, ['--json'], { verify: true });
  t.equal(r.code, 0, `publish-all succeeds\n${r.stderr}`);
  const out = JSON.parse(r.stdout);
  t.equal(out.ok, true);
  t.same(
    out.plan.packages.map((p: { action: string }) => p.action),
    ['publish', 'publish'],
    'plan: publish both',
  );
  t.same(
    out.outcomes.map((o: { publish: string; verified: boolean; tag: string }) => [o.publish, o.verified, o.tag]),
    [
      ['published', true, 'moved'],
      ['published', true, 'moved'],
    ],
  );

  // the registry holds exactly our bytes
  const docs = await packuments(reg);
  for (const name of LINUX_TARGETS) {
    const pkg = getTarget(name).packageName;
    const local = readFileSync(join(dist, `agoric-xsnap-${name}-${VERSION}.tgz`));
    const remote = await reg.reader.download(docs[pkg]!.versions[VERSION].dist.tarball);
    t.ok(remote.equals(local), `${pkg}: the registry serves our tarball byte for byte`);
    t.equal(docs[pkg]!.versions[VERSION].dist.integrity, sriSha512(local), `${pkg}: dist.integrity is ours`);
    t.equal(docs[pkg]!['dist-tags'].latest, VERSION, `${pkg}: latest moved to ${VERSION}`);
    t.equal(docs[pkg]!['dist-tags'][`staging-${VERSION}`], undefined, `${pkg}: staging tag removed`);
  }

  // order on the wire: every publish and every read-back before the first tag move
  const seen = reg.proxy.seen;
  const firstTagMove = seen.findIndex((s) => /^PUT \/-\/package\/.*\/dist-tags\/latest$/.test(s));
  const lastPublish = seen.map((s) => /^PUT \/@agoric\/xsnap-[^/]+$/.test(s)).lastIndexOf(true);
  const lastTarballRead = seen.map((s) => /^GET .*\.tgz$/.test(s)).lastIndexOf(true);
  t.ok(
    firstTagMove > lastPublish && firstTagMove > lastTarballRead,
    `latest moved only after all publishes (${lastPublish}) and read-backs (${lastTarballRead}); ` +
      `first move at ${firstTagMove}`,
  );

  const md = readFileSync(summary, 'utf8');
  t.match(md, /\| `@agoric\/xsnap-linux-x64` \| absent \| publish \|/, 'step summary has the table');

  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct, tag: 'latest' });
  t.same(gate.failures, [], 'the agoric-sdk gate passes');
  t.same(
    gate.packages.map((p) => p.status),
    ['ok', 'ok'],
  );

  reg.proxy.setRules([]);
  const again = await publishAll(reg, dist, env);
  t.equal(again.code, 0, 'second run exits 0');
  t.match(again.stdout, /nothing to do/);
  t.same(
    reg.proxy.seen.filter((s) => /^(PUT|DELETE)/.test(s)),
    [],
    'second run wrote nothing',
  );

  for (const run of [r, again]) t.notOk((run.stdout + run.stderr).includes(reg.token), 'the token is never printed');
  t.notOk(readFileSync(summary, 'utf8').includes(reg.token), 'nor written to the step summary');
  t.same(leftoverConfigs(tmp), [], 'temporary npm config removed after success');
});

t.test('dry run: every non-writing check, the plan, no write', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  await seed(reg, dist);
  const tmp = join(t.testdirName, 'tmp');
  const r = await publishAll(reg, dist, publishEnv(reg, tmp), ['--dry-run']);
  t.equal(r.code, 0, `dry run may start the real run\n${r.stderr}`);
  t.match(r.stderr, /npm whoami = xsnap-publisher/, 'token checked');
  for (const p of PACKAGES)
    t.match(r.stderr, new RegExp(`npm publish --dry-run ${p}`), `${p}: npm publish --dry-run ran`);
  t.match(r.stdout, /move "latest" 0\.15\.0-seed -> /);
  t.same(
    reg.proxy.seen.filter((s) => /^(PUT|DELETE)/.test(s)),
    [],
    'nothing written',
  );
  t.same(await latestOf(reg), Object.fromEntries(PACKAGES.map((p) => [p, `${VERSION}-seed`])));
  t.same(leftoverConfigs(tmp), []);

  const noToken = await publishAll(reg, dist, { ...publishEnv(reg, tmp), NPM_TOKEN: '' }, ['--dry-run']);
  t.equal(noToken.code, 0, 'a dry run without a token still checks the rest');
  t.match(noToken.stderr, /token check skipped/);
  const realNoToken = await publishAll(reg, dist, { ...publishEnv(reg, tmp), NPM_TOKEN: '' });
  t.equal(realNoToken.code, 2, 'a real run without a token is a usage error');
  t.match(realNoToken.stderr, /NPM_TOKEN/);
});

t.test('first ever publish: the plan says the registry sets latest itself', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  const r = await publishAll(reg, dist, publishEnv(reg, join(t.testdirName, 'tmp')), ['--dry-run', '--json']);
  t.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout).plan;
  t.same(
    plan.packages.map((p: { remote: string; firstEverPublish: boolean }) => [p.remote, p.firstEverPublish]),
    [
      ['no-package', true],
      ['no-package', true],
    ],
  );
  t.match(plan.notes.join('\n'), /first ever publish.*points `latest` at/);
});

t.test('a different tarball under the same version: refused before any write', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  await seed(reg, dist);
  // someone published other bytes as linux-arm64@VERSION
  await publishDirect(reg, await variantTarball(dist, 'linux-arm64', { extraFile: 'not ours\n' }), 'other');
  const before = await packuments(reg);
  reg.proxy.setRules([]);

  const tmp = join(t.testdirName, 'tmp');
  const r = await publishAll(reg, dist, publishEnv(reg, tmp), ['--json']);
  t.equal(r.code, 1, 'refused: exit 1');
  t.match(r.stderr, /@agoric\/xsnap-linux-arm64.*other bytes|refused: @agoric\/xsnap-linux-arm64/);
  const out = JSON.parse(r.stdout);
  t.equal(out.plan.refused, true);
  t.equal(out.failures[0].check, 'same-version-different-bytes');
  t.same(
    reg.proxy.seen.filter((s) => /^(PUT|DELETE)/.test(s)),
    [],
    'nothing was written (not even linux-x64)',
  );
  t.same(await packuments(reg), before, 'registry unchanged');
  t.same(leftoverConfigs(tmp), [], 'temporary npm config removed after failure');
  t.notOk((r.stdout + r.stderr).includes(reg.token));

  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct });
  t.same(
    gate.packages.map((p) => p.status),
    ['absent', 'different'],
    'the gate refuses too',
  );
});

t.test(
  'latest ahead of X.Y.Z: refused before any write; a backport tag publishes without touching latest',
  async (t) => {
    const reg = await startTestRegistry();
    t.teardown(() => reg.stop());
    const dist = await releaseDist();
    const newer = semver.inc(VERSION, 'minor')!;
    await seed(reg, dist, newer);
    const before = await packuments(reg);
    reg.proxy.setRules([]);
    const env = publishEnv(reg, join(t.testdirName, 'tmp'));

    const r = await publishAll(reg, dist, env);
    t.equal(r.code, 2, 'a usage error');
    t.match(
      r.stderr,
      new RegExp(
        `refusing to move "latest" backwards to ` +
          `${VERSION.replace(/\./g, '\\.')}: .*latest is ${newer.replace(/\./g, '\\.')}`,
      ),
      'names where latest is',
    );
    t.match(r.stderr, /--tag backport-/, 'says what to do');
    t.same(
      reg.proxy.seen.filter((s) => /^(PUT|DELETE)/.test(s)),
      [],
      'nothing was written',
    );
    t.same(await packuments(reg), before, 'registry unchanged');

    const tag = `backport-${semver.major(VERSION)}.${semver.minor(VERSION)}`;
    const b = await publishAll(reg, dist, env, ['--tag', tag]);
    t.equal(b.code, 0, `the backport is published under its own tag\n${b.stderr}`);
    const docs = await packuments(reg);
    for (const p of PACKAGES) {
      t.equal(docs[p]!['dist-tags'].latest, newer, `${p}: latest stays on ${newer}`);
      t.equal(docs[p]!['dist-tags'][tag], VERSION, `${p}: "${tag}" -> ${VERSION}`);
    }
  },
);

t.test('verify-artifacts failing stops the release before any write', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dir = t.testdir();
  const dist = join(dir, 'dist');
  cpSync(await releaseDist(), dist, { recursive: true });
  // the release bundle no longer matches SHA256SUMS: publish-all's own tarball checks pass, verify-artifacts must not
  const sums = join(dist, 'release', 'SHA256SUMS');
  writeFileSync(sums, readFileSync(sums, 'utf8').replace(/^[0-9a-f]{64}(?=  xsnap-worker-binaries)/m, '0'.repeat(64)));
  const r = await publishAll(reg, dist, publishEnv(reg, join(dir, 'tmp')), [], { verify: true });
  t.equal(r.code, 1, 'exit 1');
  t.match(r.stderr, /preflight failed, nothing was written/);
  t.match(r.stderr, /SHA256SUMS|xsnap-worker-binaries/, 'names the file');
  t.same(reg.proxy.seen, [], 'the registry was not even asked');
});

t.test('usage errors', async (t) => {
  const dist = await releaseDist();
  const pub = await publishAllRaw([
    '--registry',
    'https://registry.npmjs.org/',
    '--targets',
    'linux-x64',
    '--dist',
    dist,
    '--dry-run',
  ]);
  t.equal(pub.code, 2, 'a subset on the public registry is refused');
  t.match(pub.stderr, /whole set/);
  const win = await publishAllRaw(['--registry', 'http://127.0.0.1:9/', '--targets', 'win32-x64', '--dry-run']);
  t.equal(win.code, 2);
  t.match(win.stderr, /Windows is not supported/);
  const missing = await publishAllRaw([
    '--registry',
    'http://127.0.0.1:9/',
    '--targets',
    'linux-x64',
    '--dist',
    join(t.testdirName, 'nope'),
    '--dry-run',
  ]);
  t.equal(missing.code, 2, 'no manifest: usage error naming the command to run');
  t.match(missing.stderr, /generate-manifest/);
});

async function publishAllRaw(args: string[]) {
  const { runScript } = await import('../helpers/run.ts');
  return runScript('publish-all.ts', args, { env: { NPM_TOKEN: '' } });
}
