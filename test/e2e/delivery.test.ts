// check-delivery.ts against a real registry (Verdaccio) holding the real release
// set (the shared linux build): npm (with a lockfile made on linux-x64 then
// installed for arm64), Yarn 4 and pnpm 10 (supportedArchitectures), musl gets
// nothing, the binaries run (arm64 under qemu), the determinism corpus of the
// installed binary equals the manifest; Yarn's default age gate refuses a fresh
// set; planted defects in the manifest are caught.
import t from 'tap';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript } from '../helpers/run.ts';
import { LINUX_TARGETS } from '../helpers/shared-build.ts';
import { VERSION, startTestRegistry, releaseDist, publishDirect } from '../helpers/registry.ts';

const MANIFEST = `xsnap-worker-manifest-${VERSION}.json`;

t.test(
  'the published set installed with npm, Yarn and pnpm: the right package only, executable, running, same numbers',
  async (t) => {
    const reg = await startTestRegistry();
    t.teardown(() => reg.stop());
    const dist = await releaseDist();
    for (const target of LINUX_TARGETS) await publishDirect(reg, join(dist, `agoric-xsnap-${target}-${VERSION}.tgz`));
    const dir = t.testdir();
    const manifest = join(dir, MANIFEST);
    copyFileSync(join(dist, 'release', MANIFEST), manifest);
    const delivery = (args: string[]) =>
      runScript('check-delivery.ts', ['--manifest', manifest, '--registry', reg.direct, '--json', ...args], {
        env: { NPM_TOKEN: 'npm_never_given_to_package_managers' },
      });

    const all = await delivery([
      '--platforms',
      'host,linux-arm64,linux-x64-musl',
      '--npm-lockfile-from',
      'linux-x64',
      '--determinism',
    ]);
    t.equal(all.code, 0, all.stderr);
    const r = JSON.parse(all.stdout);
    const got = r.installs.map(
      (i: { pm: string; platform: string; installed: string[] }) =>
        `${i.pm} ${i.platform}: ${i.installed.join(',') || '-'}`,
    );
    t.same(got, [
      'npm (lockfile) linux-x64-glibc: @agoric/xsnap-linux-x64',
      'npm linux-x64-glibc: @agoric/xsnap-linux-x64',
      'npm linux-arm64-glibc: @agoric/xsnap-linux-arm64',
      'npm linux-x64-musl: -',
      'yarn linux-x64-glibc: @agoric/xsnap-linux-x64',
      'yarn linux-arm64-glibc: @agoric/xsnap-linux-arm64',
      'yarn linux-x64-musl: -',
      'pnpm linux-x64-glibc: @agoric/xsnap-linux-x64',
      'pnpm linux-arm64-glibc: @agoric/xsnap-linux-arm64',
      'pnpm linux-x64-musl: -',
    ]);
    t.equal(r.determinism.target, 'linux-x64');
    t.ok(r.determinism.results > 0);
    t.notMatch(all.stdout + all.stderr, 'npm_never_given_to_package_managers');

    // Yarn's defaults refuse a set younger than a day; pnpm with minimumReleaseAge too
    const yarnGate = await delivery(['--pm', 'yarn', '--yarn-default-age-gate']);
    t.equal(yarnGate.code, 1);
    t.match(
      yarnGate.stderr,
      /\[delivery-install\] yarn install for linux-x64-glibc[\s\S]*All versions satisfying "0\.15\.0" are quarantined/,
    );
    const pnpmAge = await delivery(['--pm', 'pnpm', '--pnpm-minimum-release-age', '1440']);
    t.equal(pnpmAge.code, 1);
    t.match(pnpmAge.stderr, /\[delivery-install\] pnpm install for linux-x64-glibc[\s\S]*minimumReleaseAge/);

    // planted defects: other bytes for the arm64 binary, another digest for a determinism family
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    m.targets['linux-arm64'].release.sha256 = '0'.repeat(64);
    const family = Object.keys(m.targets['linux-x64'].determinism.families).find(
      (f) => m.targets['linux-x64'].determinism.families[f].source === 'xs',
    )!;
    m.targets['linux-x64'].determinism.families[family].compute += 1;
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify(m));
    const planted = await runScript('check-delivery.ts', [
      '--manifest',
      bad,
      '--registry',
      reg.direct,
      '--pm',
      'npm',
      '--platforms',
      'host,linux-arm64',
      '--determinism',
    ]);
    t.equal(planted.code, 1);
    t.match(
      planted.stderr,
      /\[delivery-sha256\] npm install for linux-arm64-glibc: @agoric\/xsnap-linux-arm64\/bin\/release\/xsnap-worker/,
    );
    t.match(
      planted.stderr,
      new RegExp(`\\[delivery-determinism\\] linux-x64 installed by npm vs the manifest: family ${family}`),
    );

    // --version, as delivery.yml runs it: the committed manifest of that version (--manifests-dir)
    const committed = t.testdir();
    copyFileSync(join(dist, 'release', MANIFEST), join(committed, MANIFEST));
    const byVersion = (version: string, dir = committed, registry = reg.direct) =>
      runScript('check-delivery.ts', [
        '--version',
        version,
        '--manifests-dir',
        dir,
        '--registry',
        registry,
        '--pm',
        'npm',
        '--platforms',
        'host',
        '--json',
      ]);
    const exact = await byVersion(VERSION);
    t.equal(exact.code, 0, exact.stderr);
    t.same(JSON.parse(exact.stdout).installs.length, 1);
    const uncommitted = await byVersion(VERSION, t.testdir());
    t.equal(uncommitted.code, 2);
    t.match(uncommitted.stderr, /does not exist \(commit the release manifest with generate-manifest\.ts --save\)/);
    // latest on a partial set (no darwin packages here) is refused, naming what each package's latest is
    const partial = await byVersion('latest');
    t.equal(partial.code, 1);
    t.match(partial.stderr, /\[delivery-latest\][\s\S]*@agoric\/xsnap-darwin-x64: none/);
    t.match(partial.stderr, new RegExp(`@agoric/xsnap-linux-x64: ${VERSION.replace(/\./g, '\\.')}`));
    // before the first release (an empty registry), the weekly run has nothing to check: it says so and passes
    const empty = await startTestRegistry();
    t.teardown(() => empty.stop());
    const none = await byVersion('latest', committed, empty.direct);
    t.equal(none.code, 0, none.stderr);
    t.match(JSON.parse(none.stdout), { ok: true, released: false });

    // usage
    t.equal((await runScript('check-delivery.ts', ['--registry', reg.direct])).code, 2);
    t.equal((await delivery(['--pm', 'bun'])).code, 2);
    t.equal((await delivery(['--platforms', 'win32-x64'])).code, 2);
  },
);

