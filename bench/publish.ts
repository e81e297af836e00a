// Benchmark of publish-all on the embedded registry (issue 4): publishing the
// linux set (two packages, in parallel) against publishing one package alone,
// each into a fresh Verdaccio, as a user runs the script (verify-artifacts
// skipped: it is measured by bench/verify.ts). Goal: the set within 1.5x of one.
// Run: npx tsx bench/publish.ts [--rounds 3]   (needs the shared linux build: npm test, or test/setup.ts)
import minimist from 'minimist';
import { startTestRegistry, releaseDist, publishAll } from '../test/helpers/registry.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = minimist(process.argv.slice(2), { string: ['rounds'], default: { rounds: '3' } });
const rounds = Number(args.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dist = await releaseDist();

async function once(targets: string): Promise<number> {
  const reg = await startTestRegistry();
  try {
    const env = { NPM_TOKEN: reg.token, TMPDIR: mkdtempSync(join(tmpdir(), 'xsnap-bench-')) };
    const t0 = performance.now();
    const r = await publishAll(reg, dist, env, [], { targets });
    const s = (performance.now() - t0) / 1000;
    if (r.code !== 0) throw new Error(`publish-all --targets ${targets} failed:\n${r.stderr}`);
    return s;
  } finally {
    await reg.stop();
  }
}

const one: number[] = [];
const set: number[] = [];
for (let i = 0; i < rounds; i++) {
  one.push(await once('linux-x64'));
  set.push(await once('linux-x64,linux-arm64'));
  console.error(`round ${i + 1}/${rounds}: one ${one[i].toFixed(2)} s, set ${set[i].toFixed(2)} s`);
}
const ratio = median(set) / median(one);
console.log(`publish-all, one package (linux-x64):        median ${median(one).toFixed(2)} s over ${rounds} runs`);
console.log(`publish-all, the set (linux-x64+linux-arm64): median ${median(set).toFixed(2)} s over ${rounds} runs`);
console.log(`set / one = ${ratio.toFixed(2)}x (goal <= 1.5x): ${ratio <= 1.5 ? 'met' : 'NOT met'}`);
