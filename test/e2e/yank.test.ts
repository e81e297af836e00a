// yank.ts against a real registry (Verdaccio 9 with npm's rules: every write a
// maintainer makes takes a one-time code) holding real packages: earlier
// releases, the release set of the shared build, and the gate run with only the
// manifest. Also the hand-off (generate-manifest --handoff) checked by verify.
import t from 'tap';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { runScript } from '../helpers/run.ts';
import { LINUX, stagedCopy } from '../helpers/staged.ts';
import { LINUX_TARGETS } from '../helpers/shared-build.ts';
import {
  VERSION,
  PACKAGES,
  startTestRegistry,
  releaseDist,
  publishDirect,
  variantTarball,
  packuments,
  latestOf,
} from '../helpers/registry.ts';
import { NpmClient } from '../../scripts/lib/core/npm-client.ts';
import { yankMessage } from '../../scripts/lib/publish/yank.ts';

const MANIFEST = `xsnap-worker-manifest-${VERSION}.json`;
const TOKEN_MARK = (token: string) => (s: string) => !s.includes(token);

t.test('yank: deprecate, move latest back past a yanked release, gate refuses, resumable, undo', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  const dir = t.testdir();
  const manifest = join(dir, MANIFEST);
  copyFileSync(join(dist, 'release', MANIFEST), manifest);
  // earlier releases 0.14.0 and 0.14.1 (real package content), then the release set
  for (const v of ['0.14.0', '0.14.1'])
    for (const target of LINUX_TARGETS) await publishDirect(reg, await variantTarball(dist, target, { version: v }));
  for (const target of LINUX_TARGETS) await publishDirect(reg, join(dist, `agoric-xsnap-${target}-${VERSION}.tgz`));
  t.same(Object.values(await latestOf(reg)), [VERSION, VERSION]);

  const env = { NPM_TOKEN: reg.token };
  const yank = (args: string[]) =>
    runScript('yank.ts', ['--registry', reg.direct, '--targets', LINUX, '--otp', reg.rules.otp(), ...args], { env });
  const gate = (extra: string[] = []) =>
    runScript(
      'verify-artifacts.ts',
      ['--published', '--manifest', manifest, '--registry', reg.direct, '--targets', LINUX, '--json', ...extra],
      { env: { XSNAP_DIST_DIR: '/nonexistent' } },
    );

  // the gate passes before, and says when the fresh set leaves Yarn's quarantine
  const ok = await gate(['--dist-tag', 'latest']);
  t.equal(ok.code, 0, ok.stderr);
  t.match(
    ok.stderr,
    /@agoric\/xsnap-linux-x64@0\.15\.0 published \S+; Yarn npmMinimalAgeGate \(default 1440\): installable from \S+/,
  );
  t.equal(JSON.parse(ok.stdout).published[0].publishedAt !== undefined, true);

  // usage errors: no reason, a reason with our marker, a bad version
  t.equal((await yank(['--version', VERSION])).code, 2);
  t.match((await yank(['--version', VERSION, '--reason', 'x [yanked]'])).stderr, /marker/);
  t.equal((await yank(['--version', 'v0.15.0', '--reason', 'x'])).code, 2);
  t.equal((await yank(['--version', '9.9.9', '--reason', 'x'])).code, 1, 'a version on no package');
  const subset = await runScript(
    'yank.ts',
    ['--targets', 'linux-x64', '--version', VERSION, '--reason', 'x', '--dry-run'],
    { env },
  );
  t.equal(subset.code, 2, 'the public registry: the whole set or nothing');
  t.match(subset.stderr, /covers the whole set/);

  // yank an older release: latest is elsewhere and stays
  const old = await yank(['--version', '0.14.1', '--reason', 'bad libm', '--json']);
  t.equal(old.code, 0, old.stderr);
  t.equal(JSON.parse(old.stdout).latest, null);
  t.same(Object.values(await latestOf(reg)), [VERSION, VERSION]);

  // --dry-run: the plan, nothing written; latest goes back past the yanked 0.14.1 to 0.14.0
  const dry = await yank(['--version', VERSION, '--reason', 'wrong binaries', '--dry-run', '--json']);
  t.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout).plan;
  t.same(plan.latest, { from: VERSION, to: '0.14.0' });
  t.same(
    plan.actions.map((a: { kind: string }) => a.kind),
    ['deprecate', 'deprecate', 'dist-tag', 'dist-tag'],
  );
  t.same(Object.values(await latestOf(reg)), [VERSION, VERSION], 'dry run wrote nothing');

  // interrupted yank: one package deprecated (with the record of the move), nothing else
  const client = new NpmClient({ registry: reg.direct, token: reg.token });
  const r = await client.npm(
    [
      'deprecate',
      `${PACKAGES[0]}@${VERSION}`,
      yankMessage('wrong binaries', { from: VERSION, to: '0.14.0' }),
      '--otp',
      reg.rules.otp(),
    ],
    'seed',
  );
  client.dispose();
  t.equal(r.code, 0, r.stderr);

  const done = await yank(['--version', VERSION, '--reason', 'wrong binaries', '--json']);
  t.equal(done.code, 0, done.stderr);
  t.ok([done.stdout, done.stderr].every(TOKEN_MARK(reg.token)), 'the token is never printed');
  const result = JSON.parse(done.stdout);
  t.same(
    result.done.map((a: { kind: string; package: string }) => `${a.kind} ${a.package}`),
    [`deprecate ${PACKAGES[1]}`, `dist-tag ${PACKAGES[0]}`, `dist-tag ${PACKAGES[1]}`],
    'the re-run carries on where it stopped',
  );
  t.same(Object.values(await latestOf(reg)), ['0.14.0', '0.14.0']);
  for (const doc of Object.values(await packuments(reg)))
    t.match(doc!.versions[VERSION].deprecated, /^wrong binaries \[yanked; latest was 0\.15\.0, moved to 0\.14\.0\]$/);
  const again = await yank(['--version', VERSION, '--reason', 'wrong binaries']);
  t.equal(again.code, 0);
  t.match(again.stderr, /nothing left to do/);

  // the gate refuses a yanked version, naming it
  const refused = await gate();
  t.equal(refused.code, 1);
  t.match(refused.stderr, /\[yanked\] @agoric\/xsnap-linux-x64@0\.15\.0[\s\S]*yanked: "wrong binaries/);
  t.match(refused.stderr, /do not publish @agoric\/xsnap/);

  // undo: deprecation gone, latest forward to 0.15.0 again, the gate passes
  const undo = await yank(['--version', VERSION, '--undo', '--json']);
  t.equal(undo.code, 0, undo.stderr);
  t.same(Object.values(await latestOf(reg)), [VERSION, VERSION]);
  for (const doc of Object.values(await packuments(reg))) t.notOk(doc!.versions[VERSION].deprecated);
  t.equal((await gate(['--dist-tag', 'latest'])).code, 0);

  // no earlier release to move latest back to: refused before any write
  const undoOld = await yank(['--version', '0.14.1', '--undo']);
  t.equal(undoOld.code, 0, undoOld.stderr);
  const y0 = await yank(['--version', '0.14.0', '--reason', 'x']);
  t.equal(y0.code, 0, 'latest is not on 0.14.0: no move needed');
  const y1 = await yank(['--version', '0.14.1', '--reason', 'x']);
  t.equal(y1.code, 0);
  const none = await yank(['--version', VERSION, '--reason', 'nothing below']);
  t.equal(none.code, 1);
  t.match(none.stderr, /\[yank-latest\][\s\S]*publish the fixed version first/);
  for (const doc of Object.values(await packuments(reg))) t.notOk(doc!.versions[VERSION].deprecated, 'nothing written');
  t.same(Object.values(await latestOf(reg)), [VERSION, VERSION]);

  // no token: exit 2 before writing
  const noToken = await runScript(
    'yank.ts',
    ['--registry', reg.direct, '--targets', LINUX, '--version', '0.14.0', '--undo'],
    { env: { NPM_TOKEN: '', NODE_AUTH_TOKEN: '' } },
  );
  t.equal(noToken.code, 2);
});

