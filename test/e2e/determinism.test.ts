// The determinism corpus on the real binaries of both math profiles: linux-x64
// natively and at the glibc floor (the build root's glibc 2.31), linux-arm64
// under qemu. And the checks that guard it, each shown failing on a planted defect.
import t from 'tap';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { sharedDist } from '../helpers/shared-build.ts';
import { stagedCopy, stagedDist, LINUX } from '../helpers/staged.ts';
import { runScript } from '../helpers/run.ts';
import {
  diffDeterminism,
  differencesToFailures,
  loadCorpus,
  runDeterminism,
  type Measured,
} from '../../scripts/lib/behaviour/determinism.ts';
import {
  checkBinary,
  fusedInstructions,
  glibcFloorRunner,
  hostRunner,
  libmImports,
} from '../../scripts/lib/build/binary-checks.ts';
import { readElf } from '../../scripts/lib/build/elf.ts';
import { getTarget } from '../../scripts/lib/core/targets.ts';
import { binaryPath } from '../../scripts/lib/core/layout.ts';
import { readPin, pinPath } from '../../scripts/lib/core/pin.ts';
import { canonicalJson } from '../../scripts/lib/core/hash.ts';
import { XsnapWorker } from '../../scripts/lib/behaviour/worker-protocol.ts';
import type { Failure } from '../../scripts/lib/core/errors.ts';

const VERSION = readPin(pinPath()).version;
const x64 = getTarget('linux-x64');
const arm64 = getTarget('linux-arm64');
const corpus = loadCorpus();
const PER_FAMILY = 300;

async function measure(dist: string, target: 'linux-x64' | 'linux-arm64', floor = false): Promise<Measured> {
  const runner = floor ? await glibcFloorRunner() : await hostRunner(getTarget(target));
  if (!runner) throw new Error(`cannot run ${target}${floor ? ' at the glibc floor' : ''} here`);
  const r = await runDeterminism(binaryPath(dist, target, 'release'), runner, { perFamily: PER_FAMILY });
  return { label: `${target}${floor ? ' (glibc 2.31)' : ''}`, target, record: r.record, raw: r.raw };
}

const systemRuns = (async () => {
  const dist = sharedDist('system');
  return {
    x64: await measure(dist, 'linux-x64'),
    floor: await measure(dist, 'linux-x64', true),
    arm64: await measure(dist, 'linux-arm64'),
  };
})();
const portableRuns = (async () => {
  const dist = sharedDist('portable');
  return {
    x64: await measure(dist, 'linux-x64'),
    floor: await measure(dist, 'linux-x64', true),
    arm64: await measure(dist, 'linux-arm64'),
  };
})();

t.test('the worker generates the same inputs as Node, on x64 and on arm64', async (t) => {
  const dist = sharedDist('system');
  const expected = corpus.families.map((f) => corpus.inputs(f.name, 5, 20));
  for (const target of [x64, arm64]) {
    const worker = new XsnapWorker({
      binary: binaryPath(dist, target.name, 'release'),
      runner: (await hostRunner(target))!,
      meteringLimit: 0,
    });
    try {
      await worker.evaluate(corpus.source);
      const r = await worker.evaluate(
        'new TextEncoder().encode(JSON.stringify(determinism.families.map((f) => determinism.inputs(f.name, 5, 20)))).buffer',
      );
      // compared by their IEEE bits: XS prints some doubles with other digits than V8 (see docs/consensus.md)
      const bitsOnly = (v: string[][]) =>
        v.map((xs) => xs.map((x) => x.replace(/-?[\d.]+(e[+-]?\d+)? (?=\/\* 0x)/g, '')));
      t.same(
        bitsOnly(JSON.parse(r.reply.toString('utf8'))),
        bitsOnly(expected),
        `${target.name}: the worker's inputs equal Node's`,
      );
    } finally {
      await worker.close();
    }
  }
});

