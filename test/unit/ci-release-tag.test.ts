// check-release-tag.ts, run as release.yml runs it, against a loopback server
// standing in for the GitHub REST API (the real HTTP exchange, our server).
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { runScript } from '../helpers/run.ts';
import { readPin, pinPath } from '../../scripts/lib/core/pin.ts';
import { RELEASE_WORKFLOW, releaseRunTitle, tagVersion, VERIFIED_JOB } from '../../scripts/lib/ci/release-tag.ts';
import { REPOSITORY } from '../../scripts/lib/core/project.ts';
import { loadModel, releaseRunJobs } from '../helpers/workflows.ts';
import { fakeGitHub, type FakeGitHub } from '../helpers/github-api.ts';

// two subtests at a time: each runs its own loopback API and scripts, and shares nothing with the others
t.jobs = 2;

const version = readPin(pinPath()).version;
const tag = `v${version}`;

const TAG_SHA = 'c'.repeat(40);
/** A loopback GitHub where the tag points at TAG_SHA and no release exists yet. */
async function api(t: Test, init: Parameters<typeof fakeGitHub>[0] = {}): Promise<FakeGitHub> {
  const gh = await fakeGitHub({ commits: { [`tags/${tag}`]: TAG_SHA }, ...init });
  t.teardown(() => gh.server.close());
  return gh;
}

t.test('tag format', async (t) => {
  t.equal(tagVersion('v1.2.3'), '1.2.3');
  t.equal(tagVersion('refs/tags/v0.15.0'), '0.15.0');
  for (const bad of ['1.2.3', 'v1.2', 'v01.2.3', 'v1.2.3-rc.1', 'v1.2.3 '])
    t.throws(() => tagVersion(bad), /not of the form vX\.Y\.Z/, bad);
});

t.test('a new tag matching the pin passes and writes the step outputs, its commit resolved once', async (t) => {
  const { url, seen } = await api(t);
  const dir = t.testdir({ out: '' });
  const out = join(dir, 'out');
  const r = await runScript(
    'check-release-tag.ts',
    [
      ...['--tag', tag, '--repo', 'Agoric/xsnap-worker-binaries', '--ref', `refs/tags/${tag}`],
      ...['--run-commit', TAG_SHA, '--github-output', '--json'],
    ],
    {
      env: { GITHUB_API_URL: url, GITHUB_TOKEN: 'ghs_secret_token_value', GITHUB_OUTPUT: out },
    },
  );
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).newness, 'new');
  t.equal(JSON.parse(r.stdout).commit, TAG_SHA);
  // the releases list (drafts included for a token with push access), not the by-tag endpoint (no drafts)
  t.ok(
    seen.includes('GET /repos/Agoric/xsnap-worker-binaries/releases?per_page=100 Bearer ghs_secret_token_value'),
    seen.join('\n'),
  );
  t.notOk(
    seen.some((s) => s.includes('/releases/tags/')),
    'the by-tag endpoint is not what tells',
  );
  t.ok(
    seen.includes(`GET /repos/Agoric/xsnap-worker-binaries/commits/tags/${tag} Bearer ghs_secret_token_value`),
    'the tag resolved to its commit by the API',
  );
  t.equal(readFileSync(out, 'utf8'), `tag=${tag}\nversion=${version}\nref=refs/tags/${tag}\nsha=${TAG_SHA}\n`);
  t.notMatch(r.stdout + r.stderr, /ghs_secret_token_value/, 'the token is never printed');
});

