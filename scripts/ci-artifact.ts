#!/usr/bin/env -S npx tsx
// CI plumbing between GitHub Actions jobs: pack a target's build output (or a
// whole verified dist/) into a tar that keeps the execute bits, unpack it with
// every entry and binary checked, and carry each check leg's natively measured
// fingerprint to the job that compares all four targets.
import { runCommand, stringFlag, PIN_OPTION, distOption, log } from './lib/core/cli.ts';
import { CheckFailed, UsageError } from './lib/core/errors.ts';
import {
  assertOneAction,
  compareChecks,
  compareToolchains,
  packArtifact,
  saveCheck,
  unpackArtifacts,
} from './lib/ci/ci-artifact.ts';
import { distDir } from './lib/core/paths.ts';
import { readPin, pinPath } from './lib/core/pin.ts';
import { getTarget, parseTargetList, TARGET_NAMES } from './lib/core/targets.ts';

await runCommand(
  {
    name: 'ci-artifact.ts',
    summary:
      "pack and unpack build output between CI jobs (keeping execute bits), and compare the check legs' fingerprints",
    usage:
      'npx tsx scripts/ci-artifact.ts (--pack <target|dist> | --unpack <dir> | --save-check <target> | --compare-checks <dir> | --compare-toolchain <target> --against <dist|record.json>) [options]',
    options: [
      {
        name: 'pack',
        type: 'string',
        valueName: 'target|dist',
        description:
          `pack dist/<target>/ into <out>/xsnap-build-<target>.tar, or all of dist/ into ` + `<out>/xsnap-dist.tar`,
      },
      {
        name: 'unpack',
        type: 'string',
        valueName: 'dir',
        description:
          'unpack every xsnap-*.tar in <dir> into dist/, after checking every entry and re-hashing every binary against its build-info.json',
      },
      {
        name: 'save-check',
        type: 'string',
        valueName: 'target',
        description:
          "copy this check leg's manifest (with its natively measured fingerprint) to <out>/check-<target>.json",
      },
      {
        name: 'compare-checks',
        type: 'string',
        valueName: 'dir',
        description: "compare the check-<target>.json files in <dir> with each other and with dist/release's manifest",
      },
      {
        name: 'compare-toolchain',
        type: 'string',
        valueName: 'target',
        description:
          "compare every determinism family's digest and compute meter of dist/<target> (this leg's manifest) " +
          'with the build in --against (measured here), e.g. Apple clang against zig on a macOS leg',
      },
      {
        name: 'against',
        type: 'string',
        valueName: 'dist|file',
        description:
          '--compare-toolchain: a dist holding the other build of <target>, or a JSON determinism record (or manifest) already measured',
      },
      {
        name: 'out',
        type: 'string',
        valueName: 'dir',
        description: 'where --pack and --save-check write',
        default: 'ci-artifacts',
      },
      {
        name: 'targets',
        type: 'string',
        valueName: 'a,b',
        description: 'targets that --unpack and --compare-checks require',
        default: 'all',
      },
      {
        name: 'replace',
        type: 'boolean',
        description: '--unpack: replace what dist/ already holds under the same names',
      },
      distOption('build output folder'),
      PIN_OPTION,
    ],
    details: `
Used by .github/workflows/*.yml; see RELEASING.md. Targets: ${TARGET_NAMES.join(', ')}.`,
  },
  async (flags) => {
    const dist = distDir(flags);
    const out = stringFlag(flags, 'out') ?? 'ci-artifacts';
    const action = assertOneAction({
      pack: stringFlag(flags, 'pack'),
      unpack: stringFlag(flags, 'unpack'),
      'save-check': stringFlag(flags, 'save-check'),
      'compare-checks': stringFlag(flags, 'compare-checks'),
      'compare-toolchain': stringFlag(flags, 'compare-toolchain'),
    });
    switch (action) {
      case 'pack': {
        const what = stringFlag(flags, 'pack')!;
        const r = await packArtifact({ dist, out, what: what === 'dist' ? 'dist' : getTarget(what).name });
        return {
          json: { action, ...r },
          text: `packed ${r.entries.join(', ')} into ${r.file}`,
          summary: `### ci-artifact: packed \`${r.entries.join('`, `')}\``,
        };
      }
      case 'unpack': {
        const r = await unpackArtifacts({
          from: stringFlag(flags, 'unpack')!,
          dist,
          require: parseTargetList(stringFlag(flags, 'targets')),
          replace: Boolean(flags.replace),
        });
        return {
          json: { action, ...r },
          text: `unpacked ${r.placed.join(', ')} into ${dist} (binaries re-hashed: ${r.checkedTargets.join(', ') || 'none'})`,
        };
      }
      case 'save-check': {
        const target = getTarget(stringFlag(flags, 'save-check')!);
        const version = readPin(pinPath(flags)).version;
        const file = await saveCheck({ dist, version, target: target.name, out });
        return { json: { action, target: target.name, file }, text: `kept ${target.name}'s manifest as ${file}` };
      }
      case 'compare-checks': {
        const version = readPin(pinPath(flags)).version;
        const targets = parseTargetList(stringFlag(flags, 'targets'));
        const r = await compareChecks({ from: stringFlag(flags, 'compare-checks')!, dist, version, targets });
        if (r.failures.length) throw new CheckFailed(r.failures);
        r.reported.forEach((line) => log.warn(line));
        const rows = targets.map((t) => `| ${t.name} | \`${r.digests[t.name] ?? '?'}\` |`);
        return {
          json: { action, ok: true, digests: r.digests, reported: r.reported },
          text: `the same binaries, the same behaviour fingerprint and the same determinism digests (gated families) on ${targets.map((t) => t.name).join(', ')}`,
          summary:
            `### behaviour fingerprints, measured on each target's own runner\n\n| target | fingerprint digest ` +
            `|\n|---|---|\n${rows.join('\n')}${
              r.reported.length ? `\n\nReported, ` + `not failed:\n${r.reported.map((l) => `- ${l}`).join('\n')}` : ''
            }`,
        };
      }
      case 'compare-toolchain': {
        const target = getTarget(stringFlag(flags, 'compare-toolchain')!);
        const against = stringFlag(flags, 'against');
        if (!against) throw new UsageError('--compare-toolchain needs --against <dist|record.json>');
        const version = readPin(pinPath(flags)).version;
        const r = await compareToolchains({ dist, version, target, against });
        if (r.failures.length) throw new CheckFailed(r.failures);
        r.reported.forEach((line) => log.warn(line));
        const same = r.families - r.reported.length;
        const text = `${target.name}: ${same} of ${r.families} determinism families give the same digests and compute meters from both builds, the rest reported, not gated (math profile ${r.profile})`;
        return {
          json: { action, ok: true, target: target.name, ...r },
          text,
          summary:
            `### ${target.name}: shipped build against ${against}\n\n${text}` +
            (r.reported.length ? `\n\nReported, not failed:\n${r.reported.map((l) => `- ${l}`).join('\n')}` : ''),
        };
      }
      default:
        throw new UsageError(`unknown action ${action}`);
    }
  },
);
