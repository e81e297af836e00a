// publish-all stage / approve / reject against a real Verdaccio 9
// with npm's staged publishing (flags.stage) and npm's rules in front of it
// (registry-rules.mjs), on the pinned Node 24, behind the fault proxy. The
// stage step runs as CI does (trusted publishing: no token, only the OIDC
// variables), the approval as a maintainer (their token and a one-time code):
// the happy path, then the faults and races of issues 9 and 17.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, linkSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { verifyPublished } from '../../scripts/lib/verify/published.ts';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import { getTarget } from '../../scripts/lib/core/targets.ts';
import { LINUX_TARGETS } from '../helpers/shared-build.ts';
import {
  VERSION,
  PACKAGES,
  startTestRegistry,
  releaseDist,
  seed,
  stageAll,
  rejectStage,
  publishEnv,
  latestOf,
  packuments,
  publishDirect,
  variantTarball,
  stageDirect,
  approveAll,
  ciStageEnv,
  type TestRegistry,
} from '../helpers/registry.ts';

const targets = LINUX_TARGETS.map(getTarget);
const X64 = getTarget('linux-x64').packageName;
const ARM64 = getTarget('linux-arm64').packageName;
// tests that watch latest seed an earlier version first; the others skip it (time)
const SEEDED = Object.fromEntries(PACKAGES.map((p) => [p, `${VERSION}-seed`]));
const RELEASED = Object.fromEntries(PACKAGES.map((p) => [p, VERSION]));
const writes = (reg: TestRegistry) => reg.proxy.seen.filter((s) => /^(PUT|POST|DELETE)/.test(s));
const visible = async (reg: TestRegistry) =>
  Object.fromEntries(Object.entries(await packuments(reg)).map(([k, v]) => [k, Boolean(v?.versions[VERSION])]));

const stageIdOf = (dist: string, pkg: string): string =>
  JSON.parse(readFileSync(join(dist, 'release', `staged-${VERSION}.json`), 'utf8')).packages.find(
    (p: { package: string }) => p.package === pkg,
  ).stageId;

async function staged(t: Test, opts: { seed?: boolean; securityKey?: boolean } = {}) {
  const reg = await startTestRegistry({ securityKey: opts.securityKey });
  t.teardown(() => reg.stop());
  const dir = t.testdir();
  const dist = join(dir, 'dist');
  await releaseDist(dist);
  if (opts.seed !== false) await seed(reg, dist);
  // the maintainer's environment (their token), and CI's (no token: trusted publishing)
  const env = publishEnv(reg, join(dir, 'tmp'));
  const ci = ciStageEnv(reg, join(dir, 'tmp'));
  return {
    reg,
    dist,
    env,
    ci,
    stage: (extra: string[] = [], e = ci) => stageAll(reg, dist, e, extra),
  };
}

