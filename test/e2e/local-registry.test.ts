// The embedded registry's folder (.registry/) as the next run finds it: a
// server.json left behind names a process and a URL. Issue 19 item 5: before
// the stored password and tokens go to that URL, the process must be this
// folder's registry (the check --stop-registry makes); a reused pid or port is not.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalRegistry } from '../../scripts/lib/publish/local-registry.ts';

t.test('a server.json naming a live process that is not our registry gets no credentials', async (t) => {
  const dir = t.testdir();
  // an earlier start made the user, its password and token
  const first = await startLocalRegistry({ dir });
  const token = first.token;
  await first.stop();
  // the pid now belongs to some other program, and the port to another server that answers a ping
  const seen: Array<{ method?: string; url?: string; auth?: string; body: string }> = [];
  const other = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"token":"theirs"}');
    });
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  t.teardown(() => other.close());
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => sleeper.kill('SIGKILL'));
  const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}/`;
  writeFileSync(join(dir, 'server.json'), JSON.stringify({ pid: sleeper.pid, url, flavour: 'staging' }) + '\n');

  const reg = await startLocalRegistry({ dir });
  t.teardown(() => reg.stop());
  t.not(reg.url, url, 'not reused: a registry of ours was started');
  t.ok(reg.started);
  t.same(
    seen.filter((s) => s.auth || /password|token/i.test(s.body) || s.method !== 'GET'),
    [],
    'the other server got no credential, no password, no write',
  );
  t.notOk(
    seen.some((s) => s.auth?.includes(token)),
    'the stored token never went there',
  );
  const who = await fetch(new URL('-/whoami', reg.url), { headers: { authorization: `Bearer ${reg.token}` } });
  t.equal(who.status, 200);
  t.equal(((await who.json()) as { username?: string }).username, reg.user, 'our registry knows our user');
});
