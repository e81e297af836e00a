// The publish plan from plain objects: what publish-all decides for each
// registry state, before it writes anything.
import t from 'tap';
import { planRelease, describePlan, stagingTagFor, type PlanInput } from '../../scripts/lib/publish.ts';
import { isPublicRegistry, normaliseRegistry } from '../../scripts/lib/npm-client.ts';

const members: PlanInput['members'] = [
  { target: 'linux-x64', package: '@agoric/xsnap-linux-x64', tarball: '/d/a.tgz', integrity: 'sha512-AAA' },
  { target: 'linux-arm64', package: '@agoric/xsnap-linux-arm64', tarball: '/d/b.tgz', integrity: 'sha512-BBB' },
];
const input = (remote: PlanInput['remote'], tag = 'latest'): PlanInput => ({
  version: '1.2.3', registry: 'http://r/', registryKind: 'custom', tag, provenance: false, dryRun: false, members, remote,
});

t.test('absent packages are published; the tag moves from the old version', async (t) => {
  const plan = planRelease(input({
    '@agoric/xsnap-linux-x64': { status: 'absent', distTags: { latest: '1.2.2' } },
    '@agoric/xsnap-linux-arm64': { status: 'absent', distTags: { latest: '1.2.2' } },
  }));
  t.same(plan.packages.map((p) => [p.action, p.tag.action, p.tag.current, p.firstEverPublish]), [['publish', 'move', '1.2.2', false], ['publish', 'move', '1.2.2', false]]);
  t.equal(plan.stagingTag, stagingTagFor('1.2.3'));
  t.notOk(plan.refused);
  t.notOk(plan.nothingToDo);
  t.same(plan.notes, []);
});

t.test('one package with other bytes: the whole release is refused', async (t) => {
  const plan = planRelease(input({
    '@agoric/xsnap-linux-x64': { status: 'absent', distTags: {} },
    '@agoric/xsnap-linux-arm64': { status: 'different', integrity: 'sha512-ZZZ', distTags: { latest: '1.2.3' } },
  }));
  t.ok(plan.refused);
  t.equal(plan.packages[1].action, 'refuse');
  t.match(describePlan(plan)[1], /REFUSE.*sha512-ZZZ.*sha512-BBB/);
});

t.test('first ever publish is called out: the registry sets latest itself', async (t) => {
  const plan = planRelease(input({
    '@agoric/xsnap-linux-x64': { status: 'no-package', distTags: {} },
    '@agoric/xsnap-linux-arm64': { status: 'absent', distTags: { latest: '1.0.0' } },
  }));
  t.same(plan.packages.map((p) => p.firstEverPublish), [true, false]);
  t.match(plan.notes[0], /@agoric\/xsnap-linux-x64: first ever publish.*`latest`/);
});

t.test('an interrupted run: one published under staging, nothing tagged; the re-run publishes the rest and tags all', async (t) => {
  const plan = planRelease(input({
    '@agoric/xsnap-linux-x64': { status: 'ok', integrity: 'sha512-AAA', distTags: { latest: '1.2.2', 'staging-1.2.3': '1.2.3' } },
    '@agoric/xsnap-linux-arm64': { status: 'absent', distTags: { latest: '1.2.2' } },
  }));
  t.same(plan.packages.map((p) => [p.remote, p.action, p.tag.action, p.stagingTagLeft]), [['identical', 'none', 'move', true], ['absent', 'publish', 'move', false]]);
});

t.test('everything identical and tagged: nothing to do', async (t) => {
  const done = { status: 'ok' as const, distTags: { latest: '1.2.3' } };
  const plan = planRelease(input({ '@agoric/xsnap-linux-x64': done, '@agoric/xsnap-linux-arm64': done }));
  t.ok(plan.nothingToDo);
  const otherTag = planRelease(input({ '@agoric/xsnap-linux-x64': done, '@agoric/xsnap-linux-arm64': done }, 'next'));
  t.notOk(otherTag.nothingToDo, 'a different requested tag still has to move');
  t.same(otherTag.packages.map((p) => p.tag.action), ['move', 'move']);
});

t.test('registry URLs', async (t) => {
  t.ok(isPublicRegistry('https://registry.npmjs.org/'));
  t.notOk(isPublicRegistry('http://127.0.0.1:4873/'));
  t.equal(normaliseRegistry('http://127.0.0.1:4873'), 'http://127.0.0.1:4873/');
  t.throws(() => normaliseRegistry('ftp://x/'), /http\(s\)/);
});
