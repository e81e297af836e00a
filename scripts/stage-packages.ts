#!/usr/bin/env -S npx tsx
// Stage 2: turn built binaries into npm platform packages and pack them.
import { runCommand, timed, log, PIN_OPTION, distOption } from './lib/core/cli.ts';
import { distDir } from './lib/core/paths.ts';
import { readPin, pinPath } from './lib/core/pin.ts';
import { parseTargetList, TARGET_NAMES } from './lib/core/targets.ts';
import { planPackages, makePackages, checkBuildForPackaging } from './lib/package/packages.ts';
import { writeTemplates } from './lib/package/package-text.ts';
import { CheckFailed, type Failure } from './lib/core/errors.ts';
import { stringFlag } from './lib/core/cli.ts';

await runCommand(
  {
    name: 'stage-packages.ts',
    summary: 'stage the @agoric/xsnap-<target> platform packages from built binaries and npm pack them',
    usage: 'npx tsx scripts/stage-packages.ts [--targets a,b] [--dist dir] [--dry-run]',
    options: [
      {
        name: 'targets',
        type: 'string',
        valueName: 'list',
        description: `comma-separated targets (${TARGET_NAMES.join(', ')})`,
        default: 'all',
      },
      distOption('build output and staging folder'),
      PIN_OPTION,
      { name: 'dry-run', type: 'boolean', description: 'print the plan, check the build output exists, write nothing' },
      {
        name: 'update-templates',
        type: 'boolean',
        description: 'regenerate packages/xsnap-<target>/ from the target table and stop',
      },
    ],
    details: `
Reads dist/<target>/{release,debug}/xsnap-worker and dist/<target>/build-info.json
(made by build-target.ts), copies packages/xsnap-<target>/ with the version stamped
and THIRD_PARTY_NOTICES.md filled from build-info, puts the binaries at
bin/release/xsnap-worker and bin/debug/xsnap-worker (mode 0755), and runs npm pack.

Writes dist/packages/<target>/ and dist/agoric-xsnap-<target>-X.Y.Z.tgz. The same
inputs always give the same tarball bytes. Nothing is replaced unless every
requested target packed.`,
  },
  async (flags) => {
    if (flags['update-templates']) {
      const files = await writeTemplates();
      return { json: { written: files }, text: `wrote ${files.length} template files under packages/` };
    }
    const pin = readPin(pinPath(flags));
    const targets = parseTargetList(stringFlag(flags, 'targets'));
    const plan = planPackages({ dist: distDir(flags), version: pin.version, targets });
    if (flags['dry-run']) {
      const failures: Failure[] = [];
      for (const t of targets) failures.push(...(await checkBuildForPackaging(plan.dist, t, plan.version)).failures);
      if (failures.length) throw new CheckFailed(failures);
      return {
        json: { plan },
        text: plan.targets.map((p) => `would pack ${p.packageName}@${plan.version} -> ${p.tarball}`).join('\n'),
      };
    }
    const staged = await timed(
      `packing ${targets.length} package${targets.length === 1 ? '' : 's'} of ${pin.version}`,
      () => makePackages(plan),
    );
    log.ok(`packed ${staged.length} package${staged.length === 1 ? '' : 's'}`);
    return {
      json: { plan, packages: staged },
      text: staged.map((s) => `${s.tarball}  sha256 ${s.sha256}`).join('\n'),
      summary:
        `### stage ${pin.version}\n\n| package | tarball | sha256 ` +
        `|\n|---|---|---|\n${staged
          .map((s) => `| ${s.packageName} | ${s.tarball.split('/').pop()} | \`${s.sha256}` + `\` |`)
          .join('\n')}`,
    };
  },
);
