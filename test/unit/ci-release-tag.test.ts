// check-release-tag.ts, run as release.yml runs it, against a loopback server
// standing in for the GitHub REST API (the real HTTP exchange, our server).
import t from 'tap';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { runScript } from '../helpers/run.ts';
import { readPin, pinPath } from '../../scripts/lib/pin.ts';
import { tagVersion } from '../../scripts/lib/release-tag.ts';

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
  for (const bad of ['1.2.3', 'v1.2', 'v01.2.3', 'v1.2.3-rc.1', 'v1.2.3 ']) t.throws(() => tagVersion(bad), /not of the form vX\.Y\.Z/, bad);
});

t.test('a new tag matching the pin passes and writes the step outputs', async (t) => {
  const { url, seen, server } = await api({});
  t.teardown(() => server.close());
  const dir = t.testdir({ out: '' });
  const out = join(dir, 'out');
  const r = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/xsnap-worker-binaries', '--github-output', '--json'], {
    env: { GITHUB_API_URL: url, GITHUB_TOKEN: 'ghs_secret_token_value', GITHUB_OUTPUT: out },
  });
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).newness, 'new');
  t.match(seen[0], new RegExp(`GET /repos/Agoric/xsnap-worker-binaries/releases/tags/${tag.replace(/\./g, '\\.')} Bearer ghs_secret_token_value`));
  t.equal(readFileSync(out, 'utf8'), `tag=${tag}\nversion=${version}\nref=refs/tags/${tag}\n`);
});

t.test('an already released tag is refused (exit 1)', async (t) => {
  const { url, server } = await api({ [tag]: 200 });
  t.teardown(() => server.close());
  const r = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/x'], { env: { GITHUB_API_URL: url } });
  t.equal(r.code, 1);
  t.match(r.stderr, /tag-is-new/);
  t.match(r.stderr, /already has a release/);
});

t.test('an API error is an error, not "new" (exit 1)', async (t) => {
  const { url, server } = await api({ [tag]: 500 });
  t.teardown(() => server.close());
  const r = await runScript('check-release-tag.ts', ['--tag', tag, '--repo', 'Agoric/x'], { env: { GITHUB_API_URL: url } });
  t.equal(r.code, 1);
  t.match(r.stderr, /answered 500/);
});

t.test('a tag other than the pin (exit 1), a malformed tag (exit 2), no tag (exit 2)', async (t) => {
  const other = await runScript('check-release-tag.ts', ['--tag', 'v999.0.0'], {});
  t.equal(other.code, 1);
  t.match(other.stderr, new RegExp(`tag-matches-pin\\] v999\\.0\\.0[\\s\\S]*expected: v${version.replace(/\./g, '\\.')}`));
  const bad = await runScript('check-release-tag.ts', ['--tag', version], {});
  t.equal(bad.code, 2);
  t.match(bad.stderr, /not of the form vX\.Y\.Z/);
  const none = await runScript('check-release-tag.ts', [], { env: { GITHUB_REF_TYPE: '', GITHUB_REF_NAME: '' } });
  t.equal(none.code, 2);
  t.match(none.stderr, /--tag vX\.Y\.Z is required/);
});
