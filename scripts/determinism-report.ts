#!/usr/bin/env -S npx tsx
// The divergence table of docs/consensus.md: run the determinism corpus on the
// linux release binaries of a dist (linux-x64 natively and at the glibc floor,
// linux-arm64 under qemu or natively) and count, per family, the results that differ.
import { runCommand, log, distOption } from './lib/core/cli.ts';
import { UsageError } from './lib/core/errors.ts';
import { distDir } from './lib/core/paths.ts';
import { binaryPath } from './lib/core/layout.ts';
import { readBuildInfo } from './lib/build/build.ts';
import { glibcFloorRunner, hostRunner } from './lib/build/binary-checks.ts';
import {
  DEFAULT_SEED,
  divergenceTable,
  renderDivergenceTable,
  runDeterminism,
  SIZES,
  totalResults,
  type Measured,
} from './lib/behaviour/determinism.ts';
import { getTarget, glibcFloorOf, type TargetName } from './lib/core/targets.ts';

const x64 = getTarget('linux-x64');
const arm64 = getTarget('linux-arm64');
/** the glibc the corpus also runs at: linux-x64's floor (the pinned build root's) */
const floor = `glibc ${glibcFloorOf(x64)}`;

await runCommand(
  {
    name: 'determinism-report.ts',
    summary:
      'count, per numeric family, the results that differ between linux-x64 and linux-arm64, and between glibc versions',
    usage: 'npx tsx scripts/determinism-report.ts [--dist <dir>]',
    options: [distOption('a dist with linux-x64 and linux-arm64 builds (build-target.ts)')],
    details: `
Runs native/determinism-corpus/corpus.js on dist/linux-x64/release/xsnap-worker
(with this host's glibc, and with the pinned build root's ${floor}, the floor)
and dist/linux-arm64/release/xsnap-worker (qemu-aarch64 with the build root's
arm64 runtime), and prints a Markdown table: per family, how many results
differ, compared as raw IEEE bits. Reports only: it exits 0 whatever it finds
(verify-artifacts.ts is the gate). The corpus runs at the release's size and seed.`,
  },
  async (flags) => {
    const dist = distDir(flags);
    // the release's corpus: its size and seed, as a release manifest measures it
    const perFamily = SIZES.release;
    const seed = DEFAULT_SEED;
    const profile = (await readBuildInfo(dist, 'linux-x64')).math?.profile ?? 'system';
    const runs: Record<string, Measured> = {};
    const measure = async (label: string, bin: string, runner: string[] | null, target: TargetName) => {
      if (!runner) throw new UsageError(`${label} cannot run on this host`);
      log.step(`${label}: ${perFamily} results per family`);
      const r = await runDeterminism(bin, runner, { seed, perFamily });
      log.ok(`${label}: ${totalResults(r.record)} results in ${r.seconds.toFixed(1)} s`);
      runs[label] = { label, target, record: r.record, raw: r.raw };
    };
    await measure('linux-x64', binaryPath(dist, 'linux-x64', 'release'), await hostRunner(x64), 'linux-x64');
    await measure(
      `linux-x64 at ${floor}`,
      binaryPath(dist, 'linux-x64', 'release'),
      await glibcFloorRunner(),
      'linux-x64',
    );
    await measure('linux-arm64', binaryPath(dist, 'linux-arm64', 'release'), await hostRunner(arm64), 'linux-arm64');
    const columns = ['linux-x64 vs linux-arm64', `x64: host glibc vs ${floor}`];
    const rows = divergenceTable([
      { column: columns[0], a: runs['linux-x64'], b: runs['linux-arm64'] },
      { column: columns[1], a: runs['linux-x64'], b: runs[`linux-x64 at ${floor}`] },
    ]);
    const table = renderDivergenceTable(rows, columns, perFamily);
    const title =
      `Math profile ${profile}; seed ${seed}, ${perFamily} results per family; results ` + `compared as raw IEEE bits.`;
    return {
      json: { profile, seed, perFamily, rows },
      text: `${title}\n\n${table}`,
      summary: `### determinism: where the binaries diverge\n\n${title}\n\n${table}`,
    };
  },
);
