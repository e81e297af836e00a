// The build stage on real sources: real binaries for both linux targets,
// reproducibility across folders, the build cache, and every bad input.
import t, { type Test } from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from '../helpers/run.ts';
import { sharedDist, DARWIN_TARGETS, LINUX_TARGETS } from '../helpers/shared-build.ts';
import { isolatedCache } from '../helpers/isolated-cache.ts';
import { realXsnapTarball, startFileServer, serveNpmPackage, agoricSdkArchives } from '../helpers/source-server.ts';
import { readPin } from '../../scripts/lib/core/pin.ts';
import { runRaw } from '../../scripts/lib/core/exec.ts';
import { hostRunner } from '../../scripts/lib/build/binary-checks.ts';
import { getTarget } from '../../scripts/lib/core/targets.ts';
import { sriSha512, sha256File } from '../../scripts/lib/core/hash.ts';
import type { BuildInfo } from '../../scripts/lib/build/build.ts';
import { readZigPin } from '../../scripts/lib/build/zig.ts';

const pin = readPin(join(import.meta.dirname, '../../native/pin.json'));
const tmp = () => mkdtemp(join(tmpdir(), 'xsnap-build-test-'));
const info = (dist: string, target: string): BuildInfo =>
  JSON.parse(readFileSync(join(dist, target, 'build-info.json'), 'utf8'));
const bytes = (dist: string, target: string, goal: string) => readFileSync(join(dist, target, goal, 'xsnap-worker'));

/** nothing of a target was left behind in `dist` (no output, no partial folder) */
function assertNothingWritten(t: Test, dist: string, target: string) {
  t.notOk(existsSync(join(dist, target)), `no ${target}/ output in ${dist}`);
  const partials = existsSync(dist) ? readdirSync(dist).filter((f) => f.includes('partial')) : [];
  t.same(partials, [], 'no partial folders left');
}

