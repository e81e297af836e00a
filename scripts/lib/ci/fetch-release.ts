// The release set on the engineer's machine: find a release run's verified
// dist/ artifact through the GitHub REST API, check the run as a publish-only
// release does (check-release-tag.ts --build-run-id), download the artifact,
// and unpack it with ci-artifact.ts's checks. Then publish-all.ts stage --dry-run
// runs locally against the real four-target set (darwin is built only in CI).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { CheckFailed, OperationError, UsageError, type Failure } from '../core/errors.ts';
import { sha256Hex } from '../core/hash.ts';
import { entryProblem, unpackArtifacts, type UnpackResult } from './ci-artifact.ts';
import { DIST_ARTIFACT_FILE, DIST_ARTIFACT_NAME } from '../core/layout.ts';
import {
  checkBuildRun,
  checkRunId,
  readReleaseRun,
  readRunJobs,
  releaseRunTitle,
  runFields,
  runJobProblems,
  RELEASE_WORKFLOW,
  tagVersion,
  type BuildRun,
} from './release-tag.ts';
import { apiBase, checkRepo, githubGet, type GitHubRepoApi } from './github.ts';
import type { Target } from '../core/targets.ts';
import { httpRequest, type HttpAnswer } from '../core/net.ts';

/** The artifact verify.yml uploads in a release run (release or rehearsal): the packed verified dist/. */

export interface Artifact {
  id: number;
  name: string;
  size: number;
  expired: boolean;
  /** "sha256:<hex>" as GitHub records it at upload (newer artifacts) */
  digest?: string;
  url: string;
}

export interface FoundRun {
  run: BuildRun;
  /**
   * tag: a release run of the tag's commit (as --build-run-id checks); rehearsal: a completed, verified release.yml run
   * whose title names the version
   */
  kind: 'tag' | 'rehearsal';
  version: string;
  artifact: Artifact;
  /** runs looked at and why they were passed over (--tag) */
  passedOver: Array<{ id: string; why: string }>;
}

async function artifactOf(api: GitHubRepoApi, runId: string): Promise<Artifact | { problem: string }> {
  const r = await githubGet(
    api,
    `/actions/runs/${runId}/artifacts?name=${DIST_ARTIFACT_NAME}&per_page=100`,
    `about the artifacts of run ${runId}`,
  );
  if (r.status !== 200)
    throw new OperationError(
      `${r.url} answered ${r.status} ${r.statusText}: cannot list the artifacts of run ${runId}`,
    );
  const list = ((r.body as { artifacts?: Array<Record<string, unknown>> }).artifacts ?? []).filter(
    (a) => a.name === DIST_ARTIFACT_NAME,
  );
  if (list.length === 0)
    return { problem: `no artifact ${DIST_ARTIFACT_NAME} (only a release run's verify job uploads one)` };
  if (list.length > 1) return { problem: `${list.length} artifacts named ${DIST_ARTIFACT_NAME}` };
  const a = list[0];
  if (a.expired) return { problem: `its ${DIST_ARTIFACT_NAME} artifact has expired (kept 90 days)` };
  return {
    id: Number(a.id),
    name: String(a.name),
    size: Number(a.size_in_bytes),
    expired: false,
    digest: typeof a.digest === 'string' ? a.digest : undefined,
    url: String(a.archive_download_url),
  };
}

/**
 * A rehearsal run (no tag yet, the day before a release): a completed
 * release.yml run titled "release vX.Y.Z (rehearsal)" or "release vX.Y.Z",
 * whose every build and check job succeeded. Its commit is not tied to a tag.
 */
async function checkRehearsalRun(api: GitHubRepoApi, runId: string): Promise<{ run: BuildRun; version?: string }> {
  const subject = `run ${runId} of ${api.repo}`;
  const failures: Failure[] = [];
  const run = await readReleaseRun(api, runId, subject, failures);
  if (!run) throw new CheckFailed(failures);
  const out: BuildRun = { id: runId, tagCommit: null, ...runFields(run), failures };
  const m = /^release (v\d+\.\d+\.\d+)(?: \(rehearsal\))?$/.exec(run.display_title ?? '');
  if (!m)
    failures.push({
      check: 'build-run-event',
      subject,
      expected:
        'a release run titled "release vX.Y.Z" or "release vX.Y.Z (rehearsal)" (not a publish-only run: it builds nothing)',
      actual: `"${run.display_title}"`,
    });
  failures.push(...runJobProblems(await readRunJobs(api, runId, subject), subject));
  return { run: out, version: m ? tagVersion(m[1]) : undefined };
}

