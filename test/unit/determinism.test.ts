// The determinism corpus without a worker: the generator is a pure function of
// the seed (integer PRNG, doubles from raw bits), the release size reaches one
// million results, and the comparison fails, reports or names exactly what it should.
import t from 'tap';
import { runInNewContext } from 'node:vm';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DETERMINISM_CORPUS,
  diffDeterminism,
  differencesToFailures,
  digestedFamilies,
  loadCorpus,
  perFamilyFromEnv,
  readKnownDivergences,
  SIZES,
  type DeterminismRecord,
} from '../../scripts/lib/behaviour/determinism.ts';
import { FUSED_MNEMONICS } from '../../scripts/lib/build/binary-checks.ts';
import { parsePin } from '../../scripts/lib/core/pin.ts';
import type { TargetName } from '../../scripts/lib/core/targets.ts';

const corpus = loadCorpus();

t.test('the same seed gives the same inputs, in a fresh engine context, every time', async (t) => {
  // a second, independent evaluation of the corpus file: no state shared with loadCorpus()
  const box: { determinism?: { inputs(n: string, s: number, c: number): string[] } } = {};
  runInNewContext(readFileSync(DETERMINISM_CORPUS, 'utf8'), box);
  for (const f of corpus.families) {
    const a = corpus.inputs(f.name, 7, 50);
    t.same(box.determinism!.inputs(f.name, 7, 50), a, `${f.name}: same inputs from a second context`);
    t.same(corpus.inputs(f.name, 7, 50), a, `${f.name}: same inputs again`);
    t.notSame(corpus.inputs(f.name, 8, 50), a, `${f.name}: another seed gives other inputs`);
    t.equal(new Set(a).size > (f.name === 'nan-bits' ? 5 : 40), true, `${f.name}: inputs vary`);
  }
});

t.test(
  'encoded inputs decode to the same results in this engine; bytes that do not match their header are refused',
  async (t) => {
    const box: {
      TextEncoder: typeof TextEncoder;
      determinism?: {
        run(n: string, s: number, c: number): ArrayBuffer;
        encodeInputs(n: string, s: number, c: number): ArrayBuffer;
        runInputs(n: string, b: ArrayBuffer): ArrayBuffer;
      };
    } = { TextEncoder };
    runInNewContext(readFileSync(DETERMINISM_CORPUS, 'utf8'), box);
    const d = box.determinism!;
    for (const name of ['Math.sin', 'Date setters', 'toFixed', 'parseInt']) {
      const encoded = d.encodeInputs(name, 7, 200);
      t.ok(Buffer.from(d.runInputs(name, encoded)).equals(Buffer.from(d.run(name, 7, 200))), `${name}: the same bytes`);
      t.ok(corpus.encodeInputs!(name, 7, 200).equals(Buffer.from(encoded)), `${name}: loadCorpus encodes the same`);
    }
    // planted: the header claims one string byte fewer than the inputs use
    const bad = d.encodeInputs('parseInt', 7, 20);
    new DataView(bad).setUint32(12, new DataView(bad).getUint32(12, true) - 1, true);
    t.throws(() => d.runInputs('parseInt', bad), /parseInt: the inputs do not match their header/);
  },
);

