// Benchmark of the stage, manifest and verify stages, on this machine, in one run:
//   1. verification's hashing throughput (read the file, sha256 it, as
//      scripts/lib/verify.ts does) against `sha256sum` over the same bytes;
//   2. the whole stage + manifest + verify of two targets (linux-x64, linux-arm64)
//      from their build output, as a user runs the scripts.
// Goal (issue 3): 1 >= 0.8x sha256sum.
// Run: npx tsx bench/verify.ts [--dist dir-with-linux-builds] [--rounds 5] [--repeat 10]
//      (without --dist it builds linux-x64 and linux-arm64 itself, through the build cache)
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import minimist from 'minimist';
import { run } from '../scripts/lib/core/exec.ts';
import { sha256Hex } from '../scripts/lib/core/hash.ts';
import { REPO_ROOT } from '../scripts/lib/core/paths.ts';
import { buildTargets, runScriptOk } from '../scripts/lib/core/run-script.ts';

/** the same folder bench/determinism.ts builds its "system" binaries into */
const BENCH_DIST = join(REPO_ROOT, '.cache', 'bench-dist-system');

const args = minimist(process.argv.slice(2), {
  string: ['dist', 'rounds', 'repeat'],
  default: { rounds: '5', repeat: '10' },
});
const TARGETS = ['linux-x64', 'linux-arm64'];
const rounds = Number(args.rounds);
const repeat = Number(args.repeat);
// without --dist, the bench builds what it needs (a copy from the build cache when built before)
const builds = (args.dist as string | undefined) ?? BENCH_DIST;
if (args.dist === undefined) {
  console.error(`building ${TARGETS.join(' and ')} into ${builds} (cached when unchanged)`);
  await buildTargets(builds, TARGETS, { math: 'system' });
} else if (!TARGETS.every((t) => existsSync(join(builds, t, 'build-info.json')))) {
  console.error(`${builds} lacks ${TARGETS.join(' or ')} builds: build both with scripts/build-target.ts first`);
  process.exit(2);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};

const work = await mkdtemp(join(tmpdir(), 'xsnap-bench-verify-'));
try {
  const dist = join(work, 'dist');
  for (const t of TARGETS) await cp(join(builds, t), join(dist, t), { recursive: true });

  // 2. the whole pipeline after the build, timed per stage
  const list = TARGETS.join(',');
  const stage = await seconds(() => runScriptOk('stage-packages.ts', ['--dist', dist, '--targets', list]));
  const manifest = await seconds(() => runScriptOk('generate-manifest.ts', ['--dist', dist, '--targets', list]));
  const verify = await seconds(() => runScriptOk('verify-artifacts.ts', ['--dist', dist, '--targets', list]));

  // 1. hashing: the files verification hashes (binaries, tarballs, bundle, manifest)
  const files = [
    ...TARGETS.flatMap((t) => ['release', 'debug'].map((g) => join(dist, t, g, 'xsnap-worker'))),
    ...(await readdir(join(dist, 'release'))).map((n) => join(dist, 'release', n)),
  ];
  const bytes = (await Promise.all(files.map(async (f) => (await stat(f)).size))).reduce((a, b) => a + b, 0) * repeat;
  const batch = Array.from({ length: repeat }, () => files).flat();
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    ours.push(
      await seconds(async () => {
        for (const f of batch) sha256Hex(await readFile(f));
      }),
    );
    theirs.push(await seconds(() => run(['sha256sum', ...batch], { what: 'sha256sum' })));
  }
  const mb = bytes / 1e6;
  const oursMBs = mb / median(ours);
  const theirsMBs = mb / median(theirs);
  const ratio = oursMBs / theirsMBs;

  console.log(
    `verification hashing over ${mb.toFixed(0)} MB (${files.length} files x ${repeat}), median of ${rounds}:`,
  );
  console.log(`  ours (readFile + sha256, as verify-artifacts): ${oursMBs.toFixed(0)} MB/s`);
  console.log(`  sha256sum:                                     ${theirsMBs.toFixed(0)} MB/s`);
  console.log(`  ratio: ${ratio.toFixed(2)}x (goal >= 0.8x) ${ratio >= 0.8 ? 'MET' : 'NOT MET'}`);
  console.log(`stage + manifest + verify, ${TARGETS.join(' + ')}: ${(stage + manifest + verify).toFixed(1)} s`);
  console.log(
    `  stage-packages ${stage.toFixed(1)} s, generate-manifest ${manifest.toFixed(1)} s (fingerprints), verify-artifacts ${verify.toFixed(1)} s (all checks: install per platform, fingerprints, -v under qemu)`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