t.test('stage as CI, approve as a maintainer with a one-time code, gate: nothing visible before', async (t) => {
  const { reg, dist, env, ci, stage } = await staged(t);
  const summaryFile = join(t.testdirName, 'summary.md');
  writeFileSync(summaryFile, '');
  const r = await stage(['--json'], { ...ci, GITHUB_STEP_SUMMARY: summaryFile });
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.same(
    out.staged.map((l: { package: string; status: string }) => [l.package, l.status]),
    PACKAGES.map((p) => [p, 'staged']),
    'one line per package',
  );
  for (const l of out.staged)
    t.match(l.stageId, /^[0-9a-f-]{36}$/, `${l.package}: its stage id, read from npm's output`);
  t.match(out.approve, /publish-all\.ts approve --registry .* --otp <code>/, 'the command that approves the set');
  const record = JSON.parse(readFileSync(join(dist, 'release', `staged-${VERSION}.json`), 'utf8'));
  t.same(record.packages, out.staged, `the same written to dist/release/staged-${VERSION}.json`);
  t.match(
    readFileSync(summaryFile, 'utf8'),
    /waiting for approval[\s\S]*publish-all\.ts approve/,
    'the step summary says what to approve and how',
  );
  // what CI's identity sent: the OIDC exchange and one stage publish per package, nothing else
  // (the fault proxy sees paths decoded; packument reads are anonymous, npm's and ours)
  const ciRequests = reg.proxy.seen.filter((x) => !/^GET \/@agoric\/xsnap-[^/]+$/.test(x));
  t.same(
    ciRequests.filter((x) => !/^POST \/-\/npm\/v1\/oidc\/token\/exchange\//.test(x)).sort(),
    PACKAGES.map((p) => `POST /-/stage/package/${p}`).sort(),
    'the stage step calls npm stage publish and nothing else: no stage list, download, approve or tag move',
  );
  t.same(
    await visible(reg),
    Object.fromEntries(PACKAGES.map((p) => [p, false])),
    'staged: absent from every packument',
  );
  t.same(await latestOf(reg), SEEDED, 'latest untouched');

  // a re-run cannot list what it staged: it stages again, and this registry answers "already staged"
  const again = await stage(['--json']);
  t.equal(again.code, 0, again.stderr);
  t.same(
    JSON.parse(again.stdout).staged.map((l: { status: string; stageId: string | null }) => [l.status, l.stageId]),
    PACKAGES.map(() => ['staged-before', null]),
    'a re-run: staged before, the approval lists it',
  );
  t.match(again.stderr, /already staged \(an earlier run\); the approval lists and checks it/);

  const noCode = await approveAll(reg, dist, env, ['--json'], { otp: false });
  t.equal(noCode.code, 1, 'without a one-time code: exit 1');
  t.match(noCode.stderr, /approved nothing: approving needs a one-time code/);
  t.match(noCode.stderr, /--otp <code>/, 'says how to pass one');
  t.match(noCode.stderr, /npm stage approve [0-9a-f-]{36} --registry/, 'and the by-hand path of a security key');
  t.same(
    reg.proxy.seen.filter((x) => /approve$/.test(x)),
    [],
    'no approval was sent',
  );
  t.same(await visible(reg), Object.fromEntries(PACKAGES.map((p) => [p, false])), 'still nothing visible');

  const a = await approveAll(reg, dist, env, ['--json']);
  t.equal(a.code, 0, a.stderr);
  const approved = JSON.parse(a.stdout);
  t.same(
    approved.outcomes.map((o: { result: string }) => o.result),
    ['approved', 'approved'],
  );
  t.ok(approved.windowMs >= 0, `visibility window reported: ${approved.windowMs} ms`);
  t.same(await latestOf(reg), RELEASED, 'the tag given at stage time applied on approval');
  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct, tag: 'latest' });
  t.same(gate.failures, [], 'the agoric-sdk gate passes');
  const docs = await packuments(reg);
  for (const name of LINUX_TARGETS) {
    const local = readFileSync(join(dist, `agoric-xsnap-${name}-${VERSION}.tgz`));
    const pkg = getTarget(name).packageName;
    t.ok(
      (await reg.reader.download(docs[pkg]!.versions[VERSION].dist.tarball)).equals(local),
      `${pkg}: our exact bytes`,
    );
  }
  const twice = await approveAll(reg, dist, env, ['--json']);
  t.equal(twice.code, 0, 'approving again: nothing to approve, the gate passes');
  t.same(
    JSON.parse(twice.stdout).outcomes.map((o: { result: string }) => o.result),
    ['already-published', 'already-published'],
  );
  const stageAfter = await stage();
  t.match(stageAfter.stdout, /nothing to do/);
  for (const run of [r, again, noCode, a, twice])
    t.notOk((run.stdout + run.stderr).includes(reg.token), 'the token is never printed');
});