t.test(
  'inputs generated in Node give every family the results the worker gives from its own, on x64 and arm64; a planted decoding defect shows',
  async (t) => {
    const dist = sharedDist('system');
    const sums = (r: { record: { families: Record<string, { sha256: string }> } }) =>
      Object.fromEntries(Object.entries(r.record.families).map(([k, f]) => [k, f.sha256]));
    for (const target of [x64, arm64]) {
      const binary = binaryPath(dist, target.name, 'release');
      const runner = (await hostRunner(target))!;
      const inNode = await runDeterminism(binary, runner, { perFamily: PER_FAMILY });
      const inWorker = await runDeterminism(binary, runner, { perFamily: PER_FAMILY, inputsInWorker: true });
      t.equal(Object.keys(sums(inNode)).length, corpus.families.length - 1, `${target.name}: every digested family`);
      t.same(sums(inNode), sums(inWorker), `${target.name}: the same digest for every family`);
      t.same([...inNode.raw.keys()], [...inWorker.raw.keys()]);
      for (const [k, bytes] of inNode.raw)
        t.ok(bytes.equals(inWorker.raw.get(k)!), `${target.name}: ${k}: the same bytes`);
    }
    // planted: the worker decodes every number argument with its sign flipped
    const planted = join(t.testdir(), 'corpus.js');
    const source = corpus.source.replace('args.push(nums[n++])', 'args.push(-nums[n++])');
    t.not(source, corpus.source, 'the defect is planted');
    await writeFile(planted, source);
    const binary = binaryPath(dist, 'linux-x64', 'release');
    const runner = (await hostRunner(x64))!;
    // (on families whose arguments stay valid when negated: a negative radix would throw)
    const only = ['Math.sin', 'Math.pow', 'parseFloat', 'Date.parse'];
    const bad = await runDeterminism(binary, runner, { perFamily: PER_FAMILY, corpusFile: planted, only });
    const good = await runDeterminism(binary, runner, { perFamily: PER_FAMILY, only, inputsInWorker: true });
    const differing = only.filter((k) => bad.record.families[k].sha256 !== good.record.families[k].sha256);
    t.same(differing, ['Math.sin', 'Math.pow'], 'the number-input families differ, the string-input ones do not');
  },
);

t.test(
  'system profile: the families XS computes itself agree on x64 and arm64; libm families are reported',
  async (t) => {
    const runs = await systemRuns;
    for (const other of [runs.arm64, runs.floor]) {
      const diffs = diffDeterminism(runs.x64, other, 'system');
      t.same(
        diffs.filter((d) => d.verdict === 'fail').map((d) => d.family),
        [],
        `${other.label}: no gated difference`,
      );
      t.ok(
        diffs.every((d) => d.source !== 'xs'),
        `${other.label}: every XS family (parseInt, hypot of 3, number formatting, Date, ...) agrees`,
      );
    }
    const arm = diffDeterminism(runs.x64, runs.arm64, 'system');
    t.ok(
      arm.some((d) => d.verdict === 'host-dependent' && d.family === 'Math.cbrt'),
      'cbrt differs between the glibc libms of x64 and arm64: reported',
    );
    t.ok(
      arm.some((d) => d.verdict === 'known' && d.family === 'nan-bits'),
      'NaN bit patterns differ (x86 makes negative NaNs): the known divergence',
    );
    const { failures, reports } = differencesToFailures(
      arm,
      runs.x64.label,
      runs.arm64.label,
      'determinism-across-targets',
    );
    t.same(failures, []);
    t.match(
      reports.find((r) => r.includes('Math.cbrt')),
      new RegExp(
        'host-dependent \\(system libm\\): Math\\.cbrt: linux-arm64 vs linux-x64: \\d+ of 300 results differ; first at #\\d+: Math\\.cbrt\\(.+ \\/\\* 0x[0-9a-f]{16} \\*\\/\\) -> 0x[0-9a-f]{16} .* vs 0x[0-9a-f]{16}',
      ),
    );
  },
);

t.test('portable profile: every family agrees across x64 host glibc, x64 glibc 2.31 and arm64 (qemu)', async (t) => {
  const runs = await portableRuns;
  t.same(
    diffDeterminism(runs.x64, runs.floor, 'portable', []),
    [],
    'x64: host glibc and the glibc floor give identical bits, every family',
  );
  const arm = diffDeterminism(runs.x64, runs.arm64, 'portable', []);
  t.same(
    arm.map((d) => d.family),
    ['nan-bits'],
    'x64 and arm64: identical bits in every family but the NaN patterns',
  );
  t.same(
    diffDeterminism(runs.x64, runs.arm64, 'portable').map((d) => d.verdict),
    ['known'],
  );
  for (const target of [x64, arm64]) {
    const elf = readElf(await readFile(binaryPath(sharedDist('portable'), target.name, 'release')));
    t.same(libmImports(elf), [], `${target.name} portable: imports no libm function`);
    t.ok(
      libmImports(readElf(await readFile(binaryPath(sharedDist('system'), target.name, 'release')))).includes('cbrt'),
      `${target.name} system: imports cbrt from libm (the check can see imports)`,
    );
  }
});