t.test('inputs are made from bits, not from arithmetic: known values for seed 1', async (t) => {
  // These literals were produced by the generator; any change to the PRNG or to how a
  // family draws its inputs changes them (and must change the corpus digest, which it does).
  const sin = corpus.inputs('Math.sin', 1, 3);
  t.equal(sin.length, 3);
  for (const s of sin)
    t.match(
      s,
      /^Math\.sin\((-?[\d.e+-]+|NaN|-?Infinity|-0) \/\* 0x[0-9a-f]{16} \*\/\)$|^Math\.sin\((NaN|-0)\)$/,
      'shows the value and its IEEE bits',
    );
  const parse = corpus.inputs('parseInt', 1, 20);
  for (const p of parse) {
    const m = /^parseInt\("([ +-]?)([0-9a-zA-Z]+)", (\d+)\)$/.exec(p);
    t.ok(m, `parseInt input ${p}`);
    const radix = Number(m![3]);
    t.ok(radix >= 2 && radix <= 36 && m![2].length >= 16 && m![2].length <= 35, 'radix 2..36, 16..35 digits');
    t.ok(
      [...m![2].toLowerCase()].every((c) => parseInt(c, 36) < radix),
      'digits of the radix',
    );
  }
  // the first inputs of seed 1, as the generator made them when the corpus was written:
  // a change to the PRNG or to how a family draws its inputs shows here (and changes the corpus digest)
  t.same(corpus.inputs('Math.sin', 1, 2), [
    'Math.sin(-1.4122475678097053e-8 /* 0xbe4e53e9c19c85a5 */)',
    'Math.sin(2.2180536270750735e-308 /* 0x000ff313af3f8841 */)',
  ]);
  t.same(corpus.inputs('parseInt', 1, 2), [
    'parseInt("+qfnb1od0gs1osqqgj", 29)',
    'parseInt("+22f390c1e619ec98c65c586df6b7", 16)',
  ]);
  t.same(corpus.inputs('Date.parse', 1, 1), ['Date.parse("6745-12-16T07:30:34.423Z")']);
});

t.test('the families the issue lists are there, with their sources', async (t) => {
  const names = corpus.families.map((f) => f.name);
  const math = [
    'sin',
    'cos',
    'tan',
    'asin',
    'acos',
    'atan',
    'sinh',
    'cosh',
    'tanh',
    'asinh',
    'acosh',
    'atanh',
    'exp',
    'expm1',
    'log',
    'log1p',
    'log2',
    'log10',
    'cbrt',
    'sqrt',
    'abs',
    'floor',
    'ceil',
    'trunc',
    'round',
    'sign',
    'fround',
  ];
  for (const f of math) t.ok(names.includes(`Math.${f}`), `Math.${f}`);
  for (const f of [
    'Math.atan2',
    'Math.hypot(a,b)',
    'Math.hypot(a,b,c)',
    'Math.pow',
    '**',
    '%',
    'parseInt',
    'parseFloat',
    'Number(string)',
    'toString(radix)',
    'toFixed',
    'toPrecision',
    'toExponential',
    'Date.UTC',
    'Date setters',
    'Date.parse',
    'BigInt to Number',
    'Number to BigInt',
    'JSON.parse',
    'JSON.stringify',
    'nan-bits',
    'Date local time',
  ])
    t.ok(names.includes(f), f);
  const source = (n: string) => corpus.families.find((f) => f.name === n)!.source;
  t.equal(source('Math.cbrt'), 'libm');
  t.equal(source('Math.hypot(a,b)'), 'libm', 'XS calls c_hypot for two arguments');
  t.equal(source('Math.hypot(a,b,c)'), 'xs', 'and sums squares itself for three');
  t.equal(source('parseInt'), 'xs');
  t.equal(source('Math.sqrt'), 'xs', 'sqrt is exact in IEEE 754');
  t.equal(source('nan-bits'), 'hardware');
  t.same(
    corpus.families.filter((f) => f.local).map((f) => f.name),
    ['Date local time'],
  );
});

t.test('a release run is at least 1,000,000 results per binary; the size comes from the environment', async (t) => {
  t.ok(
    digestedFamilies(corpus).length * SIZES.release >= 1_000_000,
    `${digestedFamilies(corpus).length} families x ${SIZES.release}`,
  );
  t.equal(perFamilyFromEnv({}), SIZES.release);
  t.equal(perFamilyFromEnv({ XSNAP_DETERMINISM_SIZE: 'quick' }), SIZES.quick);
  t.equal(perFamilyFromEnv({ XSNAP_DETERMINISM_SIZE: '123' }), 123);
  t.throws(() => perFamilyFromEnv({ XSNAP_DETERMINISM_SIZE: 'huge' }), /quick, release or a positive integer/);
});

