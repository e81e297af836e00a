// fetch-release.ts against a loopback stand-in of the GitHub REST API serving a
// real packed artifact (the shared linux build, staged, manifested and packed by
// ci-artifact.ts, zipped as GitHub serves artifacts), with the download
// redirected to a second loopback "storage" origin that must never see the
// token; then publish-all.ts --dry-run on what was fetched, against Verdaccio.
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { runScript } from '../helpers/run.ts';
import { LINUX, stagedCopy } from '../helpers/staged.ts';
import { startTestRegistry, VERSION } from '../helpers/registry.ts';
import { loadModel, releaseRunJobs } from '../helpers/workflows.ts';
import { packArtifact } from '../../scripts/lib/ci/ci-artifact.ts';
import { sha256Hex } from '../../scripts/lib/core/hash.ts';
import { RELEASE_WORKFLOW, releaseRunTitle } from '../../scripts/lib/ci/release-tag.ts';

const tag = `v${VERSION}`;
const REPO = 'Agoric/x';
const TAG_COMMIT = 'a'.repeat(40);
const TOKEN = 'ghs_fetch_release_secret_token';
const jobs = releaseRunJobs(await loadModel(), tag);

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Run {
  id: number;
  event: string;
  display_title: string;
  head_branch: string;
  created_at: string;
  jobs?: typeof jobs;
}

/** The API (runs, jobs, artifacts, tag) and a storage origin the zip download redirects to. */
async function github(t: Test, zip: Buffer, runs: Run[], opts: { digest?: string } = {}) {
  const seen: string[] = [];
  const storageSeen: string[] = [];
  const storage = createServer((req, res) => {
    storageSeen.push(`${req.url} auth=${req.headers.authorization ?? ''}`);
    res.writeHead(200, { 'content-type': 'application/zip' });
    res.end(zip);
  });
  const storageUrl = await listen(storage);
  const api = createServer((req, res) => {
    seen.push(`${req.url} ${req.headers.authorization ?? ''}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const u = new URL(req.url!, 'http://x');
    const p = u.pathname;
    if (p === `/repos/${REPO}/commits/tags/${tag}`) return send(200, { sha: TAG_COMMIT });
    if (p === `/repos/${REPO}/actions/workflows/release.yml/runs`) {
      if (u.searchParams.get('head_sha') !== TAG_COMMIT) return send(200, { workflow_runs: [] });
      return send(200, {
        total_count: runs.length,
        workflow_runs: runs.map((r) => ({ id: r.id, created_at: r.created_at })),
      });
    }
    for (const r of runs) {
      const base = `/repos/${REPO}/actions/runs/${r.id}`;
      if (p === base)
        return send(200, {
          id: r.id,
          path: RELEASE_WORKFLOW,
          head_sha: TAG_COMMIT,
          head_branch: r.head_branch,
          event: r.event,
          display_title: r.display_title,
          status: 'completed',
          conclusion: 'success',
          html_url: `https://github.com/${REPO}/actions/runs/${r.id}`,
        });
      if (p === `${base}/jobs`) return send(200, { jobs: r.jobs ?? jobs });
      if (p === `${base}/artifacts`)
        return send(200, {
          artifacts: [
            {
              id: r.id * 10,
              name: 'xsnap-verified-dist',
              size_in_bytes: zip.length,
              expired: false,
              digest: `sha256:${opts.digest ?? sha256Hex(zip)}`,
              archive_download_url: `${apiUrl}/repos/${REPO}/actions/artifacts/${r.id * 10}/zip`,
            },
          ],
        });
    }
    if (/\/actions\/artifacts\/\d+\/zip$/.test(p)) {
      res.writeHead(302, { location: `${storageUrl}/blob/${p.split('/').at(-2)}?sig=xyz` });
      return res.end();
    }
    send(404, { message: 'Not Found' });
  });
  const apiUrl = await listen(api);
  t.teardown(() => {
    api.close();
    storage.close();
  });
  return { apiUrl, seen, storageSeen };
}

const push: Run = {
  id: 101,
  event: 'push',
  display_title: releaseRunTitle(tag),
  head_branch: tag,
  created_at: '2026-11-01T10:00:00Z',
};
const rehearsal: Run = {
  id: 202,
  event: 'workflow_dispatch',
  display_title: `${releaseRunTitle(tag)} (rehearsal)`,
  head_branch: 'main',
  created_at: '2026-11-02T10:00:00Z',
};

/** A verified dist (the shared linux build, staged and manifested), packed and zipped as GitHub serves it. */
async function artifactZip(
  t: Test,
  tamper?: (dist: string) => void,
  extra?: Record<string, Uint8Array>,
): Promise<Buffer> {
  const dist = await stagedCopy(t.testdir());
  tamper?.(dist);
  const { file } = await packArtifact({ dist, what: 'dist', out: join(dist, '..', 'packed') });
  return Buffer.from(zipSync({ 'xsnap-dist.tar': new Uint8Array(readFileSync(file)), ...extra }));
}

const fetchRelease = (apiUrl: string, args: string[]) =>
  runScript('fetch-release.ts', ['--repo', REPO, '--targets', LINUX, '--json', ...args], {
    env: { GITHUB_API_URL: apiUrl, GITHUB_TOKEN: TOKEN, GH_TOKEN: '' },
  });

