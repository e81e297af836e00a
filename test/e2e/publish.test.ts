// publish-all stage against a real Verdaccio 9 (behind the fault proxy, which
// here only watches): the dry run, and what is refused before anything is
// written: a version the registry already holds with other bytes, a `latest`
// that would move backwards, a failing verify-artifacts, usage errors. The
// stage-approve-gate path itself is in publish-staged.test.ts.
import t from 'tap';
import semver from 'semver';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyPublished } from '../../scripts/lib/verify/published.ts';
import { getTarget } from '../../scripts/lib/core/targets.ts';
import { LINUX_TARGETS } from '../helpers/shared-build.ts';
import {
  VERSION,
  PACKAGES,
  startTestRegistry,
  releaseDist,
  seed,
  stageAll,
  approveAll,
  publishEnv,
  ciStageEnv,
  latestOf,
  packuments,
  publishDirect,
  variantTarball,
  type TestRegistry,
} from '../helpers/registry.ts';
import { runScript } from '../helpers/run.ts';

const targets = LINUX_TARGETS.map(getTarget);
const leftoverConfigs = (tmp: string) =>
  existsSync(tmp) ? readdirSync(tmp).filter((f) => f.startsWith('xsnap-npm-')) : [];
const writes = (reg: TestRegistry) => reg.proxy.seen.filter((s) => /^(PUT|POST|DELETE)/.test(s));

t.test('dry run: every non-writing check, the plan, no write', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  await seed(reg, dist);
  reg.proxy.setRules([]);
  const tmp = join(t.testdirName, 'tmp');
  const r = await stageAll(reg, dist, publishEnv(reg, tmp), ['--dry-run']);
  t.equal(r.code, 0, `dry run may start the real run\n${r.stderr}`);
  t.match(r.stderr, /npm whoami = xsnap-publisher/, 'token checked');
  for (const p of PACKAGES)
    t.match(r.stderr, new RegExp(`npm stage publish --dry-run ${p}`), `${p}: npm stage publish --dry-run ran`);
  t.match(r.stdout, /stage .* under "latest" \(invisible until a maintainer approves it\)/);
  t.same(writes(reg), [], 'nothing written');
  t.same(await latestOf(reg), Object.fromEntries(PACKAGES.map((p) => [p, `${VERSION}-seed`])));
  t.same(leftoverConfigs(tmp), []);
  t.notOk(existsSync(join(dist, 'release', `staged-${VERSION}.json`)), 'and nothing recorded');

  const noToken = await stageAll(reg, dist, { ...publishEnv(reg, tmp), NPM_TOKEN: '' }, ['--dry-run']);
  t.equal(noToken.code, 0, 'a dry run without a token still checks the rest');
  t.match(noToken.stderr, /token check skipped/);
  const realNoToken = await stageAll(reg, dist, { ...publishEnv(reg, tmp), NPM_TOKEN: '' });
  t.equal(realNoToken.code, 2, 'a real run without a token (and no trusted publishing) is a usage error');
  t.match(realNoToken.stderr, /NPM_TOKEN/);
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
  const r = await stageAll(reg, dist, ciStageEnv(reg, tmp), ['--json']);
  t.equal(r.code, 1, 'refused: exit 1');
  t.match(r.stderr, /@agoric\/xsnap-linux-arm64@.*/);
  const out = JSON.parse(r.stdout);
  t.same(
    out.plan.packages.map((p: { action: string }) => p.action),
    ['stage', 'refuse'],
  );
  t.match(out.failures[0].hint, /a version can never be republished; release a new version/);
  t.equal(out.ok, false);
  t.same(writes(reg), [], 'nothing was written (not even linux-x64 staged)');
  t.same(await packuments(reg), before, 'registry unchanged');
  t.same(leftoverConfigs(tmp), [], 'temporary npm config removed after failure');

  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct });
  t.same(
    gate.packages.map((p) => p.status),
    ['absent', 'different'],
    'the gate refuses too',
  );
});