t.test('the commit: a rehearsal branch resolves too; a moved ref, an unknown ref, a bad sha are refused', async (t) => {
  const branchSha = 'd'.repeat(40);
  const { url } = await api(t, { commits: { [`tags/${tag}`]: TAG_SHA, 'heads/my/branch': branchSha } });
  const dir = t.testdir({ out: '' });
  const out = join(dir, 'out');
  const env = { GITHUB_API_URL: url, GITHUB_OUTPUT: out };
  const base = ['--tag', tag, '--repo', 'someone/fork'];
  const rehearsal = await runScript(
    'check-release-tag.ts',
    [...base, '--ref', 'refs/heads/my/branch', '--run-commit', branchSha, '--github-output'],
    { env },
  );
  t.equal(rehearsal.code, 0, rehearsal.stderr);
  t.match(readFileSync(out, 'utf8'), `ref=refs/heads/my/branch\nsha=${branchSha}\n`);
  // the tag moved after the run started (github.sha is the commit it pointed at then)
  const moved = await runScript('check-release-tag.ts', [...base, '--run-commit', 'e'.repeat(40), '--github-output'], {
    env,
  });
  t.equal(moved.code, 1);
  t.match(
    moved.stderr,
    new RegExp(
      `ref-commit\\] refs/tags/${tag.replace(/\./g, '\\.')}[\\s\\S]*expected:\\s+e{40} \\(the commit this run was started at, github\\.sha\\)[\\s\\S]*actual:\\s+c{40}: refs/tags/\\S+ moved since the run started`,
    ),
  );
  // github.sha naming the annotated tag object of the same commit is the same commit (and another tag's is not)
  const tagObject = '7a'.repeat(20);
  const annotated = await api(t, { tagObjects: { [tagObject]: TAG_SHA, ['8b'.repeat(20)]: 'e'.repeat(40) } });
  const a = await runScript('check-release-tag.ts', [...base, '--run-commit', tagObject, '--github-output'], {
    env: { ...env, GITHUB_API_URL: annotated.url },
  });
  t.equal(a.code, 0, a.stderr);
  t.match(readFileSync(out, 'utf8'), `sha=${TAG_SHA}\n`);
  const otherTag = await runScript('check-release-tag.ts', [...base, '--run-commit', '8b'.repeat(20)], {
    env: { ...env, GITHUB_API_URL: annotated.url },
  });
  t.equal(otherTag.code, 1);
  t.match(otherTag.stderr, /moved since the run started/);
  const unknown = await runScript('check-release-tag.ts', [...base, '--ref', 'refs/heads/gone', '--github-output'], {
    env,
  });
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /ref-commit\] refs\/heads\/gone[\s\S]*answered 422/);
  const badSha = await runScript('check-release-tag.ts', [...base, '--run-commit', 'main'], { env });
  t.equal(badSha.code, 2);
  t.match(badSha.stderr, /--run-commit "main" is not a 40-hex commit/);
  const noRepo = await runScript('check-release-tag.ts', ['--tag', tag, '--github-output'], {
    env: { ...env, GITHUB_REPOSITORY: '' },
  });
  t.equal(noRepo.code, 2);
  t.match(noRepo.stderr, /resolve --ref on GitHub: give --repo/);
});

t.test('an already released tag is refused (exit 1); a draft alone is fine for a re-run', async (t) => {
  const { url } = await api(t, { releases: [{ tag_name: tag, draft: false }] });
  const r = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/x'], {
    env: { GITHUB_API_URL: url },
  });
  t.equal(r.code, 1);
  t.match(r.stderr, /tag-is-new/);
  t.match(r.stderr, /already has a release/);
  // a draft of the tag on the third page of the list (two releases a page): seen, and fine
  const other = Array.from({ length: 5 }, (_, i) => ({ tag_name: `v0.0.${i}`, draft: false }));
  const drafted = await api(t, { releases: [{ tag_name: tag, draft: true }, ...other], pageSize: 2 });
  const d = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/x', '--json'], {
    env: { GITHUB_API_URL: drafted.url },
  });
  t.equal(d.code, 0, d.stderr);
  t.equal(JSON.parse(d.stdout).newness, 'draft', 'the draft on the last page was found');
  t.equal(drafted.seen.filter((s) => s.startsWith('GET /repos/Agoric/x/releases?')).length, 3, 'three pages read');
  // a published release on the last page is refused all the same
  const late = await api(t, { releases: [{ tag_name: tag, draft: false }, ...other], pageSize: 2 });
  const l = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/x'], {
    env: { GITHUB_API_URL: late.url },
  });
  t.equal(l.code, 1);
  t.match(l.stderr, /tag-is-new/);
});

