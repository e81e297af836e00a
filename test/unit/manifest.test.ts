// Manifest pieces that need no build: SHA256SUMS format, the schema, reading, toolchain filtering.
import t from 'tap';
import { readZigPin } from '../../scripts/lib/build/zig.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseManifest,
  readManifest,
  schemaFailures,
  renderManifest,
  unmeasuredReason,
  unmeasuredTargets,
  type Manifest,
} from '../../scripts/lib/core/manifest.ts';
import { getTarget } from '../../scripts/lib/core/targets.ts';
import { parseSums, renderSums } from '../../scripts/lib/core/hash.ts';
import { deterministicToolchain } from '../../scripts/lib/release/release-dir.ts';
import type { ToolchainInfo } from '../../scripts/lib/build/build.ts';

const hex = (c: string) => c.repeat(64);

function sample(): Manifest {
  const bin = (goal: string, c: string) => ({ path: `bin/${goal}/xsnap-worker`, sha256: hex(c), size: 10 });
  return {
    schemaVersion: 1,
    version: '1.2.3',
    source: {
      kind: 'npm',
      version: '1.2.3',
      moddableCommit: 'a'.repeat(40),
      xsnapNativeCommit: 'b'.repeat(40),
      integrity: { '@agoric/xsnap@1.2.3': 'sha512-x' },
      treeDigest: hex('c'),
    },
    targets: {
      'linux-x64': {
        package: '@agoric/xsnap-linux-x64',
        os: 'linux',
        cpu: 'x64',
        libc: 'glibc',
        release: bin('release', 'd'),
        debug: bin('debug', 'e'),
        tarball: { name: 'agoric-xsnap-linux-x64-1.2.3.tgz', integrity: 'sha512-' + 'A'.repeat(86) + '==', size: 99 },
        toolchain: { kind: 'pinned', compiler: 'gcc' },
        fingerprint: {
          corpusDigest: 'c1',
          digest: 'd1',
          workloads: { w: { resultSha256: 'r', meter: { 'run.compute': 5 }, snapshotSha256: 's' } },
        },
        math: { profile: 'system' },
        determinism: {
          corpusDigest: hex('f'),
          seed: 1,
          perFamily: 10,
          timeZoneDependent: false,
          families: { 'Math.sin': { source: 'libm', count: 10, sha256: hex('a'), compute: 7 } },
        },
      },
    },
  };
}

t.test('SHA256SUMS round trip, sorted, sha256sum format', async (t) => {
  const text = renderSums({ 'b.tgz': hex('1'), 'a.json': hex('2') });
  t.equal(text, `${hex('2')}  a.json\n${hex('1')}  b.tgz\n`);
  t.same(parseSums(text), { entries: { 'a.json': hex('2'), 'b.tgz': hex('1') }, bad: [] });
  t.same(parseSums(`${hex('2')}  a\n${hex('3')}  a\nnonsense\n`).bad, [`${hex('3')}  a`, 'nonsense']);
});

t.test('the schema accepts a complete manifest and names what is wrong', async (t) => {
  t.same(await schemaFailures(sample(), 'm.json'), []);
  const noTarball = sample() as any;
  delete noTarball.targets['linux-x64'].tarball;
  t.match((await schemaFailures(noTarball, 'm.json'))[0], {
    check: 'manifest-schema',
    subject: /m\.json at \/targets\/linux-x64/,
    actual: /tarball/,
  });
  const win = sample() as any;
  win.targets['win32-x64'] = win.targets['linux-x64'];
  t.ok((await schemaFailures(win, 'm.json')).length > 0, 'no win32 target');
  const timestamped = sample() as any;
  timestamped.generatedAt = '2024-01-01';
  t.ok((await schemaFailures(timestamped, 'm.json')).length > 0, 'no extra top-level fields such as timestamps');
});

