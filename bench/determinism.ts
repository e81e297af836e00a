// Benchmark of the determinism corpus and of the portable math profile, on this machine:
//   1. the corpus at release size (>= 1,000,000 results per binary): linux-x64
//      natively and linux-arm64 under qemu (goals: <= 10 s and <= 60 s);
//   2. JavaScript speed of the portable profile against the system one on a
//      Math-heavy workload, linux-x64 natively, interleaved runs (goal: within 1.10x).
// The binaries come from build-target.ts through the normal build cache (a cache hit
// when they were built before). Figures are reported, never asserted.
// Run: npx tsx bench/determinism.ts [--rounds 7]
import { join } from 'node:path';
import minimist from 'minimist';
import { buildTargets } from '../scripts/lib/core/run-script.ts';
import { REPO_ROOT } from '../scripts/lib/core/paths.ts';
import { binaryPath } from '../scripts/lib/core/layout.ts';
import { hostRunner } from '../scripts/lib/build/binary-checks.ts';
import { getTarget } from '../scripts/lib/core/targets.ts';
import { runDeterminism, SIZES, totalResults } from '../scripts/lib/behaviour/determinism.ts';
import { XsnapWorker } from '../scripts/lib/behaviour/worker-protocol.ts';

const args = minimist(process.argv.slice(2), { string: ['rounds'], default: { rounds: '7' } });
const rounds = Number(args.rounds);
const dists = {
  system: join(REPO_ROOT, '.cache', 'bench-dist-system'),
  portable: join(REPO_ROOT, '.cache', 'bench-dist-portable'),
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const [math, dist] of Object.entries(dists) as Array<[keyof typeof dists, string]>) {
  console.error(`building linux-x64 and linux-arm64 (${math}) into ${dist} (cached when unchanged)`);
  await buildTargets(dist, ['linux-x64', 'linux-arm64'], { math });
}

console.log(`## determinism corpus at release size (${SIZES.release} results per family)\n`);
console.log('| binary | results | seconds | goal |');
console.log('|---|---|---|---|');
for (const [math, dist] of Object.entries(dists)) {
  for (const [target, goal] of [
    ['linux-x64', '<= 10 s natively'],
    ['linux-arm64', '<= 60 s under qemu'],
  ] as const) {
    const runner = await hostRunner(getTarget(target));
    if (!runner) {
      console.log(`| ${target} ${math} | cannot run here | | ${goal} |`);
      continue;
    }
    const r = await runDeterminism(binaryPath(dist, target, 'release'), runner, { perFamily: SIZES.release });
    console.log(
      `| ${target} ${math}${runner.length ? ' (qemu)' : ''} | ${totalResults(r.record)} | ${r.seconds.toFixed(1)} | ${goal} |`,
    );
  }
}

// A Math-heavy workload: every libm-backed function, in a loop, as a vat doing numeric work would.
const WORKLOAD =
  `(() => {
  let acc = 0;
  for (let i = 1; i <= 300000; i++) {
    const x = i / 977;
    acc += Math.sin(x) + Math.cos(x) + Math.tan(x / 3) + Math.exp(-x / 50) + Math.log(x) + Math.pow(x, 0.37)
      + Math.atan2(x, 3) + Math.cbrt(x) + Math.hypot(x, 1) + Math.sqrt(x) + Math.log1p(x)` +
  ` + Math.sinh(x / 300) + x ** 1.5;
  }
  return new TextEncoder().encode(String(acc)).buffer;
})()`;

async function once(dist: string): Promise<number> {
  const w = new XsnapWorker({
    binary: binaryPath(dist, 'linux-x64', 'release'),
    runner: [],
    meteringLimit: 0,
    timeoutMs: 600_000,
  });
  try {
    const t0 = performance.now();
    await w.evaluate(WORKLOAD);
    return (performance.now() - t0) / 1000;
  } finally {
    await w.close();
  }
}

const times: Record<string, number[]> = { system: [], portable: [] };
await once(dists.system); // warm the page cache
await once(dists.portable);
for (let i = 0; i < rounds; i++) {
  // interleaved, alternating which goes first, so drift on a shared machine hits both
  const order = i % 2 ? ['portable', 'system'] : ['system', 'portable'];
  for (const m of order) times[m].push(await once(dists[m as keyof typeof dists]));
}
const sys = median(times.system);
const port = median(times.portable);
console.log(`\n## JavaScript speed on a Math-heavy workload (linux-x64, ${rounds} interleaved rounds, median)\n`);
console.log('| profile | seconds | ratio |');
console.log('|---|---|---|');
console.log(`| system | ${sys.toFixed(3)} | 1.00 |`);
console.log(`| portable | ${port.toFixed(3)} | ${(port / sys).toFixed(2)} (goal <= 1.10) |`);