const record = (families: Record<string, [string, number?]>): DeterminismRecord => ({
  corpusDigest: 'c'.repeat(64),
  seed: 1,
  perFamily: 4,
  timeZoneDependent: false,
  families: Object.fromEntries(
    Object.entries(families).map(([name, [sha, compute]]) => [
      name,
      {
        source: corpus.families.find((f) => f.name === name)!.source,
        count: 4,
        sha256: sha.repeat(64).slice(0, 64),
        compute: compute ?? 10,
      },
    ]),
  ),
});

t.test('which differences fail: XS families always, libm under portable, never the known divergence', async (t) => {
  const a = record({ parseInt: ['a'], 'Math.cbrt': ['b'], 'nan-bits': ['c'] });
  const b = record({ parseInt: ['1'], 'Math.cbrt': ['2'], 'nan-bits': ['3'] });
  const verdicts = (profile: 'system' | 'portable', known = readKnownDivergences()) =>
    Object.fromEntries(
      diffDeterminism(
        { label: 'x', target: 'linux-x64', record: a },
        { label: 'y', target: 'linux-arm64', record: b },
        profile,
        known,
      ).map((d) => [d.family, d.verdict]),
    );
  t.same(verdicts('system'), { parseInt: 'fail', 'Math.cbrt': 'host-dependent', 'nan-bits': 'known' });
  t.same(verdicts('portable'), { parseInt: 'fail', 'Math.cbrt': 'fail', 'nan-bits': 'known' });
  t.same(
    verdicts('portable', []),
    { parseInt: 'fail', 'Math.cbrt': 'fail', 'nan-bits': 'fail' },
    'without its entry in known-divergences.json, nan-bits fails',
  );
  t.same(
    diffDeterminism(
      { label: 'x', target: 'linux-x64', record: a },
      { label: 'y', target: 'linux-arm64', record: a },
      'portable',
    ),
    [],
    'identical records: nothing',
  );
  const meter = diffDeterminism(
    { label: 'x', target: 'linux-x64', record: a },
    {
      label: 'y',
      target: 'linux-arm64',
      record: record({ parseInt: ['a', 11], 'Math.cbrt': ['b'], 'nan-bits': ['c'] }),
    },
    'system',
  );
  t.same(
    meter.map((d) => [d.family, d.verdict]),
    [['parseInt', 'fail']],
    'the same bits with another compute meter is a difference too',
  );
  const other = { ...b, seed: 2 };
  t.equal(
    diffDeterminism(
      { label: 'x', target: 'linux-x64', record: a },
      { label: 'y', target: 'linux-arm64', record: other },
      'system',
    )[0].family,
    '(corpus)',
    'different seeds cannot be compared',
  );
});

// A known divergence names the pairs it explains: nan-bits is x86-64 against arm64, and nothing else.
// The compute meter is consensus state: never exempt, whatever the bits do.
const nanA = record({ 'nan-bits': ['c'], 'Math.cbrt': ['b'] });
const nanB = record({ 'nan-bits': ['3'], 'Math.cbrt': ['2'] });
const verdictsOf = (
  a: { target: TargetName; record: DeterminismRecord },
  b: { target: TargetName; record: DeterminismRecord },
  profile: 'system' | 'portable' = 'system',
) =>
  Object.fromEntries(
    diffDeterminism({ label: a.target, ...a }, { label: b.target, ...b }, profile).map((d) => [d.family, d.verdict]),
  );

t.test('the x64/arm64 nan-bits difference is still reported, not failed', async (t) => {
  t.same(verdictsOf({ target: 'linux-x64', record: nanA }, { target: 'linux-arm64', record: nanB }), {
    'nan-bits': 'known',
    'Math.cbrt': 'host-dependent',
  });
  t.same(verdictsOf({ target: 'darwin-arm64', record: nanA }, { target: 'linux-x64', record: nanB }, 'portable'), {
    'nan-bits': 'known',
    'Math.cbrt': 'fail',
  });
  const { failures, reports } = differencesToFailures(
    diffDeterminism(
      { label: 'linux-x64', target: 'linux-x64', record: record({ 'nan-bits': ['c'] }) },
      { label: 'linux-arm64', target: 'linux-arm64', record: record({ 'nan-bits': ['3'] }) },
      'system',
    ),
    'linux-x64',
    'linux-arm64',
    'determinism-across-targets',
  );
  t.same(failures, []);
  t.match(reports, [/^known divergence: nan-bits: linux-arm64 vs linux-x64: digests differ$/]);
});

