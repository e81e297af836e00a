#!/usr/bin/env -S npx tsx
// Before a release builds anything: the tag is vX.Y.Z, equals the pinned
// @agoric/xsnap version, and no GitHub Release carries it yet. With
// --build-run-id (a publish-only release), also that the earlier run whose
// verified dist is about to be downloaded is a verified release run of the
// tag's commit (see checkBuildRun in lib/release-tag.ts).
import { appendFileSync } from 'node:fs';
import { log, registerSecret, runCommand, stringFlag, PIN_OPTION } from './lib/core/cli.ts';
import { UsageError } from './lib/core/errors.ts';
import { readPin, pinPath } from './lib/core/pin.ts';
import { CheckFailed } from './lib/core/errors.ts';
import {
  checkBuildRun,
  checkRunId,
  checkReleaseTag,
  releaseCommit,
  tagFromEnv,
  repositoryProblems,
  requiredJobs,
  RELEASE_WORKFLOW,
  SKIPPED_BY_DESIGN,
  startedFromProblems,
  VERIFIED_JOB,
  type BuildRun,
} from './lib/ci/release-tag.ts';
import { REPOSITORY } from './lib/core/project.ts';

await runCommand(
  {
    name: 'check-release-tag.ts',
    summary: 'check a release tag: vX.Y.Z, matches the source pin, not released yet',
    usage:
      'npx tsx scripts/check-release-tag.ts --tag vX.Y.Z [--repo owner/name] [--ref <git ref>] [--run-commit <sha>] [--started-from <ref> --rehearsal true|false] [--build-run-id <id>] [--github-output]',
    options: [
      {
        name: 'tag',
        type: 'string',
        valueName: 'vX.Y.Z',
        description: 'the release tag',
        default: '$GITHUB_REF_NAME on a tag push',
      },
      {
        name: 'repo',
        type: 'string',
        valueName: 'owner/name',
        description: 'repository whose GitHub Releases to look in (none: the "new" check is skipped)',
        default: '$GITHUB_REPOSITORY',
      },
      {
        name: 'ref',
        type: 'string',
        valueName: 'ref',
        description: 'git ref the release builds: resolved to its commit (sha=) once, for every later job',
        default: 'refs/tags/<tag>',
      },
      {
        name: 'run-commit',
        type: 'string',
        valueName: 'sha',
        description:
          'the commit the workflow run was started at (github.sha): --ref must still point at it (a tag or branch moved since is refused)',
      },
      {
        name: 'build-run-id',
        type: 'string',
        valueName: 'id',
        description: `also check that workflow run <id> is a verified ${RELEASE_WORKFLOW} run of the tag's commit (publish-only releases)`,
      },
      {
        name: 'started-from',
        type: 'string',
        valueName: 'ref',
        description:
          'the ref the workflow run was started from (github.ref); with --rehearsal false it must be refs/tags/<tag>',
      },
      {
        name: 'rehearsal',
        type: 'string',
        valueName: 'true|false',
        description: `whether the run is a rehearsal; false: a real release, which must run from the tag (--started-from) in ${REPOSITORY}`,
      },
      {
        name: 'github-output',
        type: 'boolean',
        description: 'append tag=, version=, ref= and sha= (the commit of --ref) to $GITHUB_OUTPUT',
      },
      PIN_OPTION,
    ],
    details: `
Exit 2 if the tag is not vX.Y.Z; exit 1 if it differs from the pinned version, a
published GitHub Release already exists for it (a draft is fine: a re-run updates
it; the releases list shows drafts only to a token with push access), or --ref
does not point at --run-commit. With a repository, --ref is resolved to the commit
it points at (GET /repos/{repo}/commits/{ref}); --github-output writes it as sha=,
and every later job of release.yml checks out that commit, never the tag's name.
Environment: GITHUB_TOKEN (read-only is enough; \`actions: read\` for
--build-run-id), GITHUB_API_URL (default https://api.github.com).

--rehearsal false (a real release) also requires --started-from refs/tags/<tag>
(start the workflow with "Use workflow from: <tag>": the npm-publish environment
admits only v* tags) and --repo ${REPOSITORY} (npm provenance checks it).

--build-run-id <id> (exit 1 unless all hold), asked of the REST API:
  - the run is of ${RELEASE_WORKFLOW} (not a pull request's build.yml run);
  - its head_sha is the commit of the tag (so the workflow and the code it built are the tag's);
  - it is the push of the tag, or a manual run titled "release vX.Y.Z" (a
    rehearsal's run-name says "(rehearsal)"; the API does not show inputs);
  - it has completed, and these jobs succeeded: ${requiredJobs()
    .map((j) => `"${j}"`)
    .join(', ')};
    ${SKIPPED_BY_DESIGN.map((j) => `"${j}"`).join(', ')} is skipped by design in a release; any other
    build / verify job succeeded. The run's own conclusion may be "failure": its
    publish job failing is what a publish-only release is for.`,
  },
  async (flags) => {
    registerSecret(process.env.GITHUB_TOKEN);
    const tag = tagFromEnv(stringFlag(flags, 'tag'));
    if (!tag) throw new UsageError('--tag vX.Y.Z is required (or run on a tag push)');
    const pin = readPin(pinPath(flags));
    const repo = stringFlag(flags, 'repo') ?? process.env.GITHUB_REPOSITORY;
    const runId = stringFlag(flags, 'build-run-id');
    if (runId !== undefined) checkRunId(runId);
    const api = { repo, apiUrl: process.env.GITHUB_API_URL, token: process.env.GITHUB_TOKEN };
    const rehearsalFlag = stringFlag(flags, 'rehearsal');
    if (rehearsalFlag !== undefined && rehearsalFlag !== 'true' && rehearsalFlag !== 'false')
      throw new UsageError(`--rehearsal must be true or false, not "${rehearsalFlag}"`);
    const startedFrom = stringFlag(flags, 'started-from');
    if ((rehearsalFlag === undefined) !== (startedFrom === undefined))
      throw new UsageError('--started-from and --rehearsal go together');
    if (rehearsalFlag !== undefined) {
      // before anything is asked of GitHub: a release started from a branch (or in a fork) stops here
      const rehearsal = rehearsalFlag === 'true';
      const early = [
        ...startedFromProblems({ tag, startedFrom: startedFrom!, rehearsal }),
        ...repositoryProblems(repo, rehearsal),
      ];
      if (early.length) throw new CheckFailed(early);
    }
    const runCommit = stringFlag(flags, 'run-commit');
    if (runCommit !== undefined && !/^[0-9a-f]{40}$/.test(runCommit))
      throw new UsageError(`--run-commit "${runCommit}" is not a 40-hex commit (github.sha)`);
    const r = await checkReleaseTag({ tag, pinVersion: pin.version, pinFile: pin.file, ...api });
    const ref = stringFlag(flags, 'ref') ?? `refs/tags/${r.tag}`;
    if (!/^refs\/(tags|heads)\/[^\s]+$/.test(ref))
      throw new UsageError(`--ref "${ref}" is not refs/tags/<tag> or refs/heads/<branch>`);
    if (!repo && (flags['github-output'] || runCommit !== undefined))
      throw new UsageError(
        '--github-output and --run-commit resolve --ref on GitHub: give --repo owner/name or $GITHUB_REPOSITORY',
      );
    const commit = repo ? await releaseCommit({ ...api, repo }, ref, runCommit) : { sha: null, failures: [] };
    let run: BuildRun | undefined;
    if (runId !== undefined) {
      log.step(`checking run ${runId}: a verified ${RELEASE_WORKFLOW} run of ${r.tag}`);
      run = await checkBuildRun({ runId, tag: r.tag, ...api });
    }
    const failures = [...r.failures, ...commit.failures, ...(run?.failures ?? [])];
    if (failures.length) throw new CheckFailed(failures);
    if (r.newness === 'not checked')
      log.warn(`no repository given: did not check that ${r.tag} has no GitHub Release yet`);
    if (flags['github-output']) {
      const out = process.env.GITHUB_OUTPUT;
      if (!out) throw new UsageError('--github-output needs $GITHUB_OUTPUT (set by GitHub Actions)');
      appendFileSync(out, `tag=${r.tag}\nversion=${r.version}\nref=${ref}\nsha=${commit.sha}\n`);
    }
    const runText = run ? `; run ${run.id} is a verified release run of ${run.tagCommit} (${run.event})` : '';
    return {
      json: { ...r, ref, commit: commit.sha, ...(run ? { buildRun: run } : {}) },
      text: `${r.tag}: matches the pin (${pin.version})${
        r.newness === 'new' ? ', no GitHub ' + 'Release yet' : r.newness === 'draft' ? ', a draft release only' : ''
      }; builds ${ref}${commit.sha ? ` at ${commit.sha}` : ''}${runText}`,
      summary:
        `### release tag ${r.tag}\n\nmatches the pin ${pin.version}; GitHub Release: ${r.newness}` +
        `; builds \`${ref}\`${commit.sha ? ` at \`${commit.sha}\`` : ''}${
          run
            ? `\n\nbuild run [${run.id}](${run.url ?? ''}): ${run.event} at \`${run.headSha}\`, \`${VERIFIED_JOB}\` ${run.verifiedJob}`
            : ''
        }`,
    };
  },
);