t.test('an API error is an error, not "new" (exit 1)', async (t) => {
  const gh = await api(t);
  gh.listStatus = 500;
  const r = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/x'], {
    env: { GITHUB_API_URL: gh.url },
  });
  t.equal(r.code, 1);
  t.match(r.stderr, /answered 500/);
});

t.test('a tag other than the pin (exit 1), a malformed tag (exit 2), no tag (exit 2)', async (t) => {
  const other = await runScript('check-release-tag.ts', ['--tag', 'v999.0.0'], {});
  t.equal(other.code, 1);
  t.match(
    other.stderr,
    new RegExp(`tag-matches-pin\\] v999\\.0\\.0[\\s\\S]*expected: v${version.replace(/\./g, '\\.')}`),
  );
  const bad = await runScript('check-release-tag.ts', ['--tag', version], {});
  t.equal(bad.code, 2);
  t.match(bad.stderr, /not of the form vX\.Y\.Z/);
  const none = await runScript('check-release-tag.ts', [], { env: { GITHUB_REF_TYPE: '', GITHUB_REF_NAME: '' } });
  t.equal(none.code, 2);
  t.match(none.stderr, /--tag vX\.Y\.Z is required/);
});

// ---------------------------------------------------------------- --build-run-id

const TAG_COMMIT = 'a'.repeat(40);
const OTHER_COMMIT = 'b'.repeat(40);
const RUN_ID = '4242';

interface Run {
  path: string;
  head_sha: string;
  head_branch: string;
  event: string;
  display_title: string;
  status: string;
  conclusion: string | null;
}
const goodRun = (): Run => ({
  path: RELEASE_WORKFLOW,
  head_sha: TAG_COMMIT,
  head_branch: tag,
  event: 'push',
  display_title: releaseRunTitle(tag),
  status: 'completed',
  conclusion: 'failure',
});
/**
 * The jobs the runs API lists for a release run started by pushing the tag,
 * derived from the workflows by GitHub's own parser (test/helpers/workflows.ts):
 * build.yml's own `verify` call skipped (it is for pull requests and main), the
 * four build legs, the four native check legs, the whole-set verification, and
 * the publish job, which failed (the reason for a publish-only run).
 */
const realJobs = releaseRunJobs(await loadModel(), tag);
const jobs = (verified: string) => realJobs.map((j) => (j.name === VERIFIED_JOB ? { ...j, conclusion: verified } : j));

/** A loopback GitHub API with one tag, one workflow run and its jobs; no release yet. */
async function runsApi(
  run: Run,
  runJobs = jobs('success'),
  tagAnswer: unknown = { sha: TAG_COMMIT },
): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const u = req.url!;
    if (u === `/repos/Agoric/x/commits/tags/${tag}`) return send(200, tagAnswer);
    if (u === '/repos/Agoric/x/releases?per_page=100') return send(200, []);
    if (u === `/repos/Agoric/x/actions/runs/${RUN_ID}`)
      return send(200, { id: Number(RUN_ID), html_url: `https://github.com/Agoric/x/actions/runs/${RUN_ID}`, ...run });
    if (u === `/repos/Agoric/x/actions/runs/${RUN_ID}/jobs?per_page=100`)
      return send(200, { total_count: runJobs.length, jobs: runJobs });
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

async function checkRun(t: Test, run: Run, runJobs?: ReturnType<typeof jobs>, runId = RUN_ID) {
  const { url, seen, server } = await runsApi(run, runJobs);
  t.teardown(() => server.close());
  const r = await runScript(
    'check-release-tag.ts',
    ['--tag', tag, '--repo', 'Agoric/x', '--build-run-id', runId, '--json'],
    {
      env: { GITHUB_API_URL: url, GITHUB_TOKEN: 'ghs_run_check_token' },
    },
  );
  return { ...r, seen };
}