t.test('both linux targets are built from the pinned sources and run', async (t) => {
  const dist = sharedDist();
  for (const target of LINUX_TARGETS) {
    const bi = info(dist, target);
    t.equal(bi.version, pin.version);
    t.equal(bi.releasable, true, `${target} build is releasable`);
    t.equal(bi.toolchain.kind, 'pinned');
    t.match(bi.toolchain.compiler, /\(Debian 10\.2\.1/, 'the bullseye compiler built it');
    t.equal(bi.source.kind, 'npm');
    t.same(
      Object.values(bi.source.integrity),
      [(pin.source as { integrity: string }).integrity],
      'source integrity recorded',
    );
    for (const goal of ['release', 'debug'] as const) {
      const file = join(dist, target, goal, 'xsnap-worker');
      t.equal(bi.binaries[goal]!.sha256, await sha256File(file), `${target} ${goal} digest recorded`);
      t.ok(
        Number(bi.binaries[goal]!.facts.maxGlibc!.split('.')[1]) <= 31,
        `${target} ${goal} needs GLIBC ${bi.binaries[goal]!.facts.maxGlibc} <= 2.31`,
      );
      // run it ourselves, not through the build's own check
      const runner = await hostRunner(getTarget(target));
      t.ok(runner, `${target} can run on this host`);
      const r = await runRaw([...runner!, file, '-v']);
      t.equal(r.code, 0);
      t.match(
        r.stdout.trim(),
        new RegExp(`^xsnap ${pin.version.replace(/\./g, '\\.')} \\(XS [\\d.]+\\)$`),
        `${target} ${goal} reports ${pin.version}`,
      );
    }
  }
  t.not(bytes(dist, 'linux-x64', 'release').equals(bytes(dist, 'linux-arm64', 'release')), true);
});

t.test(
  'cache: unchanged inputs do no compilation; a tampered cache entry is rebuilt, bit-identically, in another folder',
  async (t) => {
    const cache = await isolatedCache();
    const env = { XSNAP_CACHE_DIR: cache };
    const [a, b, c] = [await tmp(), await tmp(), await tmp()];

    const first = await runScript('build-target.ts', ['--target', 'linux-x64', '--dist', a, '--json'], { env });
    t.equal(first.code, 0, first.stderr);
    t.match(first.stderr, /compiling release \+ debug/);
    t.equal(JSON.parse(first.stdout).buildInfo.cache.hit, false);

    const t0 = Date.now();
    const second = await runScript('build-target.ts', ['--target', 'linux-x64', '--dist', b, '--json'], { env });
    const seconds = (Date.now() - t0) / 1000;
    t.equal(second.code, 0, second.stderr);
    t.notMatch(second.stderr, /compiling|fetching sources/, 'no fetch, no compilation');
    t.equal(JSON.parse(second.stdout).buildInfo.cache.hit, true);
    t.comment(`unchanged re-run took ${seconds.toFixed(2)} s`);
    for (const goal of ['release', 'debug'])
      t.ok(bytes(a, 'linux-x64', goal).equals(bytes(b, 'linux-x64', goal)), `${goal} reused`);

    // corrupt the cached release binary: the next build must notice and compile again
    const key = JSON.parse(second.stdout).buildInfo.cache.key as string;
    await appendFile(join(cache, 'builds', key, 'release', 'xsnap-worker'), 'tampered');
    const third = await runScript('build-target.ts', ['--target', 'linux-x64', '--dist', c, '--json'], { env });
    t.equal(third.code, 0, third.stderr);
    t.match(third.stderr, /does not match its record/);
    t.match(third.stderr, /compiling/);
    // two compilations in two different work folders give the same bytes, equal to the shared build too
    for (const goal of ['release', 'debug']) {
      t.ok(
        bytes(a, 'linux-x64', goal).equals(bytes(c, 'linux-x64', goal)),
        `${goal}: bit-identical across two build folders`,
      );
      t.ok(
        bytes(a, 'linux-x64', goal).equals(bytes(sharedDist(), 'linux-x64', goal)),
        `${goal}: identical to the shared build`,
      );
    }
  },
);

t.test('linux-arm64 rebuilt without the cache is bit-identical to the shared build', async (t) => {
  const dist = await tmp();
  const r = await runScript('build-target.ts', ['--target', 'linux-arm64', '--dist', dist, '--no-cache']);
  t.equal(r.code, 0, r.stderr);
  for (const goal of ['release', 'debug'])
    t.ok(bytes(dist, 'linux-arm64', goal).equals(bytes(sharedDist(), 'linux-arm64', goal)), `${goal} identical`);
});

t.test('darwin: zig-built, recorded, and bit-identical from another folder, zig location and cold cache', async (t) => {
  const dist = sharedDist();
  for (const target of DARWIN_TARGETS) {
    const bi = info(dist, target);
    t.equal(bi.releasable, true, `${target} build is releasable`);
    t.equal(bi.toolchain.kind, 'zig');
    t.match(bi.toolchain.compiler, /^zig 0\.11\.0 \(clang version 16/);
    const zig = readZigPin();
    t.same(bi.toolchain.zig, {
      package: zig.package,
      version: zig.version,
      integrity: zig.integrity,
      treeDigest: bi.toolchain.zig!.treeDigest,
    });
    t.match(bi.toolchain.zig!.treeDigest, /^[0-9a-f]{64}$/);
    t.equal(bi.toolchain.zigTarget, getTarget(target).zigTarget);
    t.equal(bi.buildRoot, null, 'beside the build root, not in it');
  }
  // a cache of its own: zig downloaded and unpacked elsewhere, nothing of the shared cache reused
  const cache = await isolatedCache();
  const out = await tmp();
  const r = await runScript('build-target.ts', ['--target', 'darwin-arm64', '--dist', out, '--no-cache'], {
    env: { XSNAP_CACHE_DIR: cache },
  });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /downloading https:\/\/registry\.npmjs\.org\/@ryoppippi\/zig-linux-x64/);
  for (const goal of ['release', 'debug'])
    t.ok(bytes(out, 'darwin-arm64', goal).equals(bytes(dist, 'darwin-arm64', goal)), `darwin-arm64 ${goal} identical`);
});

t.test('usage errors exit 2 with a clear message and write nothing', async (t) => {
  const dist = await tmp();
  const cases: Array<[string[], RegExp]> = [
    [[], /--target is required/],
    [
      ['--target', 'linux-ia64'],
      /unknown target "linux-ia64"\. Supported targets: linux-x64, linux-arm64, darwin-x64, darwin-arm64/,
    ],
    [['--target', 'win32-x64'], /Windows is not supported/],
    [
      ['--target', 'darwin-arm64', '--toolchain', 'host'],
      /darwin-arm64 cannot be built with the host toolchain on linux: it needs a macOS host/,
    ],
    [['--target', 'linux-x64', '--goal', 'fast'], /--goal must be release, debug or both/],
    [['--target', 'linux-x64', '--toolchain', 'zig'], /--toolchain for linux-x64 must be pinned or host/],
    [['--target', 'linux-x64', '--jobs', 'many'], /--jobs must be a positive whole number/],
    [['--target', 'linux-x64', '--frobnicate'], /unknown argument --frobnicate/],
  ];
  for (const [args, message] of cases) {
    const r = await runScript('build-target.ts', [...args, '--dist', dist]);
    t.equal(r.code, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, message);
  }
  const badVersion = join(dist, 'bad-version.json');
  await writeFile(badVersion, JSON.stringify({ version: 'v0.15', source: pin.source }));
  const r = await runScript('build-target.ts', ['--target', 'linux-x64', '--pin', badVersion, '--dist', dist]);
  t.equal(r.code, 2);
  t.match(r.stderr, /version "v0\.15" is not an exact npm version/);
  assertNothingWritten(t, dist, 'linux-x64');
});

t.test('sources are checked before anything is unpacked or built', async (t) => {
  const src = await realXsnapTarball(pin.version);
  const server = await startFileServer();
  t.teardown(() => server.close());
  const work = await tmp();
  const pinFile = join(work, 'pin.json');

  t.test('npm: the registry names other bytes than the pin', async (t) => {
    const cache = await isolatedCache();
    const dist = await tmp();
    const other = sriSha512(Buffer.from('other bytes'));
    serveNpmPackage(server, src, { integrity: other });
    await writeFile(
      pinFile,
      JSON.stringify({
        version: pin.version,
        source: { kind: 'npm', package: '@agoric/xsnap', integrity: src.integrity },
      }),
    );
    const r = await runScript('build-target.ts', ['--target', 'linux-x64', '--pin', pinFile, '--dist', dist], {
      env: { XSNAP_CACHE_DIR: cache, XSNAP_SOURCE_REGISTRY: server.url },
    });
    t.equal(r.code, 1);
    t.match(r.stderr, /dist\.integrity/);
    t.match(r.stderr, `expected: ${src.integrity}`);
    t.match(r.stderr, `actual:   ${other}`);
    assertNothingWritten(t, dist, 'linux-x64');
    t.same(
      readdirSync(join(cache)).filter((f) => f !== 'buildroots'),
      [],
      'no sources or builds cached',
    );
  });

  t.test('npm: the download does not match the pinned integrity', async (t) => {
    const cache = await isolatedCache();
    const dist = await tmp();
    const tampered = Buffer.from(src.tarball);
    tampered[tampered.length - 100] ^= 0xff;
    serveNpmPackage(server, src, { tarball: tampered });
    await writeFile(
      pinFile,
      JSON.stringify({
        version: pin.version,
        source: { kind: 'npm', package: '@agoric/xsnap', integrity: src.integrity },
      }),
    );
    const r = await runScript('build-target.ts', ['--target', 'linux-x64', '--pin', pinFile, '--dist', dist], {
      env: { XSNAP_CACHE_DIR: cache, XSNAP_SOURCE_REGISTRY: server.url },
    });
    t.equal(r.code, 1);
    t.match(r.stderr, /does not match the pinned integrity; nothing was unpacked/);
    assertNothingWritten(t, dist, 'linux-x64');
    const sources = join(cache, 'sources');
    t.same(existsSync(sources) ? readdirSync(sources) : [], [], 'no partial source tree left');
  });

  t.test('agoric-sdk: archives from a mirror, one with the wrong sha256, then all right', async (t) => {
    const cache = await isolatedCache();
    const sdk = await agoricSdkArchives(src);
    for (const [path, body] of Object.entries(sdk.archives)) server.routes.set(path, body);
    const env = { XSNAP_CACHE_DIR: cache, XSNAP_ARCHIVE_BASE_URL: server.url };

    const badPin = structuredClone(sdk.pinSource) as { moddable: { sha256: string } };
    const wrong = 'f'.repeat(64);
    badPin.moddable.sha256 = wrong;
    await writeFile(pinFile, JSON.stringify({ version: pin.version, source: badPin }));
    const dist = await tmp();
    const bad = await runScript(
      'build-target.ts',
      ['--target', 'linux-x64', '--goal', 'release', '--pin', pinFile, '--dist', dist],
      { env },
    );
    t.equal(bad.code, 1);
    t.match(bad.stderr, /moddable archive http:\/\/127\.0\.0\.1:\d+\/agoric-labs\/moddable\/archive\//);
    t.match(bad.stderr, `expected: sha256 ${wrong}`);
    assertNothingWritten(t, dist, 'linux-x64');

    await writeFile(pinFile, JSON.stringify({ version: pin.version, source: sdk.pinSource }));
    const good = await runScript(
      'build-target.ts',
      ['--target', 'linux-x64', '--goal', 'release', '--pin', pinFile, '--dist', dist, '--json'],
      { env },
    );
    t.equal(good.code, 0, good.stderr);
    const bi = JSON.parse(good.stdout).buildInfo as BuildInfo;
    t.equal(bi.source.kind, 'agoric-sdk');
    t.equal(bi.source.moddableCommit, src.moddableCommit);
    t.equal(bi.releasable, false, 'a single goal is not releasable');
    // the same C sources by another route give the same binary
    t.ok(
      bytes(dist, 'linux-x64', 'release').equals(bytes(sharedDist(), 'linux-x64', 'release')),
      'agoric-sdk-sourced release binary equals the npm-sourced one',
    );
  });
});