t.test('no fused multiply-add in any arm64 binary; a planted one is found and fails the check', async (t) => {
  for (const math of ['system', 'portable'] as const) {
    for (const goal of ['release', 'debug'] as const) {
      const file = binaryPath(sharedDist(math), 'linux-arm64', goal);
      const r = await fusedInstructions(file, await readFile(file), arm64);
      t.same(r, { count: 0, first: [] }, `${math} ${goal}: none`);
    }
  }
  // plant `fmadd d0, d1, d2, d3` (0x1f420c20) as the first instruction of .text
  const src = binaryPath(sharedDist('portable'), 'linux-arm64', 'release');
  const buf = Buffer.from(await readFile(src));
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shstr = shoff + buf.readUInt16LE(0x3e) * 64;
  const names = Number(buf.readBigUInt64LE(shstr + 24));
  let text = -1;
  for (let i = 0; i < buf.readUInt16LE(0x3c); i++) {
    const o = shoff + i * 64;
    const name = buf.toString('latin1', names + buf.readUInt32LE(o), buf.indexOf(0, names + buf.readUInt32LE(o)));
    if (name === '.text') text = Number(buf.readBigUInt64LE(o + 24));
  }
  t.ok(text > 0, 'found .text');
  buf.writeUInt32LE(0x1f420c20, text);
  const planted = join(t.testdir(), 'xsnap-worker');
  await writeFile(planted, buf);
  await chmod(planted, 0o755);
  const r = await checkBinary(planted, arm64, 'planted', { version: VERSION, runner: null, math: 'portable' });
  t.match(r.failures, [{ check: 'fused-multiply-add', actual: /^1 \(.*fmadd\s+d0, d1, d2, d3/ }]);
});

t.test(
  'without a build root (CI verify runners), linux-arm64 binaries are still disassembled for the fused multiply-add check (setup.sh --arm64-runtime installs the aarch64 objdump)',
  async (t) => {
    const bin = binaryPath(sharedDist('system'), 'linux-arm64', 'release');
    const lib = (f: string) => JSON.stringify(new URL(`../../scripts/lib/${f}`, import.meta.url).pathname);
    const code = `const { disassemblerFor, fusedInstructions } = await import(${lib('build/binary-checks.ts')});\nconst { getTarget } = await import(${lib('core/targets.ts')});\nconst { readFileSync } = await import('node:fs');\nconst arm64 = getTarget('linux-arm64');\nconst tool = await disassemblerFor(arm64);\nconst fused = await fusedInstructions(${JSON.stringify(bin)}, readFileSync(${JSON.stringify(bin)}), arm64);\nconsole.log(JSON.stringify({ tool, fused }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      env: { ...process.env, XSNAP_CACHE_DIR: t.testdir() },
      encoding: 'utf8',
      timeout: 300_000,
    });
    t.equal(r.status, 0, r.stderr);
    const child = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { tool: string[] | null; fused: unknown };
    t.match(child.tool?.[0], /\/aarch64-linux-gnu-objdump$/, 'the cross objdump on PATH, not a build root');
    t.same(child.fused, { count: 0, first: [] }, 'and it reads the binary: no fused instruction');
  },
);

t.test('a system binary checked as portable fails, naming its libm imports', async (t) => {
  const file = binaryPath(sharedDist('system'), 'linux-x64', 'release');
  const r = await checkBinary(file, x64, 'system as portable', { version: VERSION, runner: [], math: 'portable' });
  t.match(r.failures, [{ check: 'portable-libm', actual: /^imports .*\bcbrt\b.* from libm$/ }]);
});

t.test(
  'libm families of two libms under the portable rule fail, naming the first input and both outputs in hex bits',
  async (t) => {
    // a real divergence: x64 with glibc's libm against arm64 with musl's
    const sys = await systemRuns;
    const port = await portableRuns;
    const { failures } = differencesToFailures(
      diffDeterminism(sys.x64, port.arm64, 'portable'),
      'linux-x64 (system)',
      'linux-arm64 (portable)',
      'determinism-across-targets',
    );
    const cbrt = failures.find((f) => f.subject.includes('family Math.cbrt'));
    t.ok(cbrt, 'Math.cbrt fails');
    t.match(cbrt!.subject, /first differing input #\d+: Math\.cbrt\(.* \/\* 0x[0-9a-f]{16} \*\/\)/);
    t.match(cbrt!.expected, /^0x[0-9a-f]{16} \(.*\) \(linux-x64 \(system\)\)$/);
    t.match(cbrt!.actual, /^0x[0-9a-f]{16} \(.*\) \(linux-arm64 \(portable\)\); \d+ of 300 results differ$/);
  },
);

interface Report {
  ok: boolean;
  failures: Failure[];
  notes: string[];
  determinism?: {
    profile: string;
    hostIndependence: { differingFamilies: string[] } | null;
    reported: string[];
    targets: Record<string, { measuredHere: boolean; results: number; timeZoneDependent: boolean }>;
  };
}
const verify = async (dist: string) => {
  const r = await runScript('verify-artifacts.ts', ['--dist', dist, '--targets', LINUX, '--skip-install', '--json']);
  return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
};

t.test('verify-artifacts gates a portable release: targets and glibc versions agree', async (t) => {
  const dist = await stagedDist('portable');
  const manifest = JSON.parse(await readFile(join(dist, 'release', `xsnap-worker-manifest-${VERSION}.json`), 'utf8'));
  for (const target of ['linux-x64', 'linux-arm64']) {
    t.match(manifest.targets[target].math, {
      profile: 'portable',
      library: 'musl',
      version: '1.2.3',
      integrity: 'sha256:7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4',
    });
    t.equal(
      Object.keys(manifest.targets[target].determinism.families).length,
      corpus.families.length - 1,
      `${target}: one digest per family`,
    );
  }
  const { code, report } = await verify(dist);
  t.equal(code, 0, report.failures.map((f) => f.subject).join('\n'));
  t.equal(report.determinism!.profile, 'portable');
  t.same(
    report.determinism!.hostIndependence!.differingFamilies,
    [],
    'linux-x64: host glibc and glibc 2.31 agree on every family',
  );
  t.ok(
    report.determinism!.reported.every((r) => r.startsWith('known divergence: nan-bits')),
    'only the known NaN divergence is reported',
  );
});

t.test('verify-artifacts fails when a manifest digest of one family is changed, naming it', async (t) => {
  const dist = await stagedCopy(t.testdir(), 'system');
  const file = join(dist, 'release', `xsnap-worker-manifest-${VERSION}.json`);
  const manifest = JSON.parse(await readFile(file, 'utf8'));
  manifest.targets['linux-arm64'].determinism.families.parseInt.sha256 = '0'.repeat(64);
  await writeFile(file, canonicalJson(manifest) + '\n');
  const { code, report } = await verify(dist);
  t.equal(code, 1);
  const f = report.failures.filter((x) => x.check.startsWith('determinism'));
  t.ok(
    f.some(
      (x) =>
        x.check === 'determinism' &&
        /linux-arm64 \(here\) vs linux-arm64 \(manifest\): family parseInt \(xs\)/.test(x.subject) &&
        x.expected!.includes('0'.repeat(64)),
    ),
    'the measurement differs from the manifest',
  );
});

t.test('verify-artifacts on a system release: host-dependent libm families are reported, not failed', async (t) => {
  const dist = await stagedCopy(t.testdir(), 'system');
  const { code, report } = await verify(dist);
  t.equal(code, 0, report.failures.map((f) => f.subject).join('\n'));
  t.equal(report.determinism!.profile, 'system');
  t.ok(
    report.determinism!.reported.some((r) =>
      /^host-dependent \(system libm\): Math\.cbrt: linux-(x64 vs linux-arm64|arm64 vs linux-x64)/.test(r),
    ),
    'cbrt reported across targets',
  );
  t.ok(
    report.notes.some((n) => n.includes('host-dependent (system libm)')),
    'and printed among the notes',
  );
  // XS's Date local-time methods follow the host's TZ: measured under two zones, said in the report and notes
  t.same(
    Object.values(report.determinism!.targets).map((x) => x.timeZoneDependent),
    [true, true],
    'both targets measured as depending on the time zone',
  );
  t.ok(
    report.notes.some((n) => n.startsWith("the worker depends on the host's time zone")),
    'said among the notes',
  );
});

t.test(
  'without a build root (CI verify runners), the glibc floor comes from the pinned libc6 package and gives the same results',
  async (t) => {
    const bin = binaryPath(sharedDist('system'), 'linux-x64', 'release');
    const code =
      `
    const { glibcFloorRunner } = await import(` +
      `${JSON.stringify(new URL('../../scripts/lib/build/binary-checks.ts', import.meta.url).pathname)});
    const { runDeterminism } = await import(` +
      `${JSON.stringify(new URL('../../scripts/lib/behaviour/determinism.ts', import.meta.url).pathname)});
    const runner = await glibcFloorRunner();
    const r = await runDeterminism(${JSON.stringify(bin)}, runner, { perFamily: 50 });
    console.log(JSON.stringify({ runner, record: r.record }));`;
    const emptyCache = t.testdir();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      env: { ...process.env, XSNAP_CACHE_DIR: emptyCache },
      encoding: 'utf8',
      timeout: 300_000,
    });
    t.equal(r.status, 0, r.stderr);
    const child = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { runner: string[]; record: Measured['record'] };
    t.match(
      child.runner[0],
      /xsnap-glibc-floor-.*\/lib\/x86_64-linux-gnu\/ld-linux-x86-64\.so\.2$/,
      'the loader of the unpacked libc6, not a build root',
    );
    const root = await runDeterminism(bin, (await glibcFloorRunner())!, { perFamily: 50 });
    t.same(
      diffDeterminism(
        { label: 'build root glibc', target: 'linux-x64', record: root.record },
        { label: 'libc6 package', target: 'linux-x64', record: child.record },
        'portable',
        [],
      ),
      [],
      'the same glibc 2.31: identical results, every family',
    );
  },
);