t.test(
  'latest ahead of X.Y.Z: refused before any write; a backport tag is staged and approved without touching latest',
  async (t) => {
    const reg = await startTestRegistry();
    t.teardown(() => reg.stop());
    const dist = await releaseDist();
    const newer = semver.inc(VERSION, 'minor')!;
    await seed(reg, dist, newer);
    const before = await packuments(reg);
    reg.proxy.setRules([]);
    const tmp = join(t.testdirName, 'tmp');

    const r = await stageAll(reg, dist, ciStageEnv(reg, tmp));
    t.equal(r.code, 2, 'a usage error');
    t.match(
      r.stderr,
      new RegExp(
        `refusing to move "latest" backwards to ${VERSION.replace(/\./g, '\\.')}: .*latest is ${newer.replace(/\./g, '\\.')}`,
      ),
      'names where latest is',
    );
    t.match(r.stderr, /--tag backport-/, 'says what to do');
    t.same(writes(reg), [], 'nothing was written');
    t.same(await packuments(reg), before, 'registry unchanged');

    const tag = `backport-${semver.major(VERSION)}.${semver.minor(VERSION)}`;
    const b = await stageAll(reg, dist, ciStageEnv(reg, tmp), ['--tag', tag]);
    t.equal(b.code, 0, `the backport is staged under its own tag\n${b.stderr}`);
    const a = await approveAll(reg, dist, publishEnv(reg, tmp));
    t.equal(a.code, 0, `and approved\n${a.stderr}`);
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
  await releaseDist(dist);
  // the release bundle no longer matches SHA256SUMS: publish-all's own tarball checks pass, verify-artifacts must not
  const sums = join(dist, 'release', 'SHA256SUMS');
  writeFileSync(sums, readFileSync(sums, 'utf8').replace(/^[0-9a-f]{64}(?=  xsnap-worker-binaries)/m, '0'.repeat(64)));
  reg.proxy.setRules([]);
  const r = await stageAll(reg, dist, ciStageEnv(reg, join(dir, 'tmp')), [], { verify: true });
  t.equal(r.code, 1, 'exit 1');
  t.match(r.stderr, /preflight failed, nothing was written/);
  t.match(r.stderr, /SHA256SUMS|xsnap-worker-binaries/, 'names the file');
  t.same(reg.proxy.seen, [], 'the registry was not even asked');
});

t.test('usage errors: subcommands, retired flags, the set, the manifest', async (t) => {
  const dist = await releaseDist();
  const run = (args: string[]) => runScript('publish-all.ts', args, { env: { NPM_TOKEN: '' } });
  const pub = await run([
    'stage',
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
  const win = await run(['stage', '--registry', 'http://127.0.0.1:9/', '--targets', 'win32-x64', '--dry-run']);
  t.equal(win.code, 2);
  t.match(win.stderr, /Windows is not supported/);
  const missing = await run([
    'stage',
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

  // one path, said as subcommands: each mistake is a usage error that says what to type
  const cases: Array<[string[], RegExp]> = [
    [[], /say what to do: publish-all\.ts stage, approve, reject <stage-id>, stop-registry/],
    [['publish'], /unknown command "publish": one of stage, approve/],
    [['reject'], /reject needs its <stage-id>/],
    [['stage', 'extra'], /unknown argument extra/],
    [['approve', '--dry-run'], /--dry-run does not go with approve \(it goes with stage\)/],
    [['stage', '--otp', '123456'], /--otp does not go with stage \(it goes with approve, reject\)/],
    [['stop-registry', '--registry', 'local'], /--registry does not go with stop-registry/],
    [['--via', 'direct'], /--via is gone: staged publishing is the only path \(publish-all\.ts stage\)/],
    [['--via', 'stage', '--dry-run'], /--via is gone/],
    [['--approve', '--otp', '1'], /--approve is gone: use publish-all\.ts approve/],
    [['--reject', 'x'], /--reject is gone: use publish-all\.ts reject <stage-id>/],
    [['--stop-registry'], /--stop-registry is gone: use publish-all\.ts stop-registry/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    t.equal(r.code, 2, `publish-all ${args.join(' ')}: exit 2`);
    t.match(r.stderr, message);
  }
  const help = await run(['--help']);
  t.equal(help.code, 0, '--help needs no subcommand');
  t.match(help.stdout, /Commands:\n {2}stage .*\n {2}approve .*\n {2}reject <stage-id> .*\n {2}stop-registry/);
});
