// Benchmark of publish-all on the embedded registry, as a user runs the script
// (verify-artifacts skipped: bench/verify.ts measures it), each run into a
// fresh registry:
//   staged   the staged flow under npm's rules (issue 17): stage as CI does
//            (trusted publishing, npm stage publish only), then approve as a
//            maintainer (list, download and check every stage, approve with a
//            one-time code, read back, gate), the set against one package, on
//            Verdaccio 9 with staged publishing and registry-rules.mjs (goal:
//            within 1.5x);
//   window   the visibility window of the staged path: the time between the
//            first and the last package becoming installable (their approvals
//            returning; goal < 1 s on the local registry).
// Run: npx tsx bench/publish.ts [--rounds 3]
//      (builds, stages and manifests the linux set itself first: through the
//      build cache, and outside the timings)
import minimist from 'minimist';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalRegistry } from '../scripts/lib/publish/local-registry.ts';
import { REPO_ROOT } from '../scripts/lib/core/paths.ts';
import { buildTargets, runScript, stageReleaseSet } from '../scripts/lib/core/run-script.ts';

const args = minimist(process.argv.slice(2), { string: ['rounds'], default: { rounds: '3' } });
const rounds = Number(args.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ONE = 'linux-x64';
const SET = 'linux-x64,linux-arm64';
const LINUX = SET.split(',');

// the release set: built into the folder the other benches build into, staged and manifested in a copy
const builds = join(REPO_ROOT, '.cache', 'bench-dist-system');
console.error(`building ${LINUX.join(' and ')} into ${builds} (cached when unchanged), then staging them`);
await buildTargets(builds, LINUX, { math: 'system' });
const dist = mkdtempSync(join(tmpdir(), 'xsnap-bench-set-'));
for (const t of LINUX) cpSync(join(builds, t), join(dist, t), { recursive: true });
await stageReleaseSet(dist, LINUX);

type PublishAll = (
  command: 'stage' | 'approve',
  extra: string[],
  dist: string,
  as?: 'ci' | 'maintainer',
) => ReturnType<typeof runScript>;

/**
 * A fresh embedded registry, and publish-all run against it as a user runs it: as the maintainer (their token
 * and a one-time code), or as CI (the registry's stand-in of trusted publishing, no token).
 */
async function withRegistry<T>(fn: (publishAll: PublishAll) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'xsnap-bench-registry-'));
  const reg = await startLocalRegistry({ dir });
  const tmp = { TMPDIR: mkdtempSync(join(tmpdir(), 'xsnap-bench-')) };
  const envs = { maintainer: { NPM_TOKEN: reg.token, ...tmp }, ci: { ...reg.rules.oidcEnv, ...tmp } };
  try {
    return await fn((command, extra, d, as = 'maintainer') => {
      const otp = as === 'maintainer' && command === 'approve' ? ['--otp', reg.rules.otp()] : [];
      const args = [command, '--registry', reg.url, '--dist', d, ...otp, ...extra];
      return runScript('publish-all.ts', args, { env: envs[as] });
    });
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** stage (as CI) + approve (as a maintainer: checks every stage, read-back, gate); seconds, visibility window in ms */
async function staged(targets: string): Promise<{ s: number; windowMs: number }> {
  return withRegistry(async (publishAll) => {
    // the staged record goes to dist/: use a private copy of the set
    const own = mkdtempSync(join(tmpdir(), 'xsnap-bench-dist-'));
    cpSync(dist, own, { recursive: true });
    const t0 = performance.now();
    const st = await publishAll('stage', ['--targets', targets, '--skip-verify'], own, 'ci');
    if (st.code !== 0) throw new Error(`publish-all stage --targets ${targets} failed:\n${st.stderr}`);
    const ap = await publishAll('approve', ['--targets', targets, '--json'], own);
    const s = (performance.now() - t0) / 1000;
    if (ap.code !== 0) throw new Error(`publish-all approve --targets ${targets} failed:\n${ap.stderr}`);
    rmSync(own, { recursive: true, force: true });
    return { s, windowMs: JSON.parse(ap.stdout).windowMs };
  });
}

const results: string[] = [];
{
  const one: number[] = [];
  const set: number[] = [];
  const windows: number[] = [];
  for (let i = 0; i < rounds; i++) {
    one.push((await staged(ONE)).s);
    const r = await staged(SET);
    set.push(r.s);
    windows.push(r.windowMs);
    console.error(
      `staged round ${i + 1}/${rounds}: one ${one[i].toFixed(2)} s, set ${set[i].toFixed(2)} s, window ${r.windowMs} ms`,
    );
  }
  const ratio = median(set) / median(one);
  results.push(
    `stage (CI) + approve (maintainer), one:   median ${median(one).toFixed(2)} s over ${rounds} runs`,
    `stage (CI) + approve (maintainer), set:   median ${median(set).toFixed(2)} s over ${rounds} runs`,
    `staged: set / one = ${ratio.toFixed(2)}x (goal <= 1.5x): ${ratio <= 1.5 ? 'met' : 'NOT met'}`,
    `visibility window (first to last package installable): median ${median(windows)} ms, max ${Math.max(...windows)} ms (goal < 1000 ms): ${Math.max(...windows) < 1000 ? 'met' : 'NOT met'}`,
  );
}
for (const line of results) console.log(line);
rmSync(dist, { recursive: true, force: true });
