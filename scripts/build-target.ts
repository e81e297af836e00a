#!/usr/bin/env -S npx tsx
// Stage 1: build xsnap-worker for one target from the pinned sources.
import { runCommand, log, stringFlag, PIN_OPTION, distOption } from './lib/core/cli.ts';
import { UsageError } from './lib/core/errors.ts';
import { planBuild, executeBuild } from './lib/build/build.ts';
import { distDir } from './lib/core/paths.ts';
import { readPin, pinPath } from './lib/core/pin.ts';
import { getTarget, TARGET_NAMES } from './lib/core/targets.ts';

await runCommand(
  {
    name: 'build-target.ts',
    summary: 'build the real xsnap-worker (release and debug) for one target from pinned, integrity-checked sources',
    usage: 'npx tsx scripts/build-target.ts --target <target> [--goal release|debug|both] [options]',
    options: [
      { name: 'target', type: 'string', valueName: 'target', description: `one of ${TARGET_NAMES.join(', ')}` },
      { name: 'goal', type: 'string', valueName: 'goal', description: 'release, debug or both', default: 'both' },
      {
        name: 'math',
        type: 'string',
        valueName: 'profile',
        description:
          "system (the host's libm) or portable (pinned musl libm, static); overrides the pin's " +
          '"math" for this build',
        default: "the pin's",
      },
      {
        name: 'toolchain',
        type: 'string',
        valueName: 'kind',
        description:
          "linux: pinned (Debian 11 build root, releasable) or host (this machine's cc, never releasable); " +
          'darwin: zig (the pinned zig on Linux x64, releasable) or host (Apple clang on macOS, never releasable)',
        default: "the target's first: pinned (linux), zig (darwin)",
      },
      PIN_OPTION,
      distOption('output folder'),
      {
        name: 'jobs',
        type: 'string',
        valueName: 'n',
        description: 'make -j for each goal',
        default: 'number of cores',
      },
      { name: 'no-cache', type: 'boolean', description: 'compile even if an identical build is cached' },
      {
        name: 'check',
        type: 'boolean',
        description:
          'check everything in full: every entry of the build root and the binaries, even if nothing changed since the last full check',
      },
      { name: 'dry-run', type: 'boolean', description: 'print the plan and stop' },
    ],
    details: `
Writes dist/<target>/release/xsnap-worker, dist/<target>/debug/xsnap-worker and
dist/<target>/build-info.json (source identity and integrity, toolchain, flags,
build root, host, and the version each binary reports).

Linux targets build inside a Debian 11 (bullseye) root made with debootstrap on
first use (about three minutes, needs root) and cached in $XSNAP_CACHE_DIR (default
~/.cache/xsnap-worker-binaries), so they need at most GLIBC ${'2.31'}. linux-arm64 is
cross-compiled there and run under qemu-aarch64 for its checks. darwin-x64 and
darwin-arm64 are cross-compiled on Linux x64 by the pinned zig (native/zig/pin.json,
downloaded from the npm registry by integrity and cached), beside the build root;
they cannot run here: their Mach-O is checked (CPU, macOS 11.0, libSystem only,
the arm64 code signature's page hashes, no fused multiply-add with llvm-objdump),
and macOS runners run them. A build whose inputs are unchanged is reused from the cache
after its hashes are checked. A build whose inputs are unchanged and whose dist/<target> is as
its last full check left it (every file's size, times and inode the same: a record in the cache
folder) does nothing; --check checks in full.

Environment: XSNAP_CACHE_DIR, XSNAP_SOURCE_REGISTRY (npm source kind),
XSNAP_ARCHIVE_BASE_URL (agoric-sdk source kind), XSNAP_DEBIAN_MIRROR (build root,
and the portable libm's sources from Debian's package pool).

Every build uses -ffp-contract=off and is checked for fused multiply-add
instructions; --math portable links the pinned musl libm (native/portable-libm/)
and the binary must import no libm math function. See docs/consensus.md.`,
  },
  async (flags) => {
    const targetName = stringFlag(flags, 'target');
    if (!targetName) throw new UsageError(`--target is required (one of ${TARGET_NAMES.join(', ')})`);
    const target = getTarget(targetName);
    const jobsFlag = stringFlag(flags, 'jobs');
    const jobs = jobsFlag === undefined ? undefined : Number(jobsFlag);
    if (jobs !== undefined && !(Number.isInteger(jobs) && jobs > 0))
      throw new UsageError(`--jobs must be a positive whole number, not "${jobsFlag}"`);
    const pin = readPin(pinPath(flags));
    const plan = planBuild({
      target,
      pin,
      jobs,
      goal: stringFlag(flags, 'goal'),
      toolchain: stringFlag(flags, 'toolchain'),
      math: stringFlag(flags, 'math'),
      dist: distDir(flags),
      useCache: !flags['no-cache'],
      fullCheck: Boolean(flags.check),
    });
    if (flags['dry-run']) {
      return {
        json: { plan },
        text: `would build ${plan.target} ${plan.goals.join('+')} of ${plan.version} (${plan.sourceKind} source, ${plan.toolchain} toolchain, math profile ${plan.math}) into ${plan.outDir}${plan.releasable ? '' : ' (not releasable)'}`,
      };
    }
    const info = await executeBuild(plan, pin);
    if (!info.releasable)
      log.warn(
        `${plan.target}: this build is not releasable (${plan.toolchain} toolchain, ${plan.sourceKind} source, goals ${plan.goals.join('+')})`,
      );
    const rows = Object.entries(info.binaries).map(
      ([goal, b]) => `| ${goal} | \`${b!.sha256}\` | ${b!.facts.reportedVersion ?? 'not run here'} |`,
    );
    return {
      json: { plan, buildInfo: info },
      text: [
        `${plan.target} ${plan.version}: ${info.cache.hit ? 'reused cached build' : 'built'} in ` +
          `${info.durationSeconds} s, math profile ${info.math.profile}${
            info.math.library ? ` (` + `${info.math.library} ${info.math.version}, static)` : ' (host libm)'
          }`,
        ...Object.entries(info.binaries).map(([goal, b]) => `  ${plan.outDir}/${b!.path}  sha256 ${b!.sha256}`),
      ].join('\n'),
      summary:
        `### build ${plan.target} ${plan.version}\n\n| goal | sha256 | -v |\n|---|---|---|\n${rows.join('\n')}\n\nToolchain: ` +
        `${info.toolchain.compiler}${
          info.toolchain.buildRootId ? ` (build root ${info.toolchain.buildRootId}` + `)` : ''
        }; math profile ${info.math.profile}; cache ${info.cache.hit ? 'hit' : 'miss'}; releasable: ${info.releasable}`,
    };
  },
);
