// npm-client's tidying of temporary npm configs left by killed runs, in a temp
// folder standing in for a shared /tmp.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sweepStaleConfigs } from '../../scripts/lib/core/npm-client.ts';

/** a pid whose process has exited */
const deadPid = () => spawnSync('true').pid;
const isRoot = process.getuid?.() === 0;

t.test(
  "stale configs of this user are removed; live ones and other users' are left",
  { skip: isRoot ? false : 'needs root to make a folder owned by another user' },
  async (t) => {
    const tmp = t.testdir();
    const dead = deadPid();
    const mine = join(tmp, `xsnap-npm-${dead}-mine`);
    const theirs = join(tmp, `xsnap-npm-${dead}-theirs`);
    const live = join(tmp, `xsnap-npm-${process.pid}-live`);
    for (const d of [mine, theirs, live]) {
      mkdirSync(d, { mode: 0o700 });
      writeFileSync(join(d, 'npmrc'), '//r/:_authToken=x\n', { mode: 0o600 });
    }
    // another user's leftover in a shared /tmp (nobody, 65534)
    chownSync(theirs, 65534, 65534);
    chownSync(join(theirs, 'npmrc'), 65534, 65534);
    t.doesNotThrow(() => sweepStaleConfigs(tmp));
    t.notOk(existsSync(mine), "this user's config whose process is gone: removed");
    t.ok(existsSync(join(theirs, 'npmrc')), "another user's folder: not touched");
    t.ok(existsSync(join(live, 'npmrc')), "a running process's config: kept");
  },
);

t.test(
  'a stale config that cannot be removed does not stop the client',
  { skip: isRoot ? 'root can remove any folder here' : false },
  async (t) => {
    const tmp = t.testdir();
    const stuck = join(tmp, `xsnap-npm-${deadPid()}-stuck`);
    mkdirSync(join(stuck, 'locked'), { recursive: true });
    writeFileSync(join(stuck, 'locked', 'npmrc'), 'x\n');
    chmodSync(join(stuck, 'locked'), 0o500);
    t.teardown(() => chmodSync(join(stuck, 'locked'), 0o700));
    t.doesNotThrow(() => sweepStaleConfigs(tmp));
    t.ok(existsSync(stuck), 'left in place (with a warning)');
  },
);

t.test('a missing temp folder is not an error', async (t) => {
  t.doesNotThrow(() => sweepStaleConfigs(join(t.testdirName, 'does-not-exist')));
});

t.test('the registry token goes to the registry only, never to a tarball host elsewhere', async (t) => {
  const { createServer } = await import('node:http');
  const { RegistryReader } = await import('../../scripts/lib/core/npm-client.ts');
  const seen: Record<string, string | undefined> = {};
  const servers = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<import('node:http').Server>((resolve) => {
          const s = createServer((req, res) => {
            seen[`${(s.address() as import('node:net').AddressInfo).port}${req.url}`] = req.headers.authorization;
            res.end('bytes');
          });
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  t.teardown(() => servers.forEach((s) => s.close()));
  const [registry, elsewhere] = servers.map(
    (s) => `http://127.0.0.1:${(s.address() as import('node:net').AddressInfo).port}`,
  );
  const reader = new RegistryReader({ registry, token: 'npm_registry_only_token' });
  await reader.download(`${registry}/pkg/-/pkg-1.0.0.tgz`);
  await reader.download(`${elsewhere}/pkg/-/pkg-1.0.0.tgz`);
  t.equal(
    Object.entries(seen).find(([k]) => registry.endsWith(k.split('/')[0]))?.[1],
    'Bearer npm_registry_only_token',
    'the registry gets the token',
  );
  t.equal(
    Object.entries(seen).find(([k]) => elsewhere.endsWith(k.split('/')[0]))?.[1],
    undefined,
    'another host does not',
  );
});

t.test('a publish with provenance hands npm the OIDC request variables; nothing else does', async (t) => {
  // a stand-in `npm` first on PATH records the environment of each call (a fixture: no registry is involved)
  const dir = t.testdir();
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\nenv > "${dir}/call-$1-$$.env"\n`, { mode: 0o755 });
  const saved = { ...process.env };
  t.teardown(() => {
    process.env = saved;
  });
  Object.assign(process.env, {
    PATH: `${bin}:${process.env.PATH}`,
    GITHUB_ACTIONS: 'true',
    ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:9/oidc-url',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'sentinel-oidc-request-token',
    GITHUB_TOKEN: 'sentinel-github-token',
    NPM_TOKEN: 'sentinel-npm-token',
  });
  const { withNpmClient } = await import('../../scripts/lib/core/npm-client.ts');
  const { readdirSync, readFileSync, rmSync } = await import('node:fs');
  const calls = () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.env'));
    const envs = files.map((f) => readFileSync(join(dir, f), 'utf8'));
    files.forEach((f) => rmSync(join(dir, f)));
    return envs;
  };
  const bytes = { name: 'agoric-xsnap-linux-x64-1.2.3.tgz', data: Buffer.from('fixture, never unpacked') };
  await withNpmClient({ registry: 'https://registry.npmjs.org/', token: 'sentinel-npm-token' }, async (c) => {
    for (const [what, call] of [
      ['publish', () => c.publish(bytes, { tag: 'staging-1.2.3', provenance: true })],
      ['stage publish', () => c.stagePublish(bytes, { tag: 'staging-1.2.3', provenance: true })],
    ] as const) {
      await call();
      const [env] = calls();
      t.match(env, /^ACTIONS_ID_TOKEN_REQUEST_URL=http:\/\/127\.0\.0\.1:9\/oidc-url$/m, `${what}: the OIDC URL`);
      t.match(env, /^ACTIONS_ID_TOKEN_REQUEST_TOKEN=/m, `${what}: the OIDC request token`);
      t.notMatch(env, /sentinel-github-token|sentinel-npm-token/, `${what}: no GITHUB_TOKEN, no npm token`);
    }
    await c.publish(bytes, { tag: 'staging-1.2.3', provenance: false });
    await c.stagePublish(bytes, { tag: 'staging-1.2.3', provenance: false });
    for (const env of calls()) t.notMatch(env, /ACTIONS_ID_TOKEN_REQUEST|sentinel/, 'without provenance: none of them');
  });
});

t.test(
  "--stop-registry reads a process's command line from /proc, or from ps where there is none (macOS)",
  async (t) => {
    const { commandLine } = await import('../../scripts/lib/core/process.ts');
    const { spawn } = await import('node:child_process');
    const sleeper = spawn('sleep', ['30', '0.5'], { stdio: 'ignore' });
    t.teardown(() => sleeper.kill('SIGKILL'));
    await new Promise((res) => setTimeout(res, 100));
    const fromProc = await commandLine(sleeper.pid!);
    t.equal(fromProc, 'sleep 30 0.5');
    t.equal(await commandLine(sleeper.pid!, t.testdir() + '/no-procfs'), fromProc, 'ps gives the same line');
    t.equal(await commandLine(deadPid()), null, 'a process that is gone: null, either way');
    t.equal(await commandLine(deadPid(), t.testdir() + '/no-procfs'), null);
  },
);
