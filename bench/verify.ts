// Benchmark of the stage, manifest and verify stages, on this machine, in one run:
//   1. verification's hashing throughput (read the file, sha256 it, as
//      scripts/lib/verify.ts does) against `sha256sum` over the same bytes;
//   2. the whole stage + manifest + verify of two targets (linux-x64, linux-arm64)
//      from their build output, as a user runs the scripts.
// Goal (issue 3): 1 >= 0.8x sha256sum.
// Run: npx tsx bench/verify.ts [--dist dir-with-linux-builds] [--rounds 5] [--repeat 10]
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import minimist from 'minimist';
import { run } from '../scripts/lib/exec.ts';
import { sha256Hex } from '../scripts/lib/hash.ts';
import { REPO_ROOT } from '../scripts/lib/paths.ts';
import { runScript } from '../test/helpers/run.ts';

const args = minimist(process.argv.slice(2), { string: ['dist', 'rounds', 'repeat'], default: { rounds: '5', repeat: '10' } });
const TARGETS = ['linux-x64', 'linux-arm64'];
const rounds = Number(args.rounds);
const repeat = Number(args.repeat);
const candidates = [args.dist as string | undefined, process.env.XSNAP_TEST_DIST, join(REPO_ROOT, '.cache', 'test-dist'), join(REPO_ROOT, 'dist')].filter(Boolean) as string[];
const builds = candidates.find((d) => TARGETS.every((t) => existsSync(join(d, t, 'build-info.json'))));
if (!builds) {
  console.error(`no dist with ${TARGETS.join(' and ')} builds among ${candidates.join(', ')}: run npx tsx scripts/build-target.ts --target <t> for both first`);
  process.exit(2);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};
const script = async (name: string, argv: string[]) => {
  const r = await runScript(name, argv);
  if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}):\n${r.stderr}`);
};

const work = await mkdtemp(join(tmpdir(), 'xsnap-bench-verify-'));
try {
  const dist = join(work, 'dist');
  for (const t of TARGETS) await cp(join(builds, t), join(dist, t), { recursive: true });

  // 2. the whole pipeline after the build, timed per stage
  const list = TARGETS.join(',');
  const stage = await seconds(() => script('stage-packages.ts', ['--dist', dist, '--targets', list]));
  const manifest = await seconds(() => script('generate-manifest.ts', ['--dist', dist, '--targets', list]));
  const verify = await seconds(() => script('verify-artifacts.ts', ['--dist', dist, '--targets', list]));

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
    ours.push(await seconds(async () => {
      for (const f of batch) sha256Hex(await readFile(f));
    }));
    theirs.push(await seconds(() => run(['sha256sum', ...batch], { what: 'sha256sum' })));
  }
  const mb = bytes / 1e6;
  const oursMBs = mb / median(ours);
  const theirsMBs = mb / median(theirs);
  const ratio = oursMBs / theirsMBs;

  console.log(`verification hashing over ${mb.toFixed(0)} MB (${files.length} files x ${repeat}), median of ${rounds}:`);
  console.log(`  ours (readFile + sha256, as verify-artifacts): ${oursMBs.toFixed(0)} MB/s`);
  console.log(`  sha256sum:                                     ${theirsMBs.toFixed(0)} MB/s`);
  console.log(`  ratio: ${ratio.toFixed(2)}x (goal >= 0.8x) ${ratio >= 0.8 ? 'MET' : 'NOT MET'}`);
  console.log(`stage + manifest + verify, ${TARGETS.join(' + ')}: ${(stage + manifest + verify).toFixed(1)} s`);
  console.log(`  stage-packages ${stage.toFixed(1)} s, generate-manifest ${manifest.toFixed(1)} s (fingerprints), verify-artifacts ${verify.toFixed(1)} s (all checks: install per platform, fingerprints, -v under qemu)`);
} finally {
  await rm(work, { recursive: true, force: true });
}