t.test('a nan-bits difference between two targets of one architecture fails', async (t) => {
  t.same(verdictsOf({ target: 'linux-x64', record: nanA }, { target: 'darwin-x64', record: nanB }), {
    'nan-bits': 'fail',
    'Math.cbrt': 'host-dependent',
  });
  t.same(
    verdictsOf({ target: 'linux-arm64', record: nanA }, { target: 'darwin-arm64', record: nanB })['nan-bits'],
    'fail',
  );
});

t.test('a nan-bits difference between one binary and itself, or its own manifest, fails', async (t) => {
  for (const target of ['linux-x64', 'linux-arm64', 'darwin-arm64'] as const)
    t.same(
      verdictsOf({ target, record: nanA }, { target, record: nanB })['nan-bits'],
      'fail',
      `${target} (manifest) vs ${target} (here): not exempt`,
    );
});

t.test('the compute meter is never exempt: not for a known divergence, not for host-dependent libm', async (t) => {
  const meter = (compute: number) => record({ 'nan-bits': ['3', compute], 'Math.cbrt': ['2', compute] });
  t.same(
    verdictsOf({ target: 'linux-x64', record: nanA }, { target: 'linux-arm64', record: meter(11) }),
    { 'nan-bits': 'fail', 'Math.cbrt': 'fail' },
    'the x64/arm64 nan-bits bits difference with another meter fails; so does a libm family under system',
  );
  t.same(
    verdictsOf(
      { target: 'linux-x64', record: nanA },
      { target: 'linux-arm64', record: record({ 'nan-bits': ['c', 11], 'Math.cbrt': ['b', 11] }) },
    ),
    { 'nan-bits': 'fail', 'Math.cbrt': 'fail' },
    'the same nan-bits bits with another meter fails',
  );
  const { failures } = differencesToFailures(
    diffDeterminism(
      { label: 'linux-x64', target: 'linux-x64', record: nanA },
      { label: 'linux-arm64', target: 'linux-arm64', record: meter(11) },
      'system',
    ),
    'linux-x64',
    'linux-arm64',
    'determinism-across-targets',
  );
  t.match(
    failures.find((f) => f.subject.includes('nan-bits')),
    { expected: /compute 10 \(linux-x64\)$/, actual: /compute 11 \(linux-arm64\)/ },
    'the failure shows both meters',
  );
});

