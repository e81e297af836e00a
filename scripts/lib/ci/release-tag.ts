// The release tag: `vX.Y.Z`, the version in the source pin, and not released
// yet (no GitHub Release carries it). release.yml checks this before building.
import { OperationError, UsageError, type Failure } from '../core/errors.ts';
import { REPOSITORY } from '../core/project.ts';
import { TARGETS } from '../core/targets.ts';
import { apiBase, checkRepo, githubGet, githubRequest, type GitHubAnswer, type GitHubRepoApi } from './github.ts';

const TAG = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

/** The X.Y.Z of a `vX.Y.Z` tag (also accepts `refs/tags/vX.Y.Z`); a usage error otherwise. */
export function tagVersion(tag: string): string {
  const name = tag.replace(/^refs\/tags\//, '');
  if (!TAG.test(name)) throw new UsageError(`release tag "${tag}" is not of the form vX.Y.Z (e.g. v0.15.0)`);
  return name.slice(1);
}

/**
 * The release tag: `flag` when given, else GITHUB_REF_NAME when the workflow
 * runs on a tag push (GITHUB_REF_TYPE is tag). The one place that reads it
 * from the environment.
 */
export function tagFromEnv(flag: string | undefined, env = process.env): string | undefined {
  if (flag) return flag;
  return env.GITHUB_REF_TYPE === 'tag' && env.GITHUB_REF_NAME ? env.GITHUB_REF_NAME : undefined;
}

export type Newness = 'new' | 'draft' | 'released' | 'not checked';

/** A GitHub Release as the releases API describes it, as far as we read it. */
export interface ReleaseJson {
  id: number;
  tag_name: string;
  draft: boolean;
  name?: string | null;
  body?: string | null;
  html_url?: string;
  upload_url?: string;
  assets?: Array<{ id: number; name: string; size?: number; digest?: string | null }>;
}

/** Pages of the releases list followed at most (100 releases a page). */
export const MAX_RELEASE_PAGES = 50;

/**
 * Every GitHub Release of `tag`, drafts included, from the paginated list
 * (`GET /repos/{repo}/releases`, following the Link header's rel="next"). The by-tag
 * endpoint (`/releases/tags/{tag}`) does not return drafts, and the list shows drafts only to a token with push
 * access (contents: write): with a read-only token a draft is invisible here.
 */
export async function tagReleases(api: GitHubRepoApi, tag: string): Promise<ReleaseJson[]> {
  const out: ReleaseJson[] = [];
  const base = apiBase(api);
  let url: string | undefined = `${base}/repos/${api.repo}/releases?per_page=100`;
  for (let page = 1; url; page++) {
    if (page > MAX_RELEASE_PAGES)
      throw new OperationError(
        `more than ${MAX_RELEASE_PAGES} pages of releases in ${api.repo}: stopped looking for ${tag} (raise MAX_RELEASE_PAGES in scripts/lib/ci/release-tag.ts)`,
      );
    if (!url.startsWith(`${base}/`))
      throw new OperationError(`the releases list of ${api.repo} points its next page outside ${base}: ${url}`);
    const r: GitHubAnswer = await githubRequest(api, { url }, `which releases ${tag} has`);
    if (r.status !== 200 || !Array.isArray(r.body))
      throw new OperationError(
        `${r.url} answered ${r.status} ${r.statusText}${r.status === 200 ? ' without a list' : ''}: cannot tell which GitHub Releases ${tag} has`,
      );
    out.push(...(r.body as ReleaseJson[]).filter((x) => x.tag_name === tag));
    url = r.next;
  }
  return out;
}

/** New (no release), a draft only (a re-run may go on), or released (a published release exists). */
export function newnessOf(releases: ReleaseJson[]): Newness {
  if (releases.some((x) => !x.draft)) return 'released';
  return releases.length ? 'draft' : 'new';
}

/**
 * Whether a GitHub Release already exists for `tag`: published ('released'), only as a draft ('draft'), or not
 * at all ('new'); asked of the releases list, which shows drafts to a token with push access only.
 */
export async function releaseNewness(opts: {
  tag: string;
  repo?: string;
  apiUrl?: string;
  token?: string;
}): Promise<Newness> {
  if (!opts.repo) return 'not checked';
  checkRepo(opts.repo);
  return newnessOf(await tagReleases({ ...opts, repo: opts.repo }, opts.tag));
}

/**
 * The commit a git ref points at now, asked of the API (`GET /repos/{repo}/commits/{ref}`, with the ref as
 * `tags/vX.Y.Z` or `heads/<branch>`; an annotated tag is peeled to its commit): the sha, or a failure named `check`.
 */
export async function refCommit(
  api: GitHubRepoApi,
  ref: string,
  check: string,
): Promise<{ sha: string | null; failures: Failure[] }> {
  const short = ref.replace(/^refs\//, '');
  const c = await githubGet(
    api,
    `/commits/${short.split('/').map(encodeURIComponent).join('/')}`,
    `which commit ${ref} is`,
  );
  if (c.status === 200) {
    const sha = (c.body as { sha?: unknown }).sha;
    if (typeof sha === 'string' && /^[0-9a-f]{40}$/.test(sha)) return { sha, failures: [] };
    return {
      sha: null,
      failures: [
        {
          check,
          subject: ref,
          expected: 'the 40-hex commit it points at',
          actual: `${c.url} answered without one (${JSON.stringify(sha)})`,
        },
      ],
    };
  }
  if (c.status === 404 || c.status === 422)
    return {
      sha: null,
      failures: [
        {
          check,
          subject: ref,
          expected: `${ref} in ${api.repo}`,
          actual: `${c.url} answered ${c.status}`,
          hint: 'push it first; a release builds and publishes what a ref in the repository points at',
        },
      ],
    };
  throw new OperationError(`${c.url} answered ${c.status} ${c.statusText}: cannot tell which commit ${ref} is`);
}

/**
 * Whether `sha` is an annotated tag object pointing at `commit` (`GET /repos/{repo}/git/tags/{sha}`): a push of an
 * annotated tag names the tag object in some places of the event; it stands for the same commit.
 */
async function peelsTo(api: GitHubRepoApi, sha: string, commit: string): Promise<boolean> {
  const t = await githubGet(api, `/git/tags/${sha}`, `whether ${sha} is an annotated tag of ${commit}`);
  if (t.status === 404 || t.status === 422) return false;
  if (t.status !== 200)
    throw new OperationError(`${t.url} answered ${t.status} ${t.statusText}: cannot tell what ${sha} is`);
  const o = (t.body as { object?: { type?: string; sha?: string } }).object;
  return o?.type === 'commit' && o.sha === commit;
}

/**
 * The one commit a release run builds, verifies and publishes: what `ref` points at, which must be the commit the
 * run was started at (`github.sha`): a tag or branch moved since would make the jobs disagree.
 */
export async function releaseCommit(
  api: GitHubRepoApi,
  ref: string,
  runCommit: string | undefined,
): Promise<{ sha: string | null; failures: Failure[] }> {
  const r = await refCommit(api, ref, 'ref-commit');
  if (r.sha && runCommit !== undefined && r.sha !== runCommit && !(await peelsTo(api, runCommit, r.sha)))
    r.failures.push({
      check: 'ref-commit',
      subject: ref,
      expected: `${runCommit} (the commit this run was started at, github.sha)`,
      actual: `${r.sha}: ${ref} moved since the run started`,
      hint: 'a released tag is never moved; if the tag (or the rehearsal branch) was moved on purpose before anything was published, start the workflow again',
    });
  return r;
}

export interface TagCheck {
  tag: string;
  version: string;
  pinVersion: string;
  newness: Newness;
  failures: Failure[];
}

export async function checkReleaseTag(opts: {
  tag: string;
  pinVersion: string;
  pinFile: string;
  repo?: string;
  apiUrl?: string;
  token?: string;
}): Promise<TagCheck> {
  const tag = opts.tag.replace(/^refs\/tags\//, '');
  const version = tagVersion(tag);
  const failures: Failure[] = [];
  if (version !== opts.pinVersion) {
    failures.push({
      check: 'tag-matches-pin',
      subject: tag,
      expected: `v${opts.pinVersion} (version in ${opts.pinFile})`,
      actual: tag,
      hint: 'tag the commit whose pin names this version, or update the pin first',
    });
  }
  const newness = await releaseNewness({ tag, repo: opts.repo, apiUrl: opts.apiUrl, token: opts.token });
  if (newness === 'released') {
    failures.push({
      check: 'tag-is-new',
      subject: tag,
      expected: 'no GitHub Release yet',
      actual: `${opts.repo} already has a release ${tag} (published; a draft alone would be fine)`,
      hint: 'a released version is never rebuilt or republished: release a new version (see RELEASING.md)',
    });
  }
  return { tag, version, pinVersion: opts.pinVersion, newness, failures };
}

/**
 * A release (not a rehearsal) must be started from the tag itself
 * (`github.ref` = refs/tags/vX.Y.Z): the npm-publish environment admits only
 * v* tags, so a run from a branch would be refused only at the publish job,
 * after building; and the workflow that runs must be the tag's. A rehearsal
 * may run from any branch.
 */
export function startedFromProblems(opts: { tag: string; startedFrom: string; rehearsal: boolean }): Failure[] {
  const tag = opts.tag.replace(/^refs\/tags\//, '');
  if (opts.rehearsal || opts.startedFrom === `refs/tags/${tag}`) return [];
  return [
    {
      check: 'started-from-tag',
      subject: `release ${tag}`,
      expected: `a run started from refs/tags/${tag}`,
      actual: `a run started from ${opts.startedFrom || '(no ref)'}`,
      hint: `Actions → release → Run workflow → "Use workflow from": the tag ${tag} (not a branch); the npm-publish environment accepts only v* tags. A rehearsal may run from a branch.`,
    },
  ];
}

/**
 * A real release runs in REPOSITORY only: npm provenance (trusted publishing)
 * requires each package's repository.url to name the repository whose workflow
 * publishes it, and the packages name REPOSITORY.
 */
export function repositoryProblems(repo: string | undefined, rehearsal: boolean): Failure[] {
  if (rehearsal || repo === REPOSITORY) return [];
  return [
    {
      check: 'release-repository',
      subject: repo ?? '(no repository)',
      expected: REPOSITORY,
      actual: repo ?? 'none given (--repo or $GITHUB_REPOSITORY)',
      hint: `the packages' repository.url names ${REPOSITORY}; npm provenance refuses a publish from any other repository (a fork may rehearse only)`,
    },
  ];
}

// ------------------------------------------------------------------ the earlier run of a publish-only release

/** The workflow whose verified dist a publish-only run may publish. */
export const RELEASE_WORKFLOW = '.github/workflows/release.yml';
/**
 * The job of release.yml that verifies the whole set (release.yml's `verify`
 * job calling verify.yml's `verify` job, as the runs API names it); it must
 * have succeeded. test/unit/workflows.test.ts derives this name from the workflows.
 */
export const VERIFIED_JOB = 'verify / verify the whole set';
/** The tag check, the matrix plans, every build leg, every native check leg and the whole-set verification. */
export function requiredJobs(targets: readonly string[] = TARGETS.map((t) => t.name)): string[] {
  return [
    'check the release tag',
    'build / plan',
    'verify / plan',
    ...targets.map((t) => `build / build ${t}`),
    ...targets.map((t) => `verify / check ${t}`),
    VERIFIED_JOB,
  ];
}
/**
 * Jobs of a release run that are skipped by design: build.yml's own `verify`
 * call runs for pull requests and main only (a release calls verify.yml itself,
 * with its tag). test/unit/workflows.test.ts derives both lists from the workflows.
 */
export const SKIPPED_BY_DESIGN: readonly string[] = ['build / verify'];
/** release.yml's `run-name` for a release that is not a rehearsal (a rehearsal's title says so). */
export const releaseRunTitle = (tag: string) => `release ${tag}`;

export interface BuildRun {
  id: string;
  tagCommit: string | null;
  event?: string;
  headSha?: string;
  headBranch?: string | null;
  path?: string;
  title?: string;
  status?: string;
  conclusion?: string | null;
  url?: string;
  verifiedJob?: string | null;
  failures: Failure[];
}

/** What GitHub answers about a workflow run, as far as the checks read it. */
export interface RunJson {
  event?: string;
  head_sha?: string;
  head_branch?: string | null;
  path?: string;
  display_title?: string;
  status?: string;
  conclusion?: string | null;
  html_url?: string;
}
type RunJob = { name?: string; status?: string; conclusion?: string | null };

/** The run's fields a BuildRun records, from GitHub's answer. */
export function runFields(run: RunJson): Omit<BuildRun, 'id' | 'tagCommit' | 'verifiedJob' | 'failures'> {
  return {
    event: run.event,
    headSha: run.head_sha,
    headBranch: run.head_branch,
    path: run.path,
    title: run.display_title,
    status: run.status,
    conclusion: run.conclusion,
    url: run.html_url,
  };
}

/** The jobs of run `runId`, read from GitHub (an answer other than 200 is an error). */
export async function readRunJobs(api: GitHubRepoApi, runId: string, subject: string): Promise<RunJob[]> {
  const j = await githubGet(api, `/actions/runs/${runId}/jobs?per_page=100`, `about the jobs of ${subject}`);
  if (j.status !== 200)
    throw new OperationError(`${j.url} answered ${j.status} ${j.statusText}: cannot check the jobs of ${subject}`);
  return (j.body as { jobs?: RunJob[] }).jobs ?? [];
}

/**
 * Run `runId` as GitHub describes it, with what any run whose dist is taken must be: a release.yml run that has
 * completed (failures pushed to `failures`); null, with a failure, when there is no such run.
 */
export async function readReleaseRun(
  api: GitHubRepoApi,
  runId: string,
  subject: string,
  failures: Failure[],
): Promise<RunJson | null> {
  const r = await githubGet(api, `/actions/runs/${runId}`, `about ${subject}`);
  if (r.status === 404) {
    failures.push({
      check: 'build-run-exists',
      subject,
      expected: 'a workflow run of this repository',
      actual: 'not found',
      hint: 'give the id in the URL of the earlier release run (…/actions/runs/<id>)',
    });
    return null;
  }
  if (r.status !== 200)
    throw new OperationError(`${r.url} answered ${r.status} ${r.statusText}: cannot check ${subject}`);
  const run = r.body as RunJson;
  // `path` is .github/workflows/x.yml, in some answers with "@<ref>" appended
  const path = String(run.path ?? '').replace(/@.*$/, '');
  if (path !== RELEASE_WORKFLOW) {
    failures.push({
      check: 'build-run-workflow',
      subject,
      expected: RELEASE_WORKFLOW,
      actual: run.path ?? '(none)',
      hint: "only a release run's verified dist may be published; pull-request and other runs are refused",
    });
  }
  if (run.status !== 'completed') {
    failures.push({
      check: 'build-run-completed',
      subject,
      expected: 'completed',
      actual: String(run.status),
      hint: 'wait for that run to finish',
    });
  }
  return run;
}

/** A workflow run id is digits; anything else is a usage error. */
export function checkRunId(runId: string): string {
  if (!/^[1-9]\d*$/.test(runId)) throw new UsageError(`build run id "${runId}" is not a workflow run id (digits)`);
  return runId;
}

/**
 * Whether the run `runId` may be the source of a publish-only release of `tag`
 * (release.yml's build-run-id). The artifact of any run of the repository can
 * be downloaded by id, and its contents vouch only for themselves, so the run
 * itself is asked of the REST API:
 *  - it is a run of .github/workflows/release.yml (not build.yml of a pull request);
 *  - at the tag's commit (`head_sha`; so release.yml and the code it built are the tag's);
 *  - a tag push, or a manual run titled `release vX.Y.Z` (release.yml's run-name:
 *    a rehearsal's title says "(rehearsal)"; the API does not show dispatch inputs);
 *  - completed, with the whole-set verification job (VERIFIED_JOB) and every
 *    build and verify job successful. The run's own conclusion is not required
 *    to be success: a publish-only run exists because that run's publish failed.
 */
export async function checkBuildRun(opts: {
  runId: string;
  tag: string;
  repo?: string;
  apiUrl?: string;
  token?: string;
}): Promise<BuildRun> {
  checkRunId(opts.runId);
  if (!opts.repo)
    throw new UsageError('checking a build run needs the repository: --repo owner/name or $GITHUB_REPOSITORY');
  checkRepo(opts.repo);
  const gh = { repo: opts.repo, apiUrl: opts.apiUrl, token: opts.token };
  const subject = `run ${opts.runId} of ${opts.repo}`;
  const failures: Failure[] = [];
  const out: BuildRun = { id: opts.runId, tagCommit: null, failures };

  // the commit the tag points at (an annotated tag is peeled to its commit by this endpoint)
  const c = await refCommit(gh, `refs/tags/${opts.tag}`, 'tag-exists');
  out.tagCommit = c.sha;
  failures.push(...c.failures.map((f) => ({ ...f, subject: opts.tag })));

  const run = await readReleaseRun(gh, opts.runId, subject, failures);
  if (!run) return out;
  Object.assign(out, runFields(run));
  // fail closed: without the tag's commit no run can be shown to be of it
  if (!out.tagCommit || run.head_sha !== out.tagCommit) {
    failures.push({
      check: 'build-run-commit',
      subject,
      expected: `the commit of ${opts.tag} (${out.tagCommit})`,
      actual: `${run.head_sha} (${run.event} of ${run.head_branch})`,
      hint: `use the run started by pushing ${opts.tag}, or a manual run started from the tag ("Use workflow from: ${opts.tag}")`,
    });
  }
  const pushOfTag = run.event === 'push' && run.head_branch === opts.tag;
  const realDispatch = run.event === 'workflow_dispatch' && run.display_title === releaseRunTitle(opts.tag);
  if (!pushOfTag && !realDispatch) {
    failures.push({
      check: 'build-run-event',
      subject,
      expected: `the push of ${opts.tag}, or a manual run titled "${releaseRunTitle(opts.tag)}" (not a rehearsal)`,
      actual: `${run.event} of ${run.head_branch}, titled "${run.display_title}"`,
    });
  }

  const jobs = await readRunJobs(gh, opts.runId, subject);
  failures.push(...runJobProblems(jobs, subject));
  const verified = jobs.find((x) => x.name === VERIFIED_JOB);
  out.verifiedJob = verified ? String(verified.conclusion) : null;
  return out;
}

/**
 * The jobs of a release run whose dist may be published: every required job
 * (requiredJobs) present and successful; a job skipped by design
 * (SKIPPED_BY_DESIGN) skipped; any other build / verify job successful.
 */
export function runJobProblems(jobs: RunJob[], subject: string): Failure[] {
  const failures: Failure[] = [];
  const required = requiredJobs();
  for (const name of required) {
    const x = jobs.find((y) => y.name === name);
    if (x?.conclusion !== 'success') {
      failures.push({
        check: 'build-run-verified',
        subject,
        expected: `job "${name}" succeeded`,
        actual: x ? `${x.status}, ${x.conclusion}` : 'no such job',
        hint:
          name === VERIFIED_JOB
            ? 'only a verified dist may be published'
            : 'only a run whose every build and check succeeded may be published',
      });
    }
  }
  for (const x of jobs.filter((y) => !required.includes(y.name ?? '') && /^(build|verify) \/ /.test(y.name ?? ''))) {
    if (SKIPPED_BY_DESIGN.includes(x.name!)) {
      if (x.conclusion !== 'skipped' && x.conclusion !== 'success')
        failures.push({
          check: 'build-run-verified',
          subject,
          expected: `job "${x.name}" skipped (by design in a release) or succeeded`,
          actual: `${x.status}, ${x.conclusion}`,
        });
    } else if (x.conclusion !== 'success')
      failures.push({
        check: 'build-run-verified',
        subject,
        expected: `job "${x.name}" succeeded`,
        actual: `${x.status}, ${x.conclusion}`,
      });
  }
  return failures;
}