t.test(
  "build run: a verified release run of the tag's commit passes (its failed publish job is why we re-publish)",
  async (t) => {
    const r = await checkRun(t, goodRun());
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    t.equal(out.buildRun.tagCommit, TAG_COMMIT);
    t.equal(out.buildRun.event, 'push');
    t.equal(out.buildRun.verifiedJob, 'success');
    t.same(out.buildRun.failures, []);
    t.ok(
      r.seen.includes(`GET /repos/Agoric/x/actions/runs/${RUN_ID} Bearer ghs_run_check_token`),
      'asked the runs API with the token',
    );
    t.notMatch(r.stdout + r.stderr, /ghs_run_check_token/, 'the token is never printed');
    // a manual release started from the tag (not a rehearsal) is good too
    const manual = await checkRun(t, { ...goodRun(), event: 'workflow_dispatch' });
    t.equal(manual.code, 0, manual.stderr);
  },
);

t.test("build run: a run of another workflow (a pull request's build.yml) is refused", async (t) => {
  const r = await checkRun(t, {
    ...goodRun(),
    path: '.github/workflows/build.yml',
    event: 'pull_request',
    head_branch: 'fork-branch',
    display_title: 'innocent PR',
  });
  t.equal(r.code, 1);
  t.match(
    r.stderr,
    new RegExp(
      'build-run-workflow\\] run 4242 of Agoric\\/x[\\s\\S]*expected:\\s+\\.github\\/workflows\\/release\\.yml[\\s\\S]*actual:\\s+\\.github\\/workflows\\/build\\.yml',
    ),
  );
  t.match(r.stderr, /build-run-event/);
});

t.test('build run: a run at another commit (a rehearsal from a branch) is refused', async (t) => {
  const branch = await checkRun(t, {
    ...goodRun(),
    head_sha: OTHER_COMMIT,
    head_branch: 'my-branch',
    event: 'workflow_dispatch',
    display_title: `release ${tag} (rehearsal)`,
  });
  t.equal(branch.code, 1);
  t.match(
    branch.stderr,
    new RegExp(
      `build-run-commit\\][\\s\\S]*expected:\\s+the commit of ${tag.replace(/\./g, '\\.')} \\(${TAG_COMMIT}\\)[\\s\\S]*actual:\\s+${OTHER_COMMIT}`,
    ),
  );
  t.match(branch.stderr, /build-run-event\][\s\S]*titled "release v[\d.]+ \(rehearsal\)"/);
  // a rehearsal at the very commit of the tag is still a rehearsal
  const rehearsal = await checkRun(t, {
    ...goodRun(),
    event: 'workflow_dispatch',
    display_title: `release ${tag} (rehearsal)`,
  });
  t.equal(rehearsal.code, 1);
  t.match(rehearsal.stderr, /build-run-event/);
  t.notMatch(rehearsal.stderr, /build-run-commit/);
});

t.test('build run: the real job list of a release run passes, skipped-by-design job included (issue 11)', async (t) => {
  const list = jobs('success');
  t.ok(
    list.some((j) => j.name === 'build / verify' && j.conclusion === 'skipped'),
    "the fixture has build.yml's skipped verify call",
  );
  t.ok(
    list.some((j) => j.name === 'verify / check linux-arm64'),
    'and the four native check legs',
  );
  const r = await checkRun(t, goodRun(), list);
  t.equal(r.code, 0, r.stderr);
  // a required job that did not run, or a check leg that failed, is refused
  const noCheck = await checkRun(
    t,
    goodRun(),
    list.filter((j) => j.name !== 'verify / check darwin-arm64'),
  );
  t.equal(noCheck.code, 1);
  t.match(noCheck.stderr, /expected:\s+job "verify \/ check darwin-arm64" succeeded[\s\S]*actual:\s+no such job/);
  const skippedCheck = await checkRun(
    t,
    goodRun(),
    list.map((j) => (j.name === 'verify / check linux-x64' ? { ...j, conclusion: 'skipped' } : j)),
  );
  t.equal(skippedCheck.code, 1);
  t.match(skippedCheck.stderr, /job "verify \/ check linux-x64" succeeded[\s\S]*completed, skipped/);
  // a job skipped by design that failed instead is refused too
  const failedPrVerify = await checkRun(
    t,
    goodRun(),
    list.map((j) => (j.name === 'build / verify' ? { ...j, conclusion: 'failure' } : j)),
  );
  t.equal(failedPrVerify.code, 1);
  t.match(failedPrVerify.stderr, /job "build \/ verify" skipped \(by design in a release\) or succeeded/);
});