t.test(
  'known-divergences.json: an entry without its CPU pairs, or with a pair the target table lacks, is refused',
  async (t) => {
    t.same(readKnownDivergences(), [
      { family: 'nan-bits', between: [['x64', 'arm64']], why: readKnownDivergences()[0].why },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'known-div-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'known-divergences.json');
    for (const [entry, refused] of [
      [{ family: 'nan-bits', why: 'x' }, /divergences\[0\]\.between: expected a non-empty list .*, got undefined/],
      [{ family: 'nan-bits', between: [], why: 'x' }, /divergences\[0\]\.between: expected a non-empty list/],
      [
        { family: 'nan-bits', between: [['x64', 'x64']], why: 'x' },
        /pairs of two different CPUs .*, got \["x64","x64"\]/,
      ],
      [{ family: 'nan-bits', between: [['x64', 'riscv64']], why: 'x' }, /got \["x64","riscv64"\]/],
      [{ family: 'nan-bits', between: [['x64', 'arm64']] }, /divergences\[0\]\.why: expected the reason/],
    ] as const) {
      writeFileSync(file, JSON.stringify({ divergences: [entry] }));
      t.throws(() => readKnownDivergences(file), { message: refused }, JSON.stringify(entry));
      t.throws(
        () => readKnownDivergences(file),
        { message: new RegExp(file.replace(/[.]/g, '\\.')) },
        'names the file',
      );
    }
  },
);

t.test('a failure names the family, the first differing input and both outputs as IEEE bits', async (t) => {
  const n = 4;
  const inputs = corpus.inputs('parseInt', 1, n);
  const bits = (xs: number[]) =>
    Buffer.concat(
      xs.map((x) => {
        const b = Buffer.alloc(8);
        b.writeDoubleLE(x);
        return b;
      }),
    );
  const rawA = bits([1, 2, 3, 4]);
  const rawB = bits([1, 2, 3.0000000000000004, 4]);
  const a = {
    label: 'linux-x64',
    target: 'linux-x64' as const,
    record: record({ parseInt: ['a'] }),
    raw: new Map([['parseInt', rawA]]),
  };
  const b = {
    label: 'linux-arm64',
    target: 'linux-arm64' as const,
    record: record({ parseInt: ['b'] }),
    raw: new Map([['parseInt', rawB]]),
  };
  const diffs = diffDeterminism(a, b, 'system');
  t.equal(diffs[0].differing, 1);
  t.equal(diffs[0].first!.index, 2);
  t.equal(diffs[0].first!.input, inputs[2]);
  const { failures, reports } = differencesToFailures(diffs, 'linux-x64', 'linux-arm64', 'determinism-across-targets');
  t.same(reports, []);
  t.equal(failures.length, 1);
  t.match(failures[0].subject, `family parseInt (xs), first differing input #2: ${inputs[2]}`);
  t.equal(failures[0].expected, '0x4008000000000000 (3) (linux-x64)');
  t.match(failures[0].actual, /^0x4008000000000001 \(3\.0000000000000004\) \(linux-arm64\); 1 of 4 results differ$/);
});

t.test('fused multiply-add mnemonics, as objdump and otool print them', async (t) => {
  const arm = FUSED_MNEMONICS.arm64;
  for (const l of [
    '  4011c8:\tfmadd\td0, d1, d2, d3',
    '  10:\tfnmsub\td0, d1, d2, d3',
    ' 0000000100003f40\tfmsub\td0, d1, d2, d3',
    '  20:\tfmla\tv0.2d, v1.2d, v2.2d',
  ])
    t.ok(arm.test(l), l);
  for (const l of [
    '  84:\tfmul\td3, d4, d3',
    '  88:\tfadd\td0, d0, d1',
    '  8c:\tfmov\tx0, d0',
    '  90:\tbl\t400 <fmadd_helper>',
  ])
    t.notOk(arm.test(l), l);
  const x64 = FUSED_MNEMONICS.x64;
  for (const l of ['  1000:\tvfmadd231sd %xmm2,%xmm1,%xmm0', '  1005:\tvfnmsub132pd %ymm2,%ymm1,%ymm0'])
    t.ok(x64.test(l), l);
  for (const l of ['  1000:\tmulsd  %xmm1,%xmm0', '  1004:\taddsd  %xmm2,%xmm0']) t.notOk(x64.test(l), l);
});

t.test("the pin's math profile: system by default, portable allowed, anything else refused", async (t) => {
  const integrity = 'sha512-' + 'A'.repeat(86) + '==';
  const source = { kind: 'npm', package: '@agoric/xsnap', integrity };
  t.equal(parsePin({ version: '1.2.3', source }, 'p.json').math, 'system');
  t.equal(parsePin({ version: '1.2.3', math: 'portable', source }, 'p.json').math, 'portable');
  t.throws(() => parsePin({ version: '1.2.3', math: 'fast', source }, 'p.json'), /math must be "system" or "portable"/);
  const committed = JSON.parse(readFileSync(new URL('../../native/pin.json', import.meta.url), 'utf8'));
  t.equal(committed.math, 'system', '0.15.0, which validators already run, stays on the system libm');
});
