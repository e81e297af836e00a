// publish-all when the registry misbehaves, through the fault proxy in front of
// a real Verdaccio: hard faults (a publish answered 503 every time, the
// connection dropped every time, the process killed between two publishes)
// must leave the release unfinished and invisible (no `latest` moved, the gate
// refuses) and a plain re-run must finish it; transient faults are absorbed.
// Each case gets a fresh registry seeded with an earlier version of each
// package, so that `latest` exists and can be seen not to move.
import t, { type Test } from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { verifyPublished } from '../../scripts/lib/published.ts';
import { getTarget } from '../../scripts/lib/targets.ts';
import { LINUX_TARGETS } from '../helpers/shared-build.ts';
import type { FaultRule } from '../helpers/fault-proxy.ts';
import {
  VERSION,
  PACKAGES,
  startTestRegistry,
  releaseDist,
  seed,
  publishAll,
  publishAllKilledWhen,
  publishEnv,
  latestOf,
  type TestRegistry,
} from '../helpers/registry.ts';
import type { ScriptResult } from '../helpers/run.ts';

const targets = LINUX_TARGETS.map(getTarget);
const X64 = getTarget('linux-x64').packageName;
const ARM64 = getTarget('linux-arm64').packageName;
const SEEDED = Object.fromEntries(PACKAGES.map((p) => [p, `${VERSION}-seed`]));
const RELEASED = Object.fromEntries(PACKAGES.map((p) => [p, VERSION]));
const leftoverConfigs = (tmp: string) =>
  existsSync(tmp) ? readdirSync(tmp).filter((f) => f.startsWith('xsnap-npm-')) : [];

async function seededRegistry(
  t: Test,
): Promise<{ reg: TestRegistry; dist: string; env: NodeJS.ProcessEnv; tmp: string }> {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  await seed(reg, dist);
  const tmp = join(t.testdir(), 'tmp');
  return { reg, dist, env: publishEnv(reg, tmp), tmp };
}

/** A hard fault: non-zero exit naming the package, the gate refuses, no latest moved; then a plain re-run finishes. */
async function unfinishedThenFinished(
  t: Test,
  reg: TestRegistry,
  dist: string,
  env: NodeJS.ProcessEnv,
  r: ScriptResult,
  failed: string,
) {
  t.not(r.code, 0, 'publish-all exits non-zero');
  t.notOk((r.stdout + r.stderr).includes(reg.token), 'the token is never printed');
  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct });
  t.ok(gate.failures.length > 0, 'the agoric-sdk gate refuses');
  t.not(gate.packages.find((p) => p.package === failed)?.status, 'ok', `gate: ${failed} is not there`);
  t.same(await latestOf(reg), SEEDED, 'latest still on the earlier version on every package');

  reg.proxy.setRules([]);
  const again = await publishAll(reg, dist, env);
  t.equal(again.code, 0, `a plain re-run finishes the release\n${again.stderr}`);
  t.same(await latestOf(reg), RELEASED, 'latest now on the new version everywhere');
  const after = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct, tag: 'latest' });
  t.same(after.failures, [], 'the gate passes');
  const third = await publishAll(reg, dist, env);
  t.match(third.stdout, /nothing to do/, 'same end state as a run that never failed');
}

const hardFaults: Array<[string, FaultRule]> = [
  ["one package's publish answered 503 every time", { publishOf: ARM64, action: '503' }],
  ['the connection dropped on every publish of one package', { publishOf: ARM64, action: 'drop' }],
];

for (const [name, rule] of hardFaults) {
  t.test(name, async (t) => {
    const { reg, dist, env, tmp } = await seededRegistry(t);
    reg.proxy.setRules([rule]);
    const r = await publishAll(reg, dist, env, ['--json']);
    t.equal(r.code, 1);
    t.match(
      r.stderr,
      new RegExp(`${ARM64.replace('/', '\\/')}@${VERSION}: publish failed after 3 attempts`),
      'names the package',
    );
    t.equal(reg.proxy.hits[0], 3, 'three attempts, then gave up');
    const out = JSON.parse(r.stdout);
    const byPkg = Object.fromEntries(out.outcomes.map((o: { package: string }) => [o.package, o]));
    t.equal(byPkg[ARM64].publish, 'failed');
    t.equal(byPkg[X64].publish, 'published', 'the other package went up under the staging tag');
    t.equal(byPkg[X64].tag, 'not-moved');
    t.same(leftoverConfigs(tmp), [], 'temporary npm config removed after failure');
    await unfinishedThenFinished(t, reg, dist, env, r, ARM64);
  });
}