t.test("npm's rules: the CI identity may only stage; without credentials no stage is readable", async (t) => {
  const { reg, dist, ci, stage } = await staged(t);
  t.equal((await stage()).code, 0);
  const id = stageIdOf(dist, X64);
  const { NpmClient } = await import('../../scripts/lib/core/npm-client.ts');
  const client = new NpmClient({ registry: reg.url });
  t.teardown(() => client.dispose());
  // each command as the stage step would run it: no token, the OIDC variables in its environment
  for (const args of [
    ['stage', 'list', X64, '--json'],
    ['stage', 'view', id],
    ['stage', 'download', id],
    ['stage', 'approve', id],
    ['stage', 'reject', id],
    ['dist-tag', 'add', `${X64}@${VERSION}-seed`, 'next'],
    ['deprecate', `${X64}@${VERSION}-seed`, 'no'],
    ['whoami'],
  ]) {
    const r = await client.npm(args, `npm ${args[0]}`, { extraEnv: ci });
    t.not(r.code, 0, `npm ${args.join(' ')}: refused under trusted publishing`);
    t.match(r.stderr, /E401|401|ENEEDAUTH|not logged in|requires you to be logged in/i, `npm ${args[0]}: 401`);
  }
  // the token npm's exchange mints may stage-publish its own package and nothing else
  const idToken = await (
    await fetch(new URL('-/xsnap/oidc/id-token?audience=npm:127.0.0.1', reg.direct), {
      headers: { authorization: `Bearer ${ci.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
    })
  ).json();
  const minted = await (
    await fetch(new URL(`-/npm/v1/oidc/token/exchange/package/${X64.replace('/', '%2f')}`, reg.direct), {
      method: 'POST',
      headers: { authorization: `Bearer ${(idToken as { value: string }).value}` },
    })
  ).json();
  const as = (path: string, method = 'GET') =>
    fetch(new URL(path, reg.direct), {
      method,
      headers: { authorization: `Bearer ${(minted as { token: string }).token}` },
    }).then((r) => r.status);
  t.equal(await as(`-/stage?page=0&perPage=100&package=${encodeURIComponent(X64)}`), 401, 'stage list: 401');
  t.equal(await as(`-/stage/${id}/tarball`), 401, 'stage download: 401');
  t.equal(await as(`-/stage/${id}/approve`, 'POST'), 401, 'approve: 401');
  t.equal(await as(`-/package/${X64.replace('/', '%2f')}/dist-tags/latest`, 'PUT'), 401, 'tag move: 401');
  t.equal(await as(`-/stage/package/${ARM64.replace('/', '%2f')}`, 'POST'), 401, 'another package: 401');
  t.equal((await fetch(new URL(`-/stage/${id}`, reg.direct))).status, 401, 'anonymous stage view: 401');
  t.same(await visible(reg), { [X64]: false, [ARM64]: false }, 'nothing was approved by any of it');
});

t.test('an account with only a security key: EOTP with an authUrl, and the manual path', async (t) => {
  const { reg, dist, env, stage } = await staged(t, { seed: false, securityKey: true });
  t.equal((await stage()).code, 0);
  const a = await approveAll(reg, dist, env, ['--otp', '123456'], { otp: false });
  t.equal(a.code, 1);
  t.match(a.stderr, /approved nothing/);
  t.match(a.stderr, /asks for a security key, not a code: open http:\/\/\S+\/-\/xsnap\/webauth\/[0-9a-f]+/);
  t.match(a.stderr, new RegExp(`npm stage approve ${stageIdOf(dist, X64)} --registry`), 'the command per stage');
  t.same(await visible(reg), { [X64]: false, [ARM64]: false });
});

t.test('killed between approvals: a re-run approves the rest', async (t) => {
  const { reg, dist, env, stage } = await staged(t, { seed: false });
  t.equal((await stage()).code, 0);
  const armId = stageIdOf(dist, ARM64);
  // the arm64 approval never gets an answer; the process is killed once x64 is
  // approved and that approval is held. (Killed on x64's line alone, the arm64
  // `npm stage approve` it left behind could reach the proxy after the re-run's
  // own approval, which the hold would then swallow: npm's 5-minute timeout.)
  let armHeld = () => {};
  const held = new Promise<void>((r) => (armHeld = r));
  reg.proxy.onceOn('POST', new RegExp(`^/-/stage/${armId}/approve$`), () => {
    armHeld();
    return new Promise<void>(() => {});
  });
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(REPO_ROOT, 'scripts', 'publish-all.ts'),
      'approve',
      '--otp',
      reg.rules.otp(),
      '--registry',
      reg.url,
      '--targets',
      LINUX_TARGETS.join(','),
      '--dist',
      dist,
    ],
    { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  let x64Approved = () => {};
  const approved = new Promise<void>((r) => (x64Approved = r));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (new RegExp(`approved ${X64.replace('/', '\\/')}`).test(stderr)) x64Approved();
  });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let killing = false;
  const ended = closed.then(() => {
    if (!killing) throw new Error(`publish-all approve ended before it was killed:\n${stderr}`);
  });
  await Promise.race([Promise.all([held, approved]), ended]);
  killing = true;
  child.kill('SIGKILL');
  await closed;
  t.same(await visible(reg), { [X64]: true, [ARM64]: false }, 'killed halfway: x64 approved, arm64 still staged');
  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct });
  t.ok(gate.failures.length > 0, 'the gate refuses the half-approved set');
  const again = await approveAll(reg, dist, env, ['--json']);
  t.equal(again.code, 0, `the re-run approves the rest\n${again.stderr}`);
  t.same(
    JSON.parse(again.stdout).outcomes.map((o: { package: string; result: string }) => [o.package, o.result]),
    [
      [X64, 'already-published'],
      [ARM64, 'approved'],
    ],
  );
  t.same(await latestOf(reg), RELEASED);
});

t.test('a staged tarball replaced by other bytes after staging: nothing is approved', async (t) => {
  const { reg, dist, env, stage } = await staged(t, { seed: false });
  t.equal((await stage()).code, 0);
  const stageDir = join(reg.dir, 'storage', '.stage');
  const armId = stageIdOf(dist, ARM64);
  const file = readdirSync(join(stageDir, armId)).find((f) => f.endsWith('.tgz'))!;
  cpSync(
    await variantTarball(dist, 'linux-arm64', { extraFile: 'replaced in the registry\n' }),
    join(stageDir, armId, file),
  );
  const a = await approveAll(reg, dist, env);
  t.equal(a.code, 1);
  t.match(a.stderr, /approved nothing/);
  t.match(
    a.stderr,
    new RegExp(`\\[tarball-bytes\\] ${ARM64.replace('/', '\\/')}@${VERSION.replace(/\./g, '\\.')} staged as ${armId}`),
    'names the package and the stage',
  );
  t.same(await visible(reg), { [X64]: false, [ARM64]: false }, 'not even the good package was approved');
  t.same(
    reg.proxy.seen.filter((s) => /approve$/.test(s)),
    [],
    'no approval was sent',
  );
});

t.test('a version staged by someone else: the approval refuses it and says how to reject it', async (t) => {
  const { reg, dist, env, stage } = await staged(t, { seed: false });
  const theirs = await stageDirect(reg, await variantTarball(dist, 'linux-arm64', { extraFile: 'someone else\n' }));
  reg.proxy.setRules([]);
  // the stage step cannot see it (no stage list under trusted publishing): it stages, and this
  // registry answers "already staged" for arm64
  const r = await stage(['--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(
    JSON.parse(r.stdout).staged.map((l: { package: string; status: string }) => [l.package, l.status]),
    [
      [X64, 'staged'],
      [ARM64, 'staged-before'],
    ],
  );
  const a = await approveAll(reg, dist, env);
  t.equal(a.code, 1, 'the approval refuses the set');
  t.match(a.stderr, /approved nothing/);
  t.match(a.stderr, new RegExp(`\\[tarball-bytes\\] ${ARM64.replace('/', '\\/')}@.* staged as ${theirs}`));
  t.match(a.stderr, new RegExp(`publish-all\\.ts reject ${theirs}`), 'says how to reject it');
  t.same(await visible(reg), { [X64]: false, [ARM64]: false }, 'not even linux-x64 was approved');

  const noCode = await rejectStage(reg, theirs, env);
  t.equal(noCode.code, 1, 'rejecting is a write: without a one-time code it is refused');
  t.match(noCode.stderr, /one-time password/);
  const rej = await rejectStage(reg, theirs, env, reg.rules.otp());
  t.equal(rej.code, 0, rej.stderr);
  t.equal((await stage()).code, 0, 'staged once the other stage is gone');
  t.equal((await approveAll(reg, dist, env)).code, 0);
  t.same(await latestOf(reg), RELEASED);
});

t.test('two approvals racing: the set is approved once, both runs end with the gate passing', async (t) => {
  const { reg, dist, env, stage } = await staged(t, { seed: false });
  t.equal((await stage()).code, 0);
  const packageList = join(reg.dir, 'storage', '.verdaccio-db.json');
  // a second name keeps the list's inode taken, so a new file cannot reuse its number
  linkSync(packageList, `${packageList}.before`);
  const listBefore = statSync(packageList).ino;
  const [a, b] = await Promise.all([approveAll(reg, dist, env, ['--json']), approveAll(reg, dist, env, ['--json'])]);
  t.equal(a.code, 0, a.stderr);
  t.equal(b.code, 0, b.stderr);
  const results = [a, b].flatMap((x) =>
    JSON.parse(x.stdout).outcomes.map((o: { package: string; result: string }) => o.result),
  );
  t.ok(
    results.every((x) => ['approved', 'approved-elsewhere', 'already-published'].includes(x)),
    `outcomes: ${results.join(', ')}`,
  );
  t.same(await latestOf(reg), RELEASED);
  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct, tag: 'latest' });
  t.same(gate.failures, []);
  // four approvals in flight together: Verdaccio's package list was replaced whole
  // (verdaccio-workarounds.mjs; rewritten in place, its inode would stay) and names both
  t.not(statSync(packageList).ino, listBefore, 'the package list was written to a new file and renamed into place');
  t.same(JSON.parse(readFileSync(packageList, 'utf8')).list.sort(), [...PACKAGES].sort(), 'it names both packages');
});

t.test(
  'an approval refused as already present while the winning approval is still landing: read back until it lands',
  async (t) => {
    const { reg, dist, env, stage } = await staged(t, { seed: false });
    t.equal((await stage()).code, 0);
    const x64Id = stageIdOf(dist, X64);
    const packument = new RegExp(`^/${X64.replace('/', '\\/')}$`);
    // our x64 approval gets Verdaccio's conflict, as when another approval has
    // stored the tarball but not yet the version; the first read after it still
    // shows the version absent, and the other approval lands right after that read
    reg.proxy.onceOn('POST', new RegExp(`^/-/stage/${x64Id}/approve$`), () => {
      reg.proxy.onceOn('GET', packument, async () => {
        const before = await fetch(new URL(X64.replace('/', '%2f'), reg.direct), {
          headers: { accept: 'application/json' },
        });
        const body = await before.text();
        const other = await fetch(new URL(`-/stage/${x64Id}/approve`, reg.direct), {
          method: 'POST',
          headers: { authorization: `Bearer ${reg.token}`, 'npm-otp': reg.rules.otp() },
        });
        t.equal(other.status, 201, 'the other approval lands');
        return { status: before.status, body };
      });
      return { status: 409, body: JSON.stringify({ error: 'this package is already present' }) };
    });
    const a = await approveAll(reg, dist, env, ['--json']);
    t.equal(a.code, 0, a.stderr);
    t.match(
      a.stderr,
      /approval refused as already present, not readable yet; reading again/,
      'read again after the conflict',
    );
    t.same(
      JSON.parse(a.stdout).outcomes.map((o: { package: string; result: string }) => [o.package, o.result]),
      [
        [X64, 'approved-elsewhere'],
        [ARM64, 'approved'],
      ],
    );
    t.same(await latestOf(reg), RELEASED);
  },
);

t.test(
  'a newer version released while one is staged: latest does not move backwards, nothing is approved',
  async (t) => {
    const { reg, dist, env, stage } = await staged(t);
    t.equal((await stage()).code, 0);
    const newer = semver.inc(VERSION, 'minor')!;
    for (const target of LINUX_TARGETS)
      await publishDirect(reg, await variantTarball(dist, target, { version: newer }));
    const a = await approveAll(reg, dist, env);
    t.equal(a.code, 1);
    t.match(a.stderr, new RegExp(`refusing to move "latest" backwards to ${VERSION.replace(/\./g, '\\.')}`));
    t.match(a.stderr, /approved nothing/);
    t.same(await latestOf(reg), Object.fromEntries(PACKAGES.map((p) => [p, newer])), `latest stays on ${newer}`);
    t.same(await visible(reg), { [X64]: false, [ARM64]: false }, `${VERSION} stays invisible`);
  },
);

t.test(
  'first publish on a registry without the packages: a dry run plans staging, with a note, and writes nothing',
  async (t) => {
    const { reg, dist, stage } = await staged(t, { seed: false });
    const r = await stage(['--dry-run']);
    t.equal(r.code, 0, r.stderr);
    t.match(
      r.stderr,
      /never published on this registry; on the public registry they would need the one-time bootstrap/,
    );
    t.match(r.stderr, /npm stage publish --dry-run @agoric\/xsnap-linux-x64/);
    t.same(writes(reg), [], 'a dry run writes nothing');
    t.notOk(existsSync(join(dist, 'release', `staged-${VERSION}.json`)), 'and records nothing');
  },
);

t.test(
  'a .registry whose user this registry will not log in (kept from the Verdaccio 6 of earlier releases): it starts with a working publisher',
  async (t) => {
    const { startLocalRegistry } = await import('../../scripts/lib/publish/local-registry.ts');
    const { rmSync } = await import('node:fs');
    const dir = join(t.testdir(), 'registry');
    const first = await startLocalRegistry({ dir });
    await first.stop();
    // as an earlier release:local left it: a user whose stored password no longer logs it in, no kept token
    writeFileSync(join(dir, 'password'), 'f'.repeat(48));
    rmSync(join(dir, 'token'), { force: true });
    const again = await startLocalRegistry({ dir });
    t.teardown(() => again.stop());
    t.not(again.user, first.user, 'a user of its own, under a new name');
    const who = await fetch(new URL('-/whoami', again.url), {
      headers: { authorization: `Bearer ${again.token}` },
    });
    t.equal(who.status, 200, 'its token works');
    t.match(((await who.json()) as { username: string }).username, /^xsnap-publisher-[0-9a-f]{8}$/);
  },
);
