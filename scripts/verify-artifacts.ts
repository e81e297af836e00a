#!/usr/bin/env -S npx tsx
// Stage 4: check everything that ships, re-derived from bytes. Exit 0 only when all holds.
import { runCommand, timed, log, stringFlag, PIN_OPTION, distOption } from './lib/core/cli.ts';
import { formatFailure } from './lib/core/errors.ts';
import { distDir, MANIFESTS_DIR } from './lib/core/paths.ts';
import { readPin, pinPath } from './lib/core/pin.ts';
import { parseTargetList, TARGET_NAMES } from './lib/core/targets.ts';
import { describePipeline, verifyArtifacts, verifyRegistryOnly, type VerifyReport } from './lib/verify/index.ts';
import { tagFromEnv } from './lib/ci/release-tag.ts';
import { UsageError } from './lib/core/errors.ts';
import { normaliseRegistry, tokenFromEnv } from './lib/core/npm-client.ts';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { verifiedRecordPath } from './lib/core/layout.ts';
import { repoCommit, writeVerifiedRecord } from './lib/verify/verified-record.ts';

await runCommand(
  {
    name: 'verify-artifacts.ts',
    summary: 'verify the binaries, npm tarballs, release bundle, manifest and SHA256SUMS from their bytes',
    usage:
      'npx tsx scripts/verify-artifacts.ts [--targets a,b] [--dist dir] [--tag vX.Y.Z] [--published [--registry url] [--manifest file] [--dist-tag tag]]',
    options: [
      {
        name: 'targets',
        type: 'string',
        valueName: 'list',
        description: `comma-separated targets (${TARGET_NAMES.join(', ')}); the manifest must cover exactly these`,
        default: 'all',
      },
      distOption('folder holding the build output, tarballs and release/'),
      PIN_OPTION,
      {
        name: 'tag',
        type: 'string',
        valueName: 'vX.Y.Z',
        description: 'the release tag that must match the version',
        default: '$GITHUB_REF_NAME when $GITHUB_REF_TYPE is tag',
      },
      {
        name: 'published',
        type: 'boolean',
        description: 'also check the published packages on the registry against the manifest',
      },
      {
        name: 'registry',
        type: 'string',
        valueName: 'url',
        description: 'registry for --published',
        default: '$npm_config_registry or https://registry.npmjs.org/',
      },
      {
        name: 'manifest',
        type: 'string',
        valueName: 'file',
        description:
          'with --published: check the registry against this manifest alone (e.g. the GitHub Release asset), without any build output',
      },
      {
        name: 'dist-tag',
        type: 'string',
        valueName: 'tag',
        description: 'with --published: this dist-tag (e.g. latest) must point at X.Y.Z on every package',
      },
      {
        name: 'record',
        type: 'boolean',
        description:
          'when every check passes, write dist/verified-X.Y.Z.json (the digests of what was checked, and the commit): what publish-all, which runs no binary, compares against',
      },
      { name: 'skip-install', type: 'boolean', description: 'skip the npm install check per platform' },
      {
        name: 'skip-fingerprint',
        type: 'boolean',
        description:
          'do not run the fingerprint and determinism corpora here (the manifest values are still compared across targets)',
      },
      {
        name: 'allow-unmeasured',
        type: 'boolean',
        description:
          'a rehearsal: accept manifest targets recorded as unmeasured (generate-manifest --allow-unmeasured), noting them; never with --tag',
      },
      {
        name: 'manifests-dir',
        type: 'string',
        valueName: 'dir',
        description: "committed manifests: one for this version must equal dist's",
        default: 'manifests',
      },
    ],
    details:
      `
Checks, in this order, each from bytes read now and compared with an independent
record (each step, then the check names its failures carry):
${describePipeline()}

` +
      `The agoric-sdk gate, with only the release's manifest:
  npx tsx scripts/verify-artifacts.ts --published --manifest xsnap-worker-manifest-X.Y.Z.json [--dist-tag latest]
checks every package of the set on the registry (integrity, binaries' sha256) and
nothing local; the version comes from the manifest.`,
  },
  async (flags) => {
    const targets = parseTargetList(stringFlag(flags, 'targets'));
    const manifestFile = stringFlag(flags, 'manifest');
    const distTag = stringFlag(flags, 'dist-tag');
    if ((manifestFile || distTag) && !flags.published)
      throw new UsageError('--manifest and --dist-tag go with --published');
    if (flags.record && (flags.published || flags['skip-install'] || flags['skip-fingerprint']))
      throw new UsageError('--record is for a full verification of dist/: no --published or --skip-*');
    const tag = tagFromEnv(stringFlag(flags, 'tag'));
    if (tag !== undefined && flags['allow-unmeasured'])
      throw new UsageError(`--allow-unmeasured is for rehearsals: a release (${tag}) has every target measured`);
    // checked here, before anything prints it: credentials in it, http to the public registry, not http(s): exit 2
    const registryFlag = stringFlag(flags, 'registry') ?? process.env.npm_config_registry;
    const registry = registryFlag === undefined ? undefined : normaliseRegistry(registryFlag);
    // read once, here, for the registry's reads (--published)
    const token = flags.published ? tokenFromEnv() : undefined;
    let report: VerifyReport;
    if (manifestFile) {
      report = await timed(`checking the registry against ${manifestFile}`, () =>
        verifyRegistryOnly({
          manifestFile: resolve(manifestFile),
          targets,
          registry,
          distTag,
          tag,
          token,
          allowUnmeasured: Boolean(flags['allow-unmeasured']),
        }),
      );
    } else {
      const pin = readPin(pinPath(flags));
      // a record is only ever of the run that wrote it: an earlier one goes first
      if (flags.record) rmSync(verifiedRecordPath(distDir(flags), pin.version), { force: true });
      report = await timed(`verifying ${targets.map((t) => t.name).join(', ')} at ${pin.version}`, () =>
        verifyArtifacts({
          dist: distDir(flags),
          version: pin.version,
          targets,
          tag,
          published: Boolean(flags.published),
          registry,
          token,
          distTag,
          skipInstall: Boolean(flags['skip-install']),
          skipFingerprint: Boolean(flags['skip-fingerprint']),
          allowUnmeasured: Boolean(flags['allow-unmeasured']),
          manifestsDir: resolve(stringFlag(flags, 'manifests-dir') ?? MANIFESTS_DIR),
        }),
      );
    }
    if (flags.record && report.ok) {
      const file = writeVerifiedRecord(distDir(flags), report.version, report.verifiedBytes ?? {}, await repoCommit());
      log.ok(`recorded what was verified: ${file}`);
    }
    report.notes.forEach((n) => log.info(n));
    const total = Object.values(report.checks).reduce((a, b) => a + b, 0);
    const groups = Object.keys(report.checks).length;
    for (const f of report.failures) log.error(formatFailure(f));
    if (report.ok) log.ok(`${total} checks in ${groups} groups passed`);
    const text = report.ok
      ? `verified ${report.targets.join(', ')} at ${report.version}: ${total} checks passed`
      : `${report.failures.length} of ${total} checks failed:\n` +
        report.failures.map((f) => '  ' + formatFailure(f)).join('\n');
    const summary = [
      `### verify ${report.version}: ${report.ok ? 'passed' : `${report.failures.length} failure(s)`}`,
      '',
      `Targets: ${report.targets.join(', ')}; ${total} checks in ${groups} groups.`,
      ...(report.fingerprints
        ? [
            '',
            '| target | fingerprint | measured here |',
            '|---|---|---|',
            ...Object.entries(report.fingerprints).map(
              ([t, f]) => `| ${t} | \`${f.digest.slice(0, 16)}\` | ${f.measuredHere ? 'yes' : 'no (manifest)'} |`,
            ),
          ]
        : []),
      ...(report.failures.length
        ? ['', ...report.failures.map((f) => `- ${formatFailure(f).replace(/\n\s+/g, '; ')}`)]
        : []),
    ].join('\n');
    return { json: report, text, summary, exitCode: report.ok ? 0 : 1 };
  },
);