t.test('the process killed between two publishes', async (t) => {
  const { reg, dist, env, tmp } = await seededRegistry(t);
  // arm64's publish never gets an answer: the kill comes once x64 is up
  reg.proxy.setRules([{ publishOf: ARM64, action: 'hold' }]);
  const r = await publishAllKilledWhen(reg, dist, env, new RegExp(`published ${X64.replace('/', '\\/')}@`));
  t.ok(r.killed, 'killed after the first publish');
  t.equal(r.code, 137);
  t.match(r.stderr, /published @agoric\/xsnap-linux-x64@/);
  // SIGKILL cannot be caught: the 0600 config in the private TMPDIR is the one thing left...
  t.ok(leftoverConfigs(tmp).length <= 1);
  await unfinishedThenFinished(t, reg, dist, env, { ...r, code: r.code }, ARM64);
  // ...until the next run, which removes configs whose process is gone
  t.same(leftoverConfigs(tmp), [], "the killed run's npm config was swept by the re-run");
});

t.test('a single transient 503 is retried and the release finishes', async (t) => {
  const { reg, dist, env } = await seededRegistry(t);
  reg.proxy.setRules([{ publishOf: ARM64, action: '503', times: 1 }]);
  const r = await publishAll(reg, dist, env, ['--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /@agoric\/xsnap-linux-arm64: publish attempt 1\/3 failed/);
  t.equal(reg.proxy.hits[0], 1);
  const arm = JSON.parse(r.stdout).outcomes.find((o: { package: string }) => o.package === ARM64);
  t.equal(arm.attempts, 2);
  t.same(await latestOf(reg), RELEASED);
});

t.test('a publish that landed although its answer was lost counts as published', async (t) => {
  const { reg, dist, env } = await seededRegistry(t);
  reg.proxy.setRules([{ publishOf: ARM64, action: 'drop-after-forward', times: 1 }]);
  const r = await publishAll(reg, dist, env, ['--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /npm reported an error, but the registry holds our bytes/);
  t.equal(reg.proxy.hits[0], 1, 'not published twice');
  t.same(await latestOf(reg), RELEASED);
  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct, tag: 'latest' });
  t.same(gate.failures, []);
});

t.test("a lost answer plus read-after-write lag: the retry's conflict means it landed", async (t) => {
  const { reg, dist, env } = await seededRegistry(t);
  // The first publish reaches the registry but its answer is lost, and the next
  // five reads of the package still show it without the new version (our check
  // after each failed attempt, and npm 11's own read before each publish). The
  // retry's PUT reaches Verdaccio, which answers its real conflict (409). Were
  // that conflict not taken as "it landed", every check after each of the three
  // attempts would be stale and the package would end up "failed" although it
  // is on the registry; taken as landed, the read-back waits out the lag.
  reg.proxy.setRules([{ publishOf: ARM64, action: 'drop-after-forward', times: 1, lagReads: 5 }]);
  env.XSNAP_READBACK_ATTEMPTS = '8';
  const r = await publishAll(reg, dist, env, ['--json']);
  t.equal(r.code, 0, `publish-all succeeds\n${r.stderr}`);
  t.equal(reg.proxy.hits[0], 1, 'the first publish was the one that landed');
  t.equal(reg.proxy.seen.filter((s) => s === `PUT /${ARM64}`).length, 2, 'one retry, answered by the registry itself');
  t.match(
    r.stderr,
    new RegExp(`${ARM64.replace('/', '\\/')}@${VERSION}: the registry says this version is already there`),
    'the conflict is named',
  );
  t.match(r.stderr, /not readable yet \(absent\)/, 'the read-back waited out the lag');
  const arm = JSON.parse(r.stdout).outcomes.find((o: { package: string }) => o.package === ARM64);
  t.same(
    [arm.publish, arm.attempts, arm.verified, arm.tag],
    ['published', 2, true, 'moved'],
    'not marked failed: published, verified, tagged',
  );
  t.same(await latestOf(reg), RELEASED);
  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct, tag: 'latest' });
  t.same(gate.failures, [], 'the gate passes');
});