t.test('what an install must produce, each check shown failing on a planted outcome (real binaries)', async (t) => {
  const { checkOutcome } = await import('../../scripts/lib/ci/delivery.ts');
  const { mkdirSync, chmodSync } = await import('node:fs');
  const dist = await releaseDist();
  const manifest = JSON.parse(readFileSync(join(dist, 'release', MANIFEST), 'utf8'));
  // an installed package folder as npm leaves it: the real binaries with their modes
  const root = t.testdir();
  const installed = (name: string, mode = 0o755) => {
    const dir = join(root, name);
    for (const goal of ['release', 'debug']) {
      mkdirSync(join(dir, 'bin', goal), { recursive: true });
      const file = join(dir, 'bin', goal, 'xsnap-worker');
      copyFileSync(join(dist, 'linux-x64', goal, 'xsnap-worker'), file);
      chmodSync(file, mode);
    }
    return dir;
  };
  const X64 = '@agoric/xsnap-linux-x64';
  const ARM64 = '@agoric/xsnap-linux-arm64';
  const host = { os: 'linux', cpu: 'x64', libc: 'glibc' };
  const outcome = (installed: string[], paths: Record<string, string>) =>
    ({ pm: 'npm', platform: 'linux-x64-glibc', code: 0, installed, paths, output: '' }) as const;
  const good = installed('good');
  t.same(await checkOutcome(outcome([X64], { [X64]: good }), manifest, host), [], 'the right install passes');

  const both = await checkOutcome(outcome([ARM64, X64], { [X64]: good }), manifest, host);
  t.match(both, [{ check: 'delivery-selection', expected: `exactly ${X64}`, actual: `${ARM64}, ${X64}` }]);
  const none = await checkOutcome(outcome([], {}), manifest, host);
  t.match(none, [{ check: 'delivery-selection', actual: 'nothing installed' }]);

  const noExec = await checkOutcome(outcome([X64], { [X64]: installed('no-exec', 0o644) }), manifest, host);
  t.match(noExec.filter((f) => f.check === 'delivery-mode').length, 2, 'both binaries lost their execute bit');

  const other = await checkOutcome(outcome([X64], { [X64]: good }), { ...manifest, version: '9.9.9' }, host);
  t.match(other, [
    {
      check: 'delivery-runs',
      expected: 'xsnap 9.9.9 (XS ...)',
      actual: new RegExp(`^xsnap ${VERSION.replace(/\./g, '\\.')} \\(XS `),
    },
  ]);
});