t.test('a real release must start from its tag, in the repository the packages name (issue 11)', async (t) => {
  const { url, seen } = await api(t);
  const env = { GITHUB_API_URL: url, GITHUB_OUTPUT: '' };
  const fromBranch = await runScript(
    'check-release-tag.ts',
    ['--tag', tag, '--repo', REPOSITORY, '--started-from', 'refs/heads/main', '--rehearsal', 'false'],
    { env },
  );
  t.equal(fromBranch.code, 1);
  t.match(
    fromBranch.stderr,
    new RegExp(
      'started-from-tag\\] release v[\\d.]+[\\s\\S]*expected:\\s+a run started from refs\\/tags\\/v[\\d.]+[\\s\\S]*actual:\\s+a run started from refs\\/heads\\/main[\\s\\S]*Use workflow from',
    ),
  );
  t.same(seen, [], 'refused before asking GitHub');
  const fork = await runScript(
    'check-release-tag.ts',
    ['--tag', tag, '--repo', 'someone/fork', '--started-from', `refs/tags/${tag}`, '--rehearsal', 'false'],
    { env },
  );
  t.equal(fork.code, 1);
  t.match(fork.stderr, new RegExp(`release-repository\\] someone/fork[\\s\\S]*expected:\\s+${REPOSITORY}`));
  const rehearsal = await runScript(
    'check-release-tag.ts',
    ['--tag', tag, '--repo', 'someone/fork', '--started-from', 'refs/heads/my-branch', '--rehearsal', 'true'],
    { env },
  );
  t.equal(rehearsal.code, 0, rehearsal.stderr);
  const release = await runScript(
    'check-release-tag.ts',
    ['--tag', tag, '--repo', REPOSITORY, '--started-from', `refs/tags/${tag}`, '--rehearsal', 'false'],
    { env },
  );
  t.equal(release.code, 0, release.stderr);
  const half = await runScript('check-release-tag.ts', ['--tag', tag, '--started-from', `refs/tags/${tag}`], { env });
  t.equal(half.code, 2);
  t.match(half.stderr, /go together/);
});

t.test('build run: a run whose verification failed, or still running, is refused', async (t) => {
  const failed = await checkRun(t, goodRun(), jobs('failure'));
  t.equal(failed.code, 1);
  t.match(
    failed.stderr,
    new RegExp(
      'build-run-verified\\][\\s\\S]*expected:\\s+job "verify \\/ verify the whole set" succeeded[\\s\\S]*actual:\\s+completed, failure',
    ),
  );
  const buildFailed = await checkRun(
    t,
    goodRun(),
    jobs('success').map((j) => (j.name === 'build / build darwin-x64' ? { ...j, conclusion: 'failure' } : j)),
  );
  t.equal(buildFailed.code, 1);
  t.match(buildFailed.stderr, /job "build \/ build darwin-x64" succeeded/);
  const running = await checkRun(t, { ...goodRun(), status: 'in_progress', conclusion: null }, jobs('success'));
  t.equal(running.code, 1);
  t.match(running.stderr, /build-run-completed/);
});

t.test('build run: an unknown run is refused (exit 1), a malformed id is a usage error (exit 2)', async (t) => {
  const unknown = await checkRun(t, goodRun(), undefined, '777');
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /build-run-exists\] run 777/);
  const bad = await checkRun(t, goodRun(), undefined, '12; rm -rf /');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /is not a workflow run id/);
  t.same(bad.seen, [], 'nothing asked with a malformed id');
});

t.test('build run: a tag lookup answering without a commit fails closed', async (t) => {
  const { url, server } = await runsApi(goodRun(), jobs('success'), { message: 'odd answer' });
  t.teardown(() => server.close());
  const r = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/x', '--build-run-id', RUN_ID], {
    env: { GITHUB_API_URL: url, GITHUB_TOKEN: 't' },
  });
  t.equal(r.code, 1, 'refused although the run itself looks right');
  t.match(r.stderr, /tag-exists/);
  t.match(r.stderr, /build-run-commit/);
});

