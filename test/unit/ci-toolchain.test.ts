// ci-artifact.ts --compare-toolchain: the macOS check legs compare the shipped
// (zig-built) binary's determinism record with an Apple clang build of the same
// sources. Here with planted records: the real corpus's families, made-up digests.
import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestedFamilies, loadCorpus, type DeterminismRecord } from '../../scripts/lib/behaviour/determinism.ts';
import { manifestPath } from '../../scripts/lib/core/layout.ts';
import { readPin } from '../../scripts/lib/core/pin.ts';
import { DEFAULT_PIN } from '../../scripts/lib/core/paths.ts';
import { runScript } from '../helpers/run.ts';

const version = readPin(DEFAULT_PIN).version;
const TARGET = 'darwin-arm64';

function record(): DeterminismRecord {
  const corpus = loadCorpus();
  const families = Object.fromEntries(
    digestedFamilies(corpus).map((f, i) => [
      f.name,
      { source: f.source, count: 20_000, sha256: `${i.toString(16).padStart(2, '0')}`.repeat(32), compute: 1000 + i },
    ]),
  );
  return { corpusDigest: corpus.digest, seed: 0x5eed, perFamily: 20_000, families, timeZoneDependent: false };
}

/** A dist with the leg's manifest (the shipped build's record) and its build-info. */
async function legDist(dir: string, profile: 'system' | 'portable', rec: DeterminismRecord) {
  const dist = join(dir, 'dist');
  await mkdir(join(dist, 'release'), { recursive: true });
  await mkdir(join(dist, TARGET), { recursive: true });
  const manifest = { version, targets: { [TARGET]: { math: { profile }, determinism: rec } } };
  await writeFile(manifestPath(dist, version), JSON.stringify(manifest));
  await writeFile(join(dist, TARGET, 'build-info.json'), JSON.stringify({ toolchain: { kind: 'zig' } }));
  return dist;
}

const compare = (dist: string, against: string) =>
  runScript('ci-artifact.ts', ['--compare-toolchain', TARGET, '--against', against, '--dist', dist]);

t.test('equal records pass; one XS family differing fails naming it', async (t) => {
  const dir = t.testdir();
  const dist = await legDist(dir, 'system', record());
  const same = join(dir, 'apple-same.json');
  await writeFile(same, JSON.stringify(record()));
  const ok = await compare(dist, same);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /darwin-arm64: (\d+) of \1 determinism families give the same digests and compute meters/);

  const xs = digestedFamilies(loadCorpus()).find((f) => f.source === 'xs')!.name;
  const meter = record();
  meter.families[xs].compute += 1; // same results, another cost: consensus-visible
  await writeFile(join(dir, 'apple-meter.json'), JSON.stringify(meter));
  const m = await compare(dist, join(dir, 'apple-meter.json'));
  t.equal(m.code, 1);
  t.match(m.stderr, new RegExp(`determinism-across-toolchains[\\s\\S]*family ${xs} \\(xs\\)`));
  t.match(m.stderr, /compute 1\d{3}/);

  const digest = record();
  digest.families[xs].sha256 = 'ff'.repeat(32);
  await writeFile(join(dir, 'apple-digest.json'), JSON.stringify(digest));
  const d = await compare(dist, join(dir, 'apple-digest.json'));
  t.equal(d.code, 1);
  t.match(d.stderr, new RegExp(`family ${xs} \\(xs\\)[\\s\\S]*sha256 f{64}`));
});

t.test('libm families: reported under system, failed under portable', async (t) => {
  const libm = digestedFamilies(loadCorpus()).find((f) => f.source === 'libm')!.name;
  const other = record();
  other.families[libm].sha256 = 'ee'.repeat(32);
  for (const [profile, code] of [
    ['system', 0],
    ['portable', 1],
  ] as const) {
    const dir = join(t.testdir(), profile);
    await mkdir(dir, { recursive: true });
    const dist = await legDist(dir, profile, record());
    await writeFile(join(dir, 'apple.json'), JSON.stringify(other));
    const r = await compare(dist, join(dir, 'apple.json'));
    t.equal(r.code, code, `${profile}: exit ${code}`);
    if (profile === 'system') t.match(r.stderr, new RegExp(`host-dependent \\(system libm\\): ${libm}`));
    else t.match(r.stderr, new RegExp(`family ${libm} \\(libm\\)`));
  }
});

t.test('usage: --against is required; a record file without the target is refused', async (t) => {
  const dir = t.testdir();
  const dist = await legDist(dir, 'system', record());
  const r = await runScript('ci-artifact.ts', ['--compare-toolchain', TARGET, '--dist', dist]);
  t.equal(r.code, 2);
  t.match(r.stderr, /--compare-toolchain needs --against/);
  await writeFile(join(dir, 'empty.json'), JSON.stringify({ version, targets: {} }));
  const e = await compare(dist, join(dir, 'empty.json'));
  t.equal(e.code, 1);
  t.match(e.stderr, /empty\.json[\s\S]*no targets\.darwin-arm64/);
});