t.test('the hand-off: written from the manifest, checked by verify, a planted change refused', async (t) => {
  const dist = await stagedCopy();
  t.teardown(() => import('node:fs/promises').then((f) => f.rm(dist, { recursive: true, force: true })));
  const handoff = join(dist, 'release', 'agoric-sdk-handoff.md');
  const dry = await runScript('generate-manifest.ts', ['--handoff', '--dist', dist, '--dry-run']);
  t.equal(dry.code, 0, dry.stderr);
  t.notOk(existsSync(handoff), '--dry-run writes nothing');
  const r = await runScript('generate-manifest.ts', ['--handoff', '--dist', dist, '--json']);
  t.equal(r.code, 0, r.stderr);
  const sha = createHash('sha256')
    .update(readFileSync(join(dist, 'release', MANIFEST)))
    .digest('hex');
  const text = readFileSync(handoff, 'utf8');
  t.match(text, `  '${VERSION}': '${sha}',`);
  t.match(text, `"@agoric/xsnap-linux-arm64": "${VERSION}"`);
  t.match(
    text,
    `npx tsx scripts/verify-artifacts.ts --published --manifest ${MANIFEST} --tag v${VERSION} --dist-tag latest --targets linux-x64,linux-arm64`,
  );
  t.equal(JSON.parse(r.stdout).handoff.manifestSha256, sha);
  const verify = (extra: string[] = []) =>
    runScript('verify-artifacts.ts', [
      '--dist',
      dist,
      '--targets',
      LINUX,
      '--skip-install',
      '--skip-fingerprint',
      ...extra,
    ]);
  t.equal((await verify()).code, 0, 'verify accepts the hand-off of its manifest');
  writeFileSync(handoff, text.replaceAll(sha, 'f'.repeat(64)));
  const bad = await verify();
  t.equal(bad.code, 1);
  t.match(bad.stdout + bad.stderr, /\[handoff\] dist\/release\/agoric-sdk-handoff\.md[\s\S]*another manifest sha256/);
  // a backport's hand-off names its dist-tag; usage errors
  t.equal(
    (await runScript('generate-manifest.ts', ['--handoff', '--dist', dist, '--dist-tag', 'backport-0.15'])).code,
    0,
  );
  t.match(readFileSync(handoff, 'utf8'), '--dist-tag backport-0.15');
  t.equal((await verify()).code, 0);
  t.equal((await runScript('generate-manifest.ts', ['--dist-tag', 'x', '--dist', dist])).code, 2);
  t.equal((await runScript('generate-manifest.ts', ['--handoff', '--dist', join(dist, 'nope')])).code, 2);
});