t.test('a darwin entry records the pinned zig; the schema holds it and refuses a bad integrity', async (t) => {
  const zig = readZigPin();
  const tc = {
    kind: 'zig',
    compiler: 'zig 0.11.0 (clang version 16.0.6)',
    zig: { package: zig.package, version: zig.version, integrity: zig.integrity, treeDigest: hex('9') },
    zigTarget: 'aarch64-macos.11.0-none',
    macosMin: '11.0',
  } as unknown as ToolchainInfo;
  const m = sample() as any;
  const entry = structuredClone(m.targets['linux-x64']);
  delete entry.libc;
  m.targets['darwin-arm64'] = {
    ...entry,
    package: '@agoric/xsnap-darwin-arm64',
    os: 'darwin',
    cpu: 'arm64',
    tarball: { ...entry.tarball, name: 'agoric-xsnap-darwin-arm64-1.2.3.tgz' },
    toolchain: deterministicToolchain(tc),
  };
  t.same(m.targets['darwin-arm64'].toolchain, tc, 'every zig fact is deterministic and kept');
  t.same(await schemaFailures(m, 'm.json'), []);
  m.targets['darwin-arm64'].toolchain.zig.integrity = 'sha1-x';
  t.match(await schemaFailures(m, 'm.json'), [{ subject: /darwin-arm64\/toolchain\/zig\/integrity/ }]);
});

t.test('only deterministic toolchain facts, canonical bytes', async (t) => {
  const tc = {
    kind: 'pinned',
    compiler: 'gcc',
    buildRootId: 'x',
    packages: { make: '4.3' },
    path: '/root/.cache/x',
    hostname: 'vm',
  } as unknown as ToolchainInfo;
  t.same(deterministicToolchain(tc), { kind: 'pinned', compiler: 'gcc', buildRootId: 'x', packages: { make: '4.3' } });
  const a = renderManifest(sample());
  const reordered = JSON.parse(a);
  t.equal(
    renderManifest({
      targets: reordered.targets,
      version: reordered.version,
      source: reordered.source,
      schemaVersion: 1,
    }),
    a,
  );
  t.ok(a.endsWith('}\n'));
});

t.test('readManifest: typed data when the schema holds, else what is wrong', async (t) => {
  const dir = t.testdir();
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const good = readManifest(file('good.json', renderManifest(sample())));
  t.same(good.failures, []);
  t.same(good.manifest, sample(), 'the manifest, typed');
  t.equal(good.text, renderManifest(sample()), 'and its text, for byte checks');

  const bad = sample() as any;
  delete bad.targets['linux-x64'].fingerprint;
  const unschemed = readManifest(file('bad.json', JSON.stringify(bad)), { label: 'dist/release/m.json' });
  t.equal(unschemed.manifest, undefined, 'not a manifest');
  const at = /^dist\/release\/m\.json at \/targets\/linux-x64/;
  t.match(unschemed.failures[0], { check: 'manifest-schema', subject: at });
  t.equal(unschemed.unchecked?.targets?.['linux-x64']?.release?.sha256, hex('d'), 'its JSON, for checkers that go on');
  t.equal(unschemed.error, undefined);

  const notJson = readManifest(file('not.json', '{'));
  t.match(notJson, { error: /JSON/, unchecked: undefined, manifest: undefined, failures: [] });
  t.match(readManifest(join(dir, 'missing.json')), { error: /ENOENT/, text: undefined, failures: [] });
  t.same(parseManifest(renderManifest(sample()), 'x').manifest, sample(), 'the same from text');
});

t.test(
  'a rehearsal target is unmeasured: no fingerprint, no determinism, and the schema holds nothing in between',
  async (t) => {
    const m = sample();
    const e = m.targets['linux-x64']!;
    delete e.fingerprint;
    delete e.determinism;
    e.unmeasured = unmeasuredReason(getTarget('darwin-arm64'));
    t.same(schemaFailures(m, 'm.json'), [], 'unmeasured, with neither record: valid');
    t.same(unmeasuredTargets(m), ['linux-x64']);
    t.match(e.unmeasured, /darwin-arm64 binaries run only on macOS/);

    const both = sample();
    both.targets['linux-x64']!.unmeasured = 'not run';
    t.ok(schemaFailures(both, 'm.json').length, 'unmeasured beside measured records: refused');
    t.same(unmeasuredTargets(both), ['linux-x64']);

    const neither = sample();
    delete neither.targets['linux-x64']!.determinism;
    const failures = schemaFailures(neither, 'm.json');
    t.ok(
      failures.some((f) => /determinism/.test(String(f.actual))),
      'a missing determinism record without "unmeasured": refused, naming it',
    );
    t.same(unmeasuredTargets(sample()), [], 'a measured manifest has none');
  },
);
