// publish-all stage when the registry misbehaves, through the fault proxy in
// front of a real Verdaccio 9: hard faults (a stage publish answered 503 every
// time, the connection dropped every time, the process killed between two stage
// publishes, a stage that landed although its answer was lost) must leave the
// release unfinished and invisible (nothing installable, no `latest` moved, the
// gate refuses) and a plain re-run, then the approval, must finish it. Each
// case gets a fresh registry seeded with an earlier version of each package, so
// that `latest` exists and can be seen not to move.
import t, { type Test } from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { verifyPublished } from '../../scripts/lib/verify/published.ts';
import { getTarget } from '../../scripts/lib/core/targets.ts';
import { LINUX_TARGETS } from '../helpers/shared-build.ts';
import type { FaultRule } from '../helpers/fault-proxy.ts';
import {
  VERSION,
  PACKAGES,
  startTestRegistry,
  releaseDist,
  seed,
  stageAll,
  stageAllKilledWhen,
  approveAll,
  publishEnv,
  ciStageEnv,
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

async function seededRegistry(t: Test) {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  await seed(reg, dist);
  const tmp = join(t.testdir(), 'tmp');
  // CI stages (trusted publishing); a maintainer approves
  return { reg, dist, ci: ciStageEnv(reg, tmp), maintainer: publishEnv(reg, tmp), tmp };
}

/** A hard fault: nothing installable, the gate refuses, latest unmoved; a plain re-run and the approval finish. */
async function unfinishedThenFinished(
  t: Test,
  reg: TestRegistry,
  dist: string,
  env: { ci: NodeJS.ProcessEnv; maintainer: NodeJS.ProcessEnv },
  r: ScriptResult,
  failed: string,
) {
  t.not(r.code, 0, 'publish-all stage exits non-zero');
  t.notOk((r.stdout + r.stderr).includes(reg.token), 'the token is never printed');
  const gate = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct });
  t.ok(gate.failures.length > 0, 'the agoric-sdk gate refuses');
  t.not(gate.packages.find((p) => p.package === failed)?.status, 'ok', `gate: ${failed} is not there`);
  t.same(await latestOf(reg), SEEDED, 'latest still on the earlier version on every package');

  reg.proxy.setRules([]);
  const again = await stageAll(reg, dist, env.ci, ['--json']);
  t.equal(again.code, 0, `a plain re-run stages the rest\n${again.stderr}`);
  const a = await approveAll(reg, dist, env.maintainer);
  t.equal(a.code, 0, `and the approval releases the set\n${a.stderr}`);
  t.same(await latestOf(reg), RELEASED, 'latest now on the new version everywhere');
  const after = await verifyPublished({ dist, version: VERSION, targets, registry: reg.direct, tag: 'latest' });
  t.same(after.failures, [], 'the gate passes');
  const third = await stageAll(reg, dist, env.ci);
  t.match(third.stdout, /nothing to do/, 'same end state as a run that never failed');
  return JSON.parse(again.stdout);
}

const hardFaults: Array<[string, FaultRule]> = [
  ["one package's stage publish answered 503 every time", { publishOf: ARM64, action: '503' }],
  ['the connection dropped on every stage publish of one package', { publishOf: ARM64, action: 'drop' }],
];

for (const [name, rule] of hardFaults) {
  t.test(name, async (t) => {
    const { reg, dist, ci, maintainer, tmp } = await seededRegistry(t);
    reg.proxy.setRules([rule]);
    const r = await stageAll(reg, dist, ci, ['--json']);
    t.equal(r.code, 1);
    t.match(r.stderr, new RegExp(`\\[stage-publish\\] ${ARM64.replace('/', '\\/')}@${VERSION}`), 'names the package');
    t.match(r.stderr, /nothing is approved or visible\. Re-run publish-all stage to continue/);
    t.equal(reg.proxy.hits[0], 1, 'one attempt: the re-run is the retry');
    const out = JSON.parse(r.stdout);
    t.same(
      out.staged.map((l: { package: string; status: string }) => [l.package, l.status]),
      [[X64, 'staged']],
      'the other package is staged (invisible)',
    );
    t.same(leftoverConfigs(tmp), [], 'temporary npm config removed after failure');
    const again = await unfinishedThenFinished(t, reg, dist, { ci, maintainer }, r, ARM64);
    t.same(
      again.staged.map((l: { package: string; status: string }) => [l.package, l.status]),
      [
        [X64, 'staged-before'],
        [ARM64, 'staged'],
      ],
    );
  });
}

t.test('the process killed between two stage publishes', async (t) => {
  const { reg, dist, ci, maintainer, tmp } = await seededRegistry(t);
  // arm64's stage publish never gets an answer: the kill comes once x64 is staged
  reg.proxy.setRules([{ publishOf: ARM64, action: 'hold' }]);
  const r = await stageAllKilledWhen(reg, dist, ci, new RegExp(`staged ${X64.replace('/', '\\/')}@`));
  t.ok(r.killed, 'killed after the first stage publish');
  t.equal(r.code, 137);
  t.match(r.stderr, /staged @agoric\/xsnap-linux-x64@/);
  // SIGKILL cannot be caught: the 0600 config in the private TMPDIR is the one thing left...
  t.ok(leftoverConfigs(tmp).length <= 1);
  await unfinishedThenFinished(t, reg, dist, { ci, maintainer }, r, ARM64);
  // ...until the next run, which removes configs whose process is gone
  t.same(leftoverConfigs(tmp), [], "the killed run's npm config was swept by the re-run");
});

t.test('a stage that landed although its answer was lost: the re-run finds it, the approval approves it', async (t) => {
  const { reg, dist, ci, maintainer } = await seededRegistry(t);
  reg.proxy.setRules([{ publishOf: ARM64, action: 'drop-after-forward', times: 1 }]);
  const r = await stageAll(reg, dist, ci);
  const again = await unfinishedThenFinished(t, reg, dist, { ci, maintainer }, r, ARM64);
  t.same(
    again.staged.map((l: { package: string; status: string }) => [l.package, l.status]),
    [
      [X64, 'staged-before'],
      [ARM64, 'staged-before'],
    ],
    'the lost one had landed: the re-run is told it is staged already',
  );
});