t.test(
  '--tag: the verified push run is found (a newer rehearsal passed over), downloaded without leaking the token, unpacked; publish-all --dry-run runs on it',
  async (t) => {
    const zip = await artifactZip(t);
    const gh = await github(t, zip, [push, rehearsal]);
    const out = join(t.testdir(), 'dist-fetched');
    const r = await fetchRelease(gh.apiUrl, ['--tag', tag, '--dist', out]);
    t.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    t.equal(res.run.id, '101');
    t.equal(res.kind, 'tag');
    t.match(r.stderr, /run 202 passed over: build-run-event/);
    t.same(res.checkedTargets, ['linux-arm64', 'linux-x64']);
    t.equal(res.next, `npx tsx scripts/publish-all.ts stage --dry-run --dist ${out}`);
    t.ok(existsSync(join(out, 'release', `xsnap-worker-manifest-${VERSION}.json`)));
    t.ok(
      gh.seen.every((s) => s.endsWith(`Bearer ${TOKEN}`)),
      'the API gets the token',
    );
    t.same(gh.storageSeen, ['/blob/1010?sig=xyz auth='], 'the storage origin never gets it');
    t.notMatch(r.stdout + r.stderr, TOKEN);

    // the rehearsal itself, against a real registry: every check that does not write
    const reg = await startTestRegistry();
    t.teardown(() => reg.stop());
    const dry = await runScript('publish-all.ts', [
      'stage',
      '--dry-run',
      '--dist',
      out,
      '--registry',
      reg.direct,
      '--targets',
      LINUX,
    ]);
    t.equal(dry.code, 0, dry.stderr);
    t.match(dry.stdout + dry.stderr, /dry-run|would/i);
  },
);

t.test('--run-id alone: a rehearsal run (no tag yet); --dry-run downloads nothing', async (t) => {
  const zip = await artifactZip(t);
  const gh = await github(t, zip, [rehearsal]);
  const out = join(t.testdir(), 'd');
  const dry = await fetchRelease(gh.apiUrl, ['--run-id', '202', '--dist', out, '--dry-run']);
  t.equal(dry.code, 0, dry.stderr);
  t.equal(JSON.parse(dry.stdout).kind, 'rehearsal');
  t.same(gh.storageSeen, []);
  t.notOk(existsSync(out));
  const r = await fetchRelease(gh.apiUrl, ['--run-id', '202', '--dist', out]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /not tied to a tag/);
  // --tag with that run: the run check refuses a rehearsal
  const asTag = await fetchRelease(gh.apiUrl, ['--tag', tag, '--run-id', '202', '--dist', join(out, 'x')]);
  t.equal(asTag.code, 1);
  t.match(asTag.stderr, /build-run-event/);
});

t.test('planted defects: nothing lands in --dist', async (t) => {
  const out = () => join(t.testdir(), 'd');
  // a failed check leg
  const failedJobs = jobs.map((j) => (j.name === 'verify / check linux-arm64' ? { ...j, conclusion: 'failure' } : j));
  const z = await artifactZip(t);
  let gh = await github(t, z, [{ ...push, jobs: failedJobs }]);
  let r = await fetchRelease(gh.apiUrl, ['--tag', tag, '--run-id', '101', '--dist', out()]);
  t.equal(r.code, 1);
  t.match(r.stderr, /build-run-verified\][\s\S]*verify \/ check linux-arm64/);
  t.same(gh.storageSeen, [], 'refused before any download');

  // bytes other than GitHub recorded at upload
  gh = await github(t, z, [push], { digest: '0'.repeat(64) });
  let d = out();
  r = await fetchRelease(gh.apiUrl, ['--tag', tag, '--dist', d]);
  t.equal(r.code, 1);
  t.match(r.stderr, /artifact-digest/);
  t.notOk(existsSync(d));

  // a binary changed after its build-info.json was written
  const tampered = await artifactZip(t, (dist) => {
    const bin = join(dist, 'linux-arm64', 'release', 'xsnap-worker');
    chmodSync(bin, 0o755);
    writeFileSync(bin, Buffer.concat([readFileSync(bin), Buffer.from('x')]));
  });
  gh = await github(t, tampered, [push]);
  d = out();
  r = await fetchRelease(gh.apiUrl, ['--tag', tag, '--dist', d]);
  t.equal(r.code, 1);
  t.match(r.stderr, /artifact-sha256\] artifact: linux-arm64\/release\/xsnap-worker/);
  t.notOk(existsSync(join(d, 'linux-arm64')));

  // a zip with something besides the tar
  gh = await github(t, await artifactZip(t, undefined, { '../evil': new Uint8Array([1]) }), [push]);
  r = await fetchRelease(gh.apiUrl, ['--tag', tag, '--dist', out()]);
  t.equal(r.code, 1);
  t.match(r.stderr, /artifact-entry\][\s\S]*climbs out/);

  // usage
  t.equal((await fetchRelease(gh.apiUrl, [])).code, 2);
  t.equal((await fetchRelease(gh.apiUrl, ['--run-id', 'abc'])).code, 2);
  t.equal((await fetchRelease(gh.apiUrl, ['--tag', '0.15.0'])).code, 2);
});
