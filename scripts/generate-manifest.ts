#!/usr/bin/env -S npx tsx
// Stage 3: the release manifest, the release bundle and SHA256SUMS, in dist/release/.
import { runCommand, timed, log, stringFlag, PIN_OPTION, distOption } from './lib/core/cli.ts';
import { distDir, MANIFESTS_DIR } from './lib/core/paths.ts';
import { readPin, pinPath } from './lib/core/pin.ts';
import { parseTargetList, TARGET_NAMES } from './lib/core/targets.ts';
import { planManifest, executeManifest } from './lib/release/release-dir.ts';
import { writeFingerprintFiles } from './lib/behaviour/measure.ts';
import { handoffFromDist } from './lib/release/handoff.ts';
import { HANDOFF_NAME } from './lib/core/layout.ts';
import { UsageError } from './lib/core/errors.ts';
import { writeFileAtomicSync } from './lib/core/fs.ts';
import { resolve } from 'node:path';

await runCommand(
  {
    name: 'generate-manifest.ts',
    summary: 'write the release manifest, the release bundle and SHA256SUMS into dist/release/',
    usage:
      'npx tsx scripts/generate-manifest.ts [--targets a,b] [--dist dir] [--save | --allow-unmeasured] [--fingerprint-only] | --handoff [--dist-tag tag]',
    options: [
      {
        name: 'targets',
        type: 'string',
        valueName: 'list',
        description: `comma-separated targets (${TARGET_NAMES.join(', ')})`,
        default: 'all',
      },
      distOption('build output folder'),
      PIN_OPTION,
      {
        name: 'save',
        type: 'boolean',
        description:
          'also copy the manifest into manifests/ (to commit with the release); refuses to overwrite a different one',
      },
      {
        name: 'manifests-dir',
        type: 'string',
        valueName: 'dir',
        description: 'where --save copies the manifest',
        default: 'manifests',
      },
      {
        name: 'fingerprint-only',
        type: 'boolean',
        description:
          'only measure the behaviour fingerprint of the targets runnable here into dist/<target>/fingerprint.json (macOS CI runners), for a manifest made on another host',
      },
      {
        name: 'allow-unmeasured',
        type: 'boolean',
        description:
          'a rehearsal: record a target this host cannot run, with nothing measured elsewhere, as unmeasured instead of refusing (never with --save; verify-artifacts --tag and publishing to npm refuse it)',
      },
      {
        name: 'fingerprints-from',
        type: 'string',
        valueName: 'dir',
        description:
          'a folder of manifests (or fingerprint.json files) measured on other hosts: fingerprints for the targets this host cannot run',
      },
      {
        name: 'handoff',
        type: 'boolean',
        description: `only write dist/release/${HANDOFF_NAME} from the manifest already there: its sha256 and the line agoric-sdk pins, the optionalDependencies block, the gate command (also the GitHub Release notes)`,
      },
      {
        name: 'dist-tag',
        type: 'string',
        valueName: 'tag',
        description: 'with --handoff: the dist-tag the release is published under, for the gate command',
        default: 'latest',
      },
      { name: 'dry-run', type: 'boolean', description: 'print the plan (or the hand-off) and stop' },
    ],
    details: `
Needs dist/<target>/ (build-target.ts) and dist/agoric-xsnap-<target>-X.Y.Z.tgz
(stage-packages.ts) for each target. Writes, replacing dist/release/ as a whole:

  xsnap-worker-manifest-X.Y.Z.json  per target: package, binary paths and sha256,
                                    tarball name/integrity/size, toolchain, behaviour
                                    fingerprint; the source identity. Canonical JSON,
                                    validated against manifests/xsnap-worker-manifest.schema.json
  xsnap-worker-binaries-X.Y.Z.tar.gz  dist/<target>/{release,debug}/xsnap-worker
  agoric-xsnap-<target>-X.Y.Z.tgz   copies of the npm tarballs
  SHA256SUMS                        all of the above: cd dist/release && sha256sum -c SHA256SUMS

The same inputs give the same bytes. A target this host cannot run (darwin on
Linux) takes its fingerprint from dist/<target>/fingerprint.json, written by
--fingerprint-only on a host that can run it, or from a manifest made there
(--fingerprints-from <dir>, e.g. the CI check legs' one-target manifests).
With neither, it refuses; --allow-unmeasured (a rehearsal of the four-target set
on Linux) records the target as "unmeasured" instead, and says so: such a
manifest is never a release (verify-artifacts --tag and publishing to npm refuse it).`,
  },
  async (flags) => {
    const pin = readPin(pinPath(flags));
    const targets = parseTargetList(stringFlag(flags, 'targets'));
    const dist = distDir(flags);
    if (stringFlag(flags, 'dist-tag') !== undefined && !flags.handoff)
      throw new UsageError('--dist-tag goes with --handoff');
    if (flags.handoff) {
      if (
        flags['fingerprint-only'] ||
        flags.save ||
        stringFlag(flags, 'fingerprints-from') ||
        flags['allow-unmeasured']
      )
        throw new UsageError(
          '--handoff writes the hand-off alone: no --fingerprint-only, --save, --fingerprints-from or --allow-unmeasured',
        );
      const h = handoffFromDist(dist, pin.version, stringFlag(flags, 'dist-tag'));
      if (!flags['dry-run']) {
        writeFileAtomicSync(h.file, h.text);
        log.ok(`${h.file}: manifest sha256 ${h.handoff.manifestSha256}`);
      }
      return {
        json: { handoff: h.handoff, file: h.file, written: !flags['dry-run'] },
        text: flags['dry-run'] ? h.text : `wrote ${h.file}\n${h.handoff.pinLine}\n${h.handoff.gate}`,
        summary: h.text,
      };
    }
    if (flags['fingerprint-only']) {
      const written = await timed('measuring behaviour fingerprints', () => writeFingerprintFiles(dist, targets));
      return {
        json: { fingerprints: written },
        text: written.map((w) => `${w.target}: ${w.digest}  (${w.file})`).join('\n'),
        summary: `### fingerprints\n\n${written.map((w) => `- ${w.target}: \`${w.digest}\``).join('\n')}`,
      };
    }
    if (flags.save && flags['allow-unmeasured'])
      throw new UsageError('--save keeps a release manifest: every target measured, no --allow-unmeasured');
    const saveTo = flags.save ? resolve(stringFlag(flags, 'manifests-dir') ?? MANIFESTS_DIR) : null;
    const fromFlag = stringFlag(flags, 'fingerprints-from');
    const plan = planManifest({
      dist,
      version: pin.version,
      targets,
      saveTo,
      fingerprintsFrom: fromFlag ? resolve(fromFlag) : null,
      allowUnmeasured: Boolean(flags['allow-unmeasured']),
    });
    if (flags['dry-run'])
      return { json: { plan }, text: `would write ${Object.values(plan.files).flat().join('\n  ')}` };
    const r = await timed(`manifest for ${plan.targets.join(', ')} at ${pin.version}`, () => executeManifest(plan));
    log.ok(`${plan.files.manifest}: sha256 ${r.manifestSha256}`);
    if (saveTo) log.ok(`saved a copy in ${saveTo}`);
    return {
      json: { plan, manifestSha256: r.manifestSha256, sums: r.sums, manifest: r.manifest },
      text: Object.entries(r.sums)
        .map(([n, h]) => `${h}  ${plan.outDir}/${n}`)
        .join('\n'),
      summary: `### manifest ${pin.version}\n\n| file | sha256 |\n|---|---|\n${Object.entries(r.sums)
        .map(([n, h]) => `| ${n} | \`${h}\` |`)
        .join('\n')}`,
    };
  },
);
