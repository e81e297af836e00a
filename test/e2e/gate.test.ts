// The agoric-sdk gate as agoric-sdk runs it: nothing but the release's manifest
// (no build output, no tarballs), against a real Verdaccio.
import t from 'tap';
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript } from '../helpers/run.ts';
import { runRaw } from '../../scripts/lib/core/exec.ts';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import { LINUX } from '../helpers/staged.ts';
import { VERSION, startTestRegistry, releaseDist, releaseAll } from '../helpers/registry.ts';

const MANIFEST = `xsnap-worker-manifest-${VERSION}.json`;
const gate = (manifest: string, registry: string, extra: string[] = []) =>
  runScript(
    'verify-artifacts.ts',
    ['--published', '--manifest', manifest, '--registry', registry, '--targets', LINUX, '--json', ...extra],
    { env: { XSNAP_DIST_DIR: '/nonexistent' } },
  );

t.test('the gate with only the manifest: refuses before the release, passes after, refuses other bytes', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  const dir = t.testdir();
  const manifest = join(dir, MANIFEST);
  copyFileSync(join(dist, 'release', MANIFEST), manifest);

  const before = await gate(manifest, reg.direct);
  t.equal(before.code, 1, 'nothing published yet: refused');
  t.match(before.stderr, /@agoric\/xsnap-linux-x64/);
  t.same(
    JSON.parse(before.stdout).published.map((p: { status: string }) => p.status),
    ['no-package', 'no-package'],
  );

  const { staged, approved } = await releaseAll(reg, dist, join(dir, 'tmp'));
  t.equal(staged.code, 0, staged.stderr);
  t.equal(approved.code, 0, approved.stderr);

  const after = await gate(manifest, reg.direct, ['--dist-tag', 'latest', '--tag', `v${VERSION}`]);
  t.equal(after.code, 0, after.stderr);
  const report = JSON.parse(after.stdout);
  t.equal(report.ok, true);
  t.equal(report.version, VERSION, 'version taken from the manifest');
  t.same(
    report.published.map((p: { status: string }) => p.status),
    ['ok', 'ok'],
  );

  // a manifest naming other bytes for one binary: the registry's bytes are checked, not trusted
  const edited = JSON.parse(readFileSync(manifest, 'utf8'));
  edited.targets['linux-arm64'].debug.sha256 = '0'.repeat(64);
  const other = join(dir, 'other', MANIFEST);
  mkdirSync(join(dir, 'other'), { recursive: true });
  writeFileSync(other, JSON.stringify(edited));
  const refused = await gate(other, reg.direct);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /\[binary-sha256\] @agoric\/xsnap-linux-arm64@.*package\/bin\/debug\/xsnap-worker/);
  t.match(refused.stderr, `expected: ${'0'.repeat(64)}`);

  // the release tag must match the manifest's version; a dist-tag not on the version is refused
  const wrongTag = await gate(manifest, reg.direct, ['--tag', 'v9.9.9']);
  t.equal(wrongTag.code, 1);
  t.match(wrongTag.stderr, /version-tag/);
  const wrongDistTag = await gate(manifest, reg.direct, ['--dist-tag', 'next']);
  t.equal(wrongDistTag.code, 1);
  t.match(wrongDistTag.stderr, /dist-tag "next"/);

  // a manifest that is not of our format is refused even when the registry agrees with its digests
  const unschemed = JSON.parse(readFileSync(manifest, 'utf8'));
  delete unschemed.source;
  mkdirSync(join(dir, 'unschemed'), { recursive: true });
  writeFileSync(join(dir, 'unschemed', MANIFEST), JSON.stringify(unschemed));
  const bad = await gate(join(dir, 'unschemed', MANIFEST), reg.direct);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /\[manifest-schema\]/);
});

t.test('gate usage errors exit 2', async (t) => {
  const dir = t.testdir({ 'bad.json': '{"version":"latest"}', 'not-json.json': '{' });
  const notPublished = await runScript('verify-artifacts.ts', ['--manifest', join(dir, 'bad.json')]);
  t.equal(notPublished.code, 2);
  t.match(notPublished.stderr, /--manifest and --dist-tag go with --published/);
  for (const [file, msg] of [
    ['bad.json', /version "latest" is not an exact npm version/],
    ['not-json.json', /cannot be read as JSON/],
    ['missing.json', /cannot be read as JSON|missing/],
  ] as const) {
    const r = await runScript('verify-artifacts.ts', [
      '--published',
      '--manifest',
      join(dir, file),
      '--registry',
      'http://127.0.0.1:9',
    ]);
    t.equal(r.code, 2, file);
    t.match(r.stderr, msg);
  }
});

t.test(
  'publish-all stage --registry local: stages on Verdaccio 9 (--keep-registry leaves it running), approve releases, stop-registry stops it',
  async (t) => {
    const dir = t.testdir();
    const env = { XSNAP_REGISTRY_DIR: join(dir, 'registry') };
    const dist = join(dir, 'dist');
    cpSync(await releaseDist(), dist, { recursive: true });
    const kept = await runScript(
      'publish-all.ts',
      ['stage', '--registry', 'local', '--keep-registry', '--targets', LINUX, '--dist', dist, '--skip-verify'],
      { env },
    );
    t.equal(kept.code, 0, kept.stderr);
    t.match(kept.stderr, /staging 2 packages under "latest" \(invisible\)/, 'staged on the local registry');
    const url = /local registry still running at (\S+)/.exec(kept.stdout)?.[1];
    t.ok(url, 'its URL is printed');
    t.equal((await fetch(`${url}-/ping`)).status, 200, 'still answering');
    // the maintainer's authenticator for the local registry: the code registry-rules.mjs --otp prints
    const otp = await runRaw([
      'node',
      join(REPO_ROOT, 'scripts/lib/publish/registry-rules.mjs'),
      '--otp',
      env.XSNAP_REGISTRY_DIR,
    ]);
    t.match(otp.stdout, /^\d{6}\n$/, 'a six-digit code');
    const code = otp.stdout.trim();
    const approved = await runScript(
      'publish-all.ts',
      ['approve', '--otp', code, '--registry', 'local', '--keep-registry', '--targets', LINUX, '--dist', dist],
      { env },
    );
    t.equal(approved.code, 0, approved.stderr);
    t.match(approved.stdout, /released .* \(visibility window \d+ ms\)/);
    const stop = await runScript('publish-all.ts', ['stop-registry'], { env });
    t.equal(stop.code, 0, stop.stderr);
    t.match(stop.stdout, /stopped the local registry/);
    await t.rejects(fetch(`${url}-/ping`), 'no longer answering');

    // started again on the kept storage (its user exists already): its kept token works, and there is nothing to do
    const again = await runScript(
      'publish-all.ts',
      ['stage', '--registry', 'local', '--targets', LINUX, '--dist', dist, '--skip-verify'],
      { env },
    );
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /nothing to do: .* is fully published/);
  },
);
