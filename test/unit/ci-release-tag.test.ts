// check-release-tag.ts, run as release.yml runs it, against a loopback server
// standing in for the GitHub REST API (the real HTTP exchange, our server).
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { runScript } from '../helpers/run.ts';
import { readPin, pinPath } from '../../scripts/lib/pin.ts';
import { RELEASE_WORKFLOW, releaseRunTitle, tagVersion, VERIFIED_JOB } from '../../scripts/lib/release-tag.ts';
import { REPOSITORY } from '../../scripts/lib/project.ts';
import { loadModel, releaseRunJobs } from '../helpers/workflows.ts';

const version = readPin(pinPath()).version;
const tag = `v${version}`;

async function api(status: Record<string, number>): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    const tagName = decodeURIComponent(req.url!.split('/').pop()!);
    res.writeHead(status[tagName] ?? 404, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

t.test('tag format', async (t) => {
  t.equal(tagVersion('v1.2.3'), '1.2.3');
  t.equal(tagVersion('refs/tags/v0.15.0'), '0.15.0');
  for (const bad of ['1.2.3', 'v1.2', 'v01.2.3', 'v1.2.3-rc.1', 'v1.2.3 '])
    t.throws(() => tagVersion(bad), /not of the form vX\.Y\.Z/, bad);
});

t.test('a new tag matching the pin passes and writes the step outputs', async (t) => {
  const { url, seen, server } = await api({});
  t.teardown(() => server.close());
  const dir = t.testdir({ out: '' });
  const out = join(dir, 'out');
  const r = await runScript(
    'check-release-tag.ts',
    ['--tag', tag, '--repo', 'Agoric/xsnap-worker-binaries', '--github-output', '--json'],
    {
      env: { GITHUB_API_URL: url, GITHUB_TOKEN: 'ghs_secret_token_value', GITHUB_OUTPUT: out },
    },
  );
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).newness, 'new');
  t.match(
    seen[0],
    new RegExp(
      `GET /repos/Agoric/xsnap-worker-binaries/releases/tags/` +
        `${tag.replace(/\./g, '\\.')} Bearer ghs_secret_token_value`,
    ),
  );
  t.equal(readFileSync(out, 'utf8'), `tag=${tag}\nversion=${version}\nref=refs/tags/${tag}\n`);
});

t.test('an already released tag is refused (exit 1)', async (t) => {
  const { url, server } = await api({ [tag]: 200 });
  t.teardown(() => server.close());
  const r = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/x'], {
    env: { GITHUB_API_URL: url },
  });
  t.equal(r.code, 1);
  t.match(r.stderr, /tag-is-new/);
  t.match(r.stderr, /already has a release/);
});

t.test('an API error is an error, not "new" (exit 1)', async (t) => {
  const { url, server } = await api({ [tag]: 500 });
  t.teardown(() => server.close());
  const r = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/x'], {
    env: { GITHUB_API_URL: url },
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
      'build-run-workflow\\] run 4242 of Agoric\\/x[\\s\\S]*expected:\\s+\\.github\\/workflows\\/release\\.yml' +
        '[\\s\\S]*actual:\\s+\\.github\\/workflows\\/build\\.yml',
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
      `build-run-commit\\][\\s\\S]*expected:\\s+the commit of ${tag.replace(/\./g, '\\.')} \\(${TAG_COMMIT}\\)` +
        `[\\s\\S]*actual:\\s+${OTHER_COMMIT}`,
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
  const { url, server, seen } = await api({});
  t.teardown(() => server.close());
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
      'started-from-tag\\] release v[\\d.]+[\\s\\S]*expected:\\s+a run started from refs\\/tags\\/v[\\d.]+' +
        '[\\s\\S]*actual:\\s+a run started from refs\\/heads\\/main[\\s\\S]*Use workflow from',
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
      'build-run-verified\\][\\s\\S]*expected:\\s+job "verify \\/ verify the whole set" succeeded' +
        '[\\s\\S]*actual:\\s+completed, failure',
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