/**
 * The run whose verified dist to fetch. `tag`: the given run (`runId`) or the
 * newest release.yml run of the tag's commit that passes checkBuildRun and
 * still has its artifact. `runId` alone: a rehearsal run (checkRehearsalRun).
 */
export async function findReleaseRun(opts: { tag?: string; runId?: string } & GitHubRepoApi): Promise<FoundRun> {
  checkRepo(opts.repo);
  if (!opts.tag && !opts.runId) throw new UsageError('give --tag vX.Y.Z or --run-id <id>');
  if (opts.runId) checkRunId(opts.runId);
  const api: GitHubRepoApi = { repo: opts.repo, apiUrl: opts.apiUrl, token: opts.token };
  if (!opts.tag) {
    const { run, version } = await checkRehearsalRun(api, opts.runId!);
    if (run.failures.length) throw new CheckFailed(run.failures);
    const a = await artifactOf(api, run.id);
    if ('problem' in a)
      throw new CheckFailed([
        { check: 'artifact', subject: `run ${run.id}`, expected: DIST_ARTIFACT_NAME, actual: a.problem },
      ]);
    return { run, kind: 'rehearsal', version: version!, artifact: a, passedOver: [] };
  }
  const version = tagVersion(opts.tag);
  const tag = `v${version}`;
  const ids: string[] = [];
  if (opts.runId) ids.push(opts.runId);
  else {
    const c = await githubGet(api, `/commits/tags/${encodeURIComponent(tag)}`, `which commit ${tag} is`);
    if (c.status !== 200)
      throw new CheckFailed([
        {
          check: 'tag-exists',
          subject: tag,
          expected: `a tag ${tag} in ${api.repo}`,
          actual: `${c.url} answered ${c.status}`,
          hint: 'before the tag exists, fetch a rehearsal run with --run-id <id>',
        },
      ]);
    const sha = String((c.body as { sha?: unknown }).sha);
    const workflow = RELEASE_WORKFLOW.split('/').pop()!;
    const r = await githubGet(
      api,
      `/actions/workflows/${workflow}/runs?head_sha=${sha}&status=completed&per_page=100`,
      `the release runs of ${tag}`,
    );
    if (r.status !== 200)
      throw new OperationError(`${r.url} answered ${r.status} ${r.statusText}: cannot list the release runs of ${tag}`);
    const runs = (
      (r.body as { workflow_runs?: Array<{ id?: number; created_at?: string }> }).workflow_runs ?? []
    ).slice();
    runs.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)) || Number(b.id) - Number(a.id));
    ids.push(...runs.map((x) => String(x.id)));
    if (ids.length === 0)
      throw new CheckFailed([
        {
          check: 'build-run-exists',
          subject: `${tag} (${sha})`,
          expected: `a completed ${RELEASE_WORKFLOW} run of the tag's commit`,
          actual: 'none',
        },
      ]);
  }
  const passedOver: FoundRun['passedOver'] = [];
  let lastFailures: Failure[] = [];
  for (const id of ids) {
    const run = await checkBuildRun({ runId: id, tag, ...api });
    if (run.failures.length) {
      passedOver.push({ id, why: run.failures.map((f) => `${f.check}: ${f.actual}`).join('; ') });
      lastFailures = run.failures;
      continue;
    }
    const a = await artifactOf(api, id);
    if ('problem' in a) {
      passedOver.push({ id, why: a.problem });
      lastFailures = [{ check: 'artifact', subject: `run ${id}`, expected: DIST_ARTIFACT_NAME, actual: a.problem }];
      continue;
    }
    return { run, kind: 'tag', version, artifact: a, passedOver };
  }
  if (ids.length === 1) throw new CheckFailed(lastFailures);
  throw new CheckFailed([
    {
      check: 'build-run-verified',
      subject: tag,
      expected: `a verified release run of ${tag} with its ${DIST_ARTIFACT_NAME} artifact`,
      actual: `none of ${ids.length} runs: ${passedOver.map((p) => `${p.id} (${p.why})`).join('; ')}`,
      hint: 'name a run with --run-id to see every reason',
    },
  ]);
}

