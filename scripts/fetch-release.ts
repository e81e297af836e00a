#!/usr/bin/env -S npx tsx
// The release set on the engineer's machine: the verified dist/ of a release
// run (all four targets, darwin included), found and checked through the
// GitHub API, downloaded and unpacked with every check of ci-artifact.ts. Then
// `publish-all.ts stage --dry-run --dist <dir>` rehearses the release locally.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, log, registerSecret, stringFlag, PIN_OPTION } from './lib/core/cli.ts';
import { CheckFailed, nextStep, scriptHint, UsageError } from './lib/core/errors.ts';
import { fetchRelease, findReleaseRun } from './lib/ci/fetch-release.ts';
import { DIST_ARTIFACT_NAME, manifestPath } from './lib/core/layout.ts';
import { readManifest } from './lib/core/manifest.ts';
import { readPin, pinPath } from './lib/core/pin.ts';
import { REPOSITORY } from './lib/core/project.ts';
import { RELEASE_WORKFLOW, requiredJobs } from './lib/ci/release-tag.ts';
import { parseTargetList, TARGET_NAMES } from './lib/core/targets.ts';

await runCommand(
  {
    name: 'fetch-release.ts',
    summary:
      "download a release run's verified dist/ (all four targets) through the GitHub API, checked, " +
      'for a local publish-all.ts stage --dry-run',
    usage:
      'npx tsx scripts/fetch-release.ts (--tag vX.Y.Z | --run-id <id> | --tag vX.Y.Z --run-id <id>) [--dist dir] [--repo owner/name] [--dry-run]',
    options: [
      {
        name: 'tag',
        type: 'string',
        valueName: 'vX.Y.Z',
        description: `the newest verified ${RELEASE_WORKFLOW} run of the tag's commit (checked as check-release-tag.ts --build-run-id does)`,
      },
      {
        name: 'run-id',
        type: 'string',
        valueName: 'id',
        description:
          'this run; without --tag, a rehearsal run ("release vX.Y.Z (rehearsal)": no tag yet, the day before a release)',
      },
      {
        name: 'repo',
        type: 'string',
        valueName: 'owner/name',
        description: 'the repository',
        default: `$GITHUB_REPOSITORY or ${REPOSITORY}`,
      },
      {
        name: 'dist',
        type: 'string',
        valueName: 'dir',
        description: 'where to unpack the verified dist',
        default: 'dist-vX.Y.Z',
      },
      {
        name: 'targets',
        type: 'string',
        valueName: 'a,b',
        description: `targets the artifact must hold (${TARGET_NAMES.join(', ')})`,
        default: 'all',
      },
      { name: 'replace', type: 'boolean', description: 'replace what --dist already holds under the same names' },
      { name: 'dry-run', type: 'boolean', description: 'find and check the run and its artifact; download nothing' },
      PIN_OPTION,
    ],
    details: `
Then rehearse the release against the real set, locally:
  npx tsx scripts/publish-all.ts stage --dry-run --dist dist-vX.Y.Z

The run is asked of the REST API before anything is downloaded: with --tag, it
is a run of ${RELEASE_WORKFLOW} at the tag's commit, the push of the tag or a
manual run titled "release vX.Y.Z", completed, with these jobs successful:
${requiredJobs().join(', ')}.
With --run-id alone (a rehearsal run, before the tag exists): a completed
${RELEASE_WORKFLOW} run titled "release vX.Y.Z[ (rehearsal)]" with the same jobs
successful; its commit is not tied to a tag (said in the output).
The artifact (${DIST_ARTIFACT_NAME}) is checked against the sha256 GitHub
recorded at upload, must hold only xsnap-dist.tar, and is unpacked with
ci-artifact.ts's checks (no links or path escapes, every binary re-hashed
against its build-info.json, every target present); nothing lands in --dist
unless all pass.
Environment: GITHUB_TOKEN or GH_TOKEN (actions: read; never printed, sent only
to the API, not to the storage the download is redirected to), GITHUB_API_URL.`,
  },
  async (flags) => {
    const token = process.env.GITHUB_TOKEN || process.env.GH_TOKEN || undefined;
    registerSecret(token);
    const tag = stringFlag(flags, 'tag');
    const runId = stringFlag(flags, 'run-id');
    if (!tag && !runId) throw new UsageError('give --tag vX.Y.Z or --run-id <id>');
    const repo = stringFlag(flags, 'repo') ?? process.env.GITHUB_REPOSITORY ?? REPOSITORY;
    const targets = parseTargetList(stringFlag(flags, 'targets'));
    const api = { repo, apiUrl: process.env.GITHUB_API_URL, token };
    log.step(tag ? `finding a verified release run of ${tag} in ${repo}` : `checking run ${runId} of ${repo}`);
    const found = await findReleaseRun({ tag, runId, ...api });
    for (const p of found.passedOver) log.warn(`run ${p.id} passed over: ${p.why}`);
    const runText = `run ${found.run.id} (${found.run.title}, ${found.run.event} at ${found.run.headSha})`;
    log.ok(
      found.kind === 'tag'
        ? `${runText}: a verified release run of v${found.version}`
        : `${runText}: a verified rehearsal of v${found.version}; its commit is not tied to a tag`,
    );
    const dist = stringFlag(flags, 'dist') ?? `dist-v${found.version}`;
    const next = scriptHint('publish-all.ts', 'stage', '--dry-run', '--dist', dist);
    const pinVersion = readPin(pinPath(flags)).version;
    if (pinVersion !== found.version)
      log.warn(
        `this checkout's pin is ${pinVersion}, the run built ${found.version}: rehearse from a checkout of that run's commit (${found.run.headSha})`,
      );
    if (flags['dry-run']) {
      return {
        json: {
          dryRun: true,
          run: found.run,
          kind: found.kind,
          version: found.version,
          artifact: found.artifact,
          dist,
        },
        text: `would download artifact ${found.artifact.id} (${found.artifact.size} bytes) of run ${found.run.id} into ${dist}`,
      };
    }
    const r = await fetchRelease({ found, api, dist, targets, replace: Boolean(flags.replace) });
    // the unpacked manifest is of the version the run was checked for
    const mf = manifestPath(dist, found.version);
    if (!existsSync(mf))
      throw new CheckFailed([
        {
          check: 'artifact-manifest',
          subject: mf,
          expected: `the manifest of ${found.version}`,
          actual: 'missing from the artifact',
        },
      ]);
    const read = readManifest(mf);
    const mv = read.error === undefined ? String(read.unchecked.version) : `not JSON (${read.error})`;
    if (mv !== found.version) {
      throw new CheckFailed([{ check: 'artifact-manifest', subject: mf, expected: found.version, actual: mv }]);
    }
    log.ok(`unpacked ${r.placed.join(', ')} into ${dist}; binaries re-hashed: ${r.checkedTargets.join(', ')}`);
    return {
      json: {
        run: found.run,
        kind: found.kind,
        version: found.version,
        artifact: found.artifact,
        zipSha256: r.zipSha256,
        dist,
        placed: r.placed,
        checkedTargets: r.checkedTargets,
        next,
      },
      text: `fetched the verified ${found.version} set of run ${found.run.id} into ${dist}${nextStep(next, '')}`,
      summary: `### fetch-release: ${found.version} from run ${found.run.id}\n\n${found.kind === 'tag' ? 'a verified release run of the tag' : 'a verified rehearsal run (no tag)'}; targets ${r.checkedTargets.join(', ')} into \`${join(dist)}\`\n\nnext: \`${next}\``,
    };
  },
);
