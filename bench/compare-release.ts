#!/usr/bin/env -S npx tsx
// The performance gate against the previous release (RELEASING.md: before the
// tag). The candidate's release binary and the base version's, on this host,
// in interleaved runs over bench/perf-workloads/: the median JavaScript time per
// workload and the compute meter (computrons). More than 5% slower (geometric
// mean of the median ratios) or any meter change fails unless --accept "<reason>".
import { appendFileSync, existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { runCommand, log, stringFlag, distOption } from '../scripts/lib/core/cli.ts';
import { CheckFailed, UsageError } from '../scripts/lib/core/errors.ts';
import { hostRunner } from '../scripts/lib/build/binary-checks.ts';
import { sha256File } from '../scripts/lib/core/hash.ts';
import { normaliseRegistry, PUBLIC_REGISTRY } from '../scripts/lib/core/npm-client.ts';
import { distDir } from '../scripts/lib/core/paths.ts';
import { binaryPath } from '../scripts/lib/core/layout.ts';
import { checkVersion } from '../scripts/lib/core/pin.ts';
import {
  baseFromBundle,
  baseFromRegistry,
  DEFAULT_THRESHOLD,
  loadWorkloads,
  PERF_WORKLOADS,
  renderTable,
  runComparison,
  tempWork,
  verdictOf,
  type Contender,
} from '../scripts/lib/behaviour/perf.ts';
import { getTarget, hostTarget, TARGET_NAMES } from '../scripts/lib/core/targets.ts';

await runCommand(
  {
    name: 'compare-release.ts',
    summary:
      'performance gate: the candidate against the previous release, same host, interleaved runs: median JS time and compute meter per workload',
    usage:
      'npx tsx bench/compare-release.ts --base X.Y.Z [--registry url | --base-bundle file] [--candidate binary | --dist dir] [--runs 7] [--accept "<reason>"]',
    options: [
      { name: 'base', type: 'string', valueName: 'X.Y.Z', description: 'the previous release to compare with' },
      {
        name: 'registry',
        type: 'string',
        valueName: 'url',
        description: "where the base version's platform package is",
        default: PUBLIC_REGISTRY,
      },
      {
        name: 'base-bundle',
        type: 'string',
        valueName: 'file',
        description: "the base version's release bundle (xsnap-worker-binaries-X.Y.Z.tar.gz) instead of the registry",
      },
      {
        name: 'candidate',
        type: 'string',
        valueName: 'binary',
        description: 'the candidate release binary',
        default: 'dist/<target>/release/xsnap-worker',
      },
      distOption('build output holding the candidate'),
      {
        name: 'target',
        type: 'string',
        valueName: 'target',
        description: `which target's binaries (${TARGET_NAMES.join(', ')}); both run the same way on this host (linux-arm64 under qemu)`,
        default: "this host's",
      },
      {
        name: 'runs',
        type: 'string',
        valueName: 'n',
        description:
          'measured rounds (after one warm-up round); each round runs every workload once on each binary, alternating which goes first',
        default: '7',
      },
      {
        name: 'threshold',
        type: 'string',
        valueName: 'percent',
        description: 'allowed slowdown of the geometric mean of the median ratios',
        default: String(DEFAULT_THRESHOLD * 100),
      },
      {
        name: 'workloads',
        type: 'string',
        valueName: 'a,b',
        description: `only these workloads of ${PERF_WORKLOADS}`,
        default: 'all',
      },
      {
        name: 'accept',
        type: 'string',
        valueName: 'reason',
        description: 'accept a slowdown or a meter change, recording why (in the output and the step summary)',
      },
    ],
    details: `
Every measurement evaluates one workload in a fresh worker and records the
evaluation's wall time and the worker's compute meter. The table gives, per
workload, both medians, their ratio and both meters. Verdict: exit 1 when the
geometric mean of the ratios is more than --threshold percent slower, or when
any workload's meter differs between the binaries (or between runs): computrons
are consensus-visible cost. --accept "<reason>" turns that into exit 0 with the
reason stated. Timings depend on the host and its load: compare on one quiet
machine; the verdict on meters does not depend on the host.
The base binary is checked against the registry's integrity (or taken from the
bundle) and, when manifests/xsnap-worker-manifest-<base>.json is committed,
against its sha256.`,
  },
  async (flags) => {
    const baseFlag = stringFlag(flags, 'base');
    if (!baseFlag) throw new UsageError('--base X.Y.Z is required (the previous release)');
    const version = checkVersion(baseFlag, '--base');
    const targetFlag = stringFlag(flags, 'target');
    const target = targetFlag ? getTarget(targetFlag) : hostTarget();
    if (!target) throw new UsageError(`this host (${process.platform}-${process.arch}) is no target: give --target`);
    const runner = await hostRunner(target);
    if (!runner) throw new UsageError(`${target.name} binaries cannot run on this host`);
    const runs = Number(stringFlag(flags, 'runs') ?? '7');
    if (!Number.isInteger(runs) || runs < 1 || runs > 1000)
      throw new UsageError('--runs takes a whole number from 1 to 1000');
    const threshold = Number(stringFlag(flags, 'threshold') ?? DEFAULT_THRESHOLD * 100) / 100;
    if (!(Number.isFinite(threshold) && threshold >= 0))
      throw new UsageError('--threshold takes a percentage (e.g. 5)');
    const accept = stringFlag(flags, 'accept');
    const candidateFile = stringFlag(flags, 'candidate') ?? binaryPath(distDir(flags), target.name, 'release');
    if (!existsSync(candidateFile))
      throw new UsageError(
        `${candidateFile} does not exist: build the candidate (npx tsx scripts/build-target.ts --target ${target.name}) or give --candidate`,
      );
    const workloads = await loadWorkloads(undefined, stringFlag(flags, 'workloads')?.split(','));
    const candidate: Contender = {
      label: 'candidate',
      binary: candidateFile,
      runner,
      sha256: await sha256File(candidateFile),
    };
    const work = await tempWork();
    try {
      const bundle = stringFlag(flags, 'base-bundle');
      if (bundle && stringFlag(flags, 'registry')) throw new UsageError('--base-bundle or --registry, not both');
      const base0 = bundle
        ? await baseFromBundle({ bundle, version, target, work })
        : await baseFromRegistry({
            registry: normaliseRegistry(stringFlag(flags, 'registry') ?? PUBLIC_REGISTRY),
            version,
            target,
            work,
          });
      const base = { ...base0, runner };
      log.step(
        `${target.name}: candidate ${candidate.sha256.slice(0, 12)} against ${base.label} ${base.sha256.slice(0, 12)}: ${workloads.length} workloads, 1 warm-up + ${runs} interleaved rounds` +
          `${runner.length ? ` (via ${runner[0]})` : ''}`,
      );
      const rows = await runComparison({
        base,
        candidate,
        workloads,
        runs,
        onRound: (r) => log.info(r < 0 ? 'warm-up round' : `round ${r + 1}/${runs}`),
      });
      const labels = { base: `base ${version}`, candidate: 'candidate' };
      const v = verdictOf(rows, { threshold, accept, ...labels });
      const table = renderTable(rows, labels.base, labels.candidate);
      const verdictLine =
        v.failures.length === 0
          ? `PASS: geometric mean ratio ${v.geomean.toFixed(3)} (limit ${(1 + threshold).toFixed(2)}), no meter change`
          : v.accepted
            ? `ACCEPTED (${v.accepted}): ${v.failures.map((f) => f.check).join(', ')}; geometric mean ratio ${v.geomean.toFixed(3)}`
            : `FAIL: geometric mean ratio ${v.geomean.toFixed(3)}${v.meterChanges.length ? `; meter changed: ${v.meterChanges.join(', ')}` : ''}`;
      if (!v.ok || flags.json) process.stderr.write(table + '\n');
      if (!v.ok) {
        // the table belongs in the step summary of a failure too
        if (process.env.GITHUB_STEP_SUMMARY)
          appendFileSync(
            process.env.GITHUB_STEP_SUMMARY,
            `### performance: candidate against ${version} (${target.name})\n\n${table}\n\n**${verdictLine}**\n\n`,
          );
        throw new CheckFailed(v.failures);
      }
      if (v.accepted)
        v.failures.forEach((f) =>
          log.warn(`accepted: [${f.check}] ${f.subject}: expected ${f.expected}, got ${f.actual}`),
        );
      return {
        json: {
          ok: true,
          target: target.name,
          base: { version, sha256: base.sha256, from: base.label },
          candidate: { file: candidateFile, sha256: candidate.sha256 },
          runs,
          threshold,
          geomean: v.geomean,
          rows,
          verdict: {
            slower: v.slower,
            meterChanges: v.meterChanges,
            accepted: v.accepted ?? null,
            failures: v.failures,
          },
        },
        text: `${table}\n${verdictLine}`,
        summary: `### performance: candidate against ${version} (${target.name}, ${runs} interleaved rounds)\n\n${table}\n\n**${verdictLine}**`,
      };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
);