/**
 * Download an artifact's zip: the API answers with a redirect to storage
 * elsewhere, which never gets the token. Checked against the digest GitHub
 * recorded at upload, when it has one.
 */
export async function downloadArtifact(api: GitHubRepoApi, a: Artifact): Promise<Buffer> {
  const auth: Record<string, string> = api.token ? { authorization: `Bearer ${api.token}` } : {};
  const apiOrigin = new URL(apiBase(api) + '/').origin;
  let url = a.url;
  let res: HttpAnswer | undefined;
  for (let hop = 0; hop < 5; hop++) {
    const sameOrigin = new URL(url).origin === apiOrigin;
    try {
      res = await httpRequest(url, {
        headers: { accept: 'application/vnd.github+json', ...(sameOrigin ? auth : {}) },
        redirect: 'manual',
        timeoutMs: 300_000,
      });
    } catch (e) {
      throw new OperationError(`cannot download artifact ${a.id} from ${new URL(url).origin}: ${(e as Error).message}`);
    }
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      url = new URL(loc, url).toString();
      continue;
    }
    break;
  }
  if (!res || !res.ok)
    throw new OperationError(
      `downloading artifact ${a.id} answered ${res?.status} ${res?.statusText} (${new URL(url).origin})`,
    );
  const data = res.body!;
  if (a.digest) {
    const want = a.digest.replace(/^sha256:/, '');
    const got = sha256Hex(data);
    if (got !== want)
      throw new CheckFailed([
        {
          check: 'artifact-digest',
          subject: `artifact ${a.id} (${a.name})`,
          expected: `sha256 ${want} (recorded by GitHub at upload)`,
          actual: `sha256 ${got}`,
          hint: 'the download was altered or cut short: fetch again',
        },
      ]);
  }
  return data;
}

/** The artifact's zip holds the one tar verify.yml uploaded, and nothing else. */
export function tarFromZip(zip: Buffer, subject: string): Buffer {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(new Uint8Array(zip));
  } catch (e) {
    throw new CheckFailed([
      { check: 'artifact-zip', subject, expected: 'a zip archive', actual: (e as Error).message },
    ]);
  }
  const names = Object.keys(files);
  const failures: Failure[] = [];
  for (const n of names) {
    const p = entryProblem(n, n.endsWith('/') ? 'Directory' : 'File');
    if (p)
      failures.push({ check: 'artifact-entry', subject: `${subject}: ${n}`, expected: 'a plain file name', actual: p });
  }
  if (names.length !== 1 || names[0] !== DIST_ARTIFACT_FILE)
    failures.push({
      check: 'artifact-zip',
      subject,
      expected: `exactly ${DIST_ARTIFACT_FILE}`,
      actual: names.join(', ') || 'nothing',
    });
  if (failures.length) throw new CheckFailed(failures);
  return Buffer.from(files[DIST_ARTIFACT_FILE]);
}

/**
 * Download, check and unpack into `dist` (ci-artifact.ts's checks: entries, binaries against build-info, every target
 * present).
 */
export async function fetchRelease(opts: {
  found: FoundRun;
  api: GitHubRepoApi;
  dist: string;
  targets: Target[];
  replace?: boolean;
}): Promise<UnpackResult & { zipSha256: string }> {
  const zip = await downloadArtifact(opts.api, opts.found.artifact);
  const tar = tarFromZip(zip, `artifact ${opts.found.artifact.id} of run ${opts.found.run.id}`);
  const work = await mkdtemp(join(tmpdir(), 'xsnap-fetch-'));
  try {
    await writeFile(join(work, DIST_ARTIFACT_FILE), tar);
    const r = await unpackArtifacts({ from: work, dist: opts.dist, require: opts.targets, replace: opts.replace });
    return { ...r, zipSha256: sha256Hex(zip) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export { releaseRunTitle };