// ---------------------------------------------------------------- the draft GitHub Release (draft-release.ts)

/** A dist/release/ with a manifest, SHA256SUMS and the hand-off (the notes). */
function releaseDir(t: Test, manifest = '{"version":"x"}\n') {
  return t.testdir({
    release: {
      [`xsnap-worker-manifest-${version}.json`]: manifest,
      SHA256SUMS: 'abc  file\n',
      'agoric-sdk-handoff.md': '# hand-off\n\nthe notes\n',
    },
  });
}

async function draft(gh: FakeGitHub, dir: string, ...extra: string[]) {
  return runScript(
    'draft-release.ts',
    ['--tag', tag, '--expect-commit', TAG_SHA, '--assets', join(dir, 'release'), '--repo', 'Agoric/x', ...extra],
    { env: { GITHUB_API_URL: gh.url, GITHUB_TOKEN: 'ghs_draft_token', GITHUB_STEP_SUMMARY: join(dir, 'summary.md') } },
  );
}

t.test('draft-release: creates one draft with every file once, the notes from the hand-off', async (t) => {
  const gh = await api(t, { releases: [{ tag_name: 'v0.0.1', draft: false }] });
  const dir = releaseDir(t);
  const r = await draft(gh, dir, '--json');
  t.equal(r.code, 0, r.stderr);
  const mine = gh.releases.filter((x) => x.tag_name === tag);
  t.equal(mine.length, 1);
  t.equal(mine[0].draft, true);
  t.equal(mine[0].name, `xsnap-worker ${tag}`);
  t.equal(mine[0].body, '# hand-off\n\nthe notes\n');
  t.same(mine[0].assets.map((a) => a.name).sort(), [
    'SHA256SUMS',
    'agoric-sdk-handoff.md',
    `xsnap-worker-manifest-${version}.json`,
  ]);
  t.equal(mine[0].assets.find((a) => a.name === 'SHA256SUMS')!.bytes.toString(), 'abc  file\n');
  t.ok(
    gh.seen.every((s) => s.endsWith('Bearer ghs_draft_token')),
    'every request carries the token',
  );
  t.notMatch(r.stdout + r.stderr, /ghs_draft_token/, 'the token is never printed');
  t.equal(JSON.parse(r.stdout).plan.action, 'create');
  const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
  t.match(summary, new RegExp(`### draft release ${tag.replace(/\./g, '\\.')}\n\ncreated \\[the draft\\]`));
  t.match(summary, /`SHA256SUMS` 10 bytes, sha256 `[0-9a-f]{64}`/);
});

t.test(
  'draft-release: a re-run finds the draft by listing (on the last of six pages) and updates it, never a second',
  async (t) => {
    const other = Array.from({ length: 5 }, (_, i) => ({ tag_name: `v0.0.${i}`, draft: false }));
    const gh = await api(t, { releases: other, pageSize: 2 });
    const first = releaseDir(t, '{"version":"first"}\n');
    t.equal((await draft(gh, first)).code, 0);
    // the new draft is listed first (newest first); push it to the last page with five newer releases
    const drafted = gh.releases.find((x) => x.tag_name === tag)!;
    gh.releases.splice(gh.releases.indexOf(drafted), 1);
    gh.releases.unshift(drafted);
    for (let i = 0; i < 5; i++)
      gh.releases.push({ ...gh.releases[1], id: 5000 + i, tag_name: `v0.1.${i}`, assets: [] });
    const byTag = await fetch(`${gh.url}/repos/Agoric/x/releases/tags/${tag}`);
    t.equal(byTag.status, 404, 'as on GitHub, the by-tag endpoint does not return the draft');
    const second = releaseDir(t, '{"version":"second"}\n');
    gh.seen.length = 0;
    const r = await draft(gh, second, '--json');
    t.equal(r.code, 0, r.stderr);
    t.equal(JSON.parse(r.stdout).plan.action, 'update');
    t.equal(JSON.parse(r.stdout).plan.releaseId, drafted.id);
    t.ok(
      gh.seen.some((s) => s.includes('releases?per_page=2&page=6')),
      'read the list to its last page',
    );
    const mine = gh.releases.filter((x) => x.tag_name === tag);
    t.equal(mine.length, 1, 'still one release for the tag');
    t.equal(mine[0].id, drafted.id, 'the same draft');
    t.equal(mine[0].assets.length, 3, 'each asset once');
    t.equal(
      mine[0].assets.find((a) => a.name.startsWith('xsnap-worker-manifest-'))!.bytes.toString(),
      '{"version":"second"}\n',
      "the re-run's bytes replaced the earlier ones",
    );
    t.notOk(
      gh.writes().some((s) => /^POST \/repos\/Agoric\/x\/releases /.test(s)),
      'no release created',
    );
  },
);

t.test('draft-release: refuses before any write: two drafts, a published release, a moved tag', async (t) => {
  const dir = releaseDir(t);
  const two = await api(t, {
    releases: [
      { tag_name: tag, draft: true },
      { tag_name: tag, draft: true },
    ],
  });
  const r2 = await draft(two, dir);
  t.equal(r2.code, 1);
  t.match(
    r2.stderr,
    /one-draft\][\s\S]*expected:\s+at most one draft release for the tag[\s\S]*actual:\s+2 drafts: ids/,
  );
  t.same(two.writes(), [], 'nothing written');
  const published = await api(t, { releases: [{ tag_name: tag, draft: false }] });
  const rp = await draft(published, dir);
  t.equal(rp.code, 1);
  t.match(rp.stderr, /release-published\][\s\S]*expected:\s+no published release/);
  t.same(published.writes(), []);
  const moved = await api(t, { commits: { [`tags/${tag}`]: 'f'.repeat(40) } });
  const rm = await draft(moved, dir);
  t.equal(rm.code, 1);
  t.match(
    rm.stderr,
    new RegExp(`release-tag-commit\\] ${tag.replace(/\./g, '\\.')}[\\s\\S]*actual:\\s+f{40}: the tag was moved`),
  );
  t.same(moved.writes(), []);
  const dry = await api(t);
  const rd = await draft(dry, dir, '--dry-run', '--json');
  t.equal(rd.code, 0, rd.stderr);
  t.equal(JSON.parse(rd.stdout).plan.action, 'create');
  t.same(dry.writes(), [], '--dry-run writes nothing');
  const usage = await runScript('draft-release.ts', ['--tag', tag], { env: { GITHUB_API_URL: dry.url } });
  t.equal(usage.code, 2);
  t.match(usage.stderr, /--expect-commit <sha> is required/);
});

t.test('draft-release: an asset GitHub lost or holds with other bytes fails the read-back', async (t) => {
  const dir = releaseDir(t);
  const lost = await api(t);
  lost.lose.push('SHA256SUMS');
  const r = await draft(lost, dir);
  t.equal(r.code, 1);
  t.match(
    r.stderr,
    new RegExp(
      'draft-readback\\][\\s\\S]*expected:\\s+one draft with SHA256SUMS, agoric-sdk-handoff\\.md, [\\s\\S]*actual:\\s+1 release\\(s\\), 1 draft\\(s\\); assets of \\d+: agoric-sdk-handoff\\.md, xsnap-worker-manifest',
    ),
  );
  const corrupt = await api(t);
  corrupt.corrupt.push('SHA256SUMS');
  const c = await draft(corrupt, dir);
  t.equal(c.code, 1);
  t.match(
    c.stderr,
    new RegExp(
      'draft-asset\\] v[\\d.]+: SHA256SUMS[\\s\\S]*expected:\\s+SHA256SUMS, 10 bytes, sha256:[0-9a-f]{64}[\\s\\S]*actual:\\s+SHA256SUMS, 10 bytes, sha256:[0-9a-f]{64}',
    ),
  );
  // a re-run after either puts the draft right, in place
  corrupt.corrupt.length = 0;
  const again = await draft(corrupt, dir);
  t.equal(again.code, 0, again.stderr);
  t.equal(corrupt.releases.length, 1);
  t.equal(corrupt.releases[0].assets.find((a) => a.name === 'SHA256SUMS')!.bytes.toString(), 'abc  file\n');
});
