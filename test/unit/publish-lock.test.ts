// The publish lock (one publish-all per registry and version on this machine):
// a live holder refuses, a dead one is taken over by exactly one run, a lock
// replaced while it is being taken over is given back, and one that cannot be
// read is left for a person.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const deadPid = () => spawnSync('true').pid!;

t.test('acquire, refuse while a live run holds it, take over a dead one, leave an unreadable one', async (t) => {
  process.env.XSNAP_LOCK_DIR = t.testdir();
  const { acquirePublishLock, lockFile } = await import('../../scripts/lib/publish-lock.ts');
  const file = lockFile('http://r/', '1.2.3');

  const mine = acquirePublishLock('http://r/', '1.2.3');
  t.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid);
  mine.release();
  t.notOk(existsSync(file), 'released: gone');

  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => sleeper.kill('SIGKILL'));
  const live = { pid: sleeper.pid, registry: 'http://r/', version: '1.2.3', since: '2026-11-21T00:00:00.000Z' };
  writeFileSync(file, JSON.stringify(live) + '\n');
  t.throws(() => acquirePublishLock('http://r/', '1.2.3'), /another publish-all of 1\.2\.3 to http:\/\/r\/ is running/);
  t.equal(JSON.parse(readFileSync(file, 'utf8')).pid, sleeper.pid, "the live run's lock is untouched");

  writeFileSync(file, JSON.stringify({ ...live, pid: deadPid() }) + '\n');
  const taken = acquirePublishLock('http://r/', '1.2.3');
  t.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid, "a dead run's lock is taken over");
  taken.release();

  writeFileSync(file, '');
  t.throws(() => acquirePublishLock('http://r/', '1.2.3'), /cannot be read[\s\S]*remove the file and re-run/);
  t.equal(readFileSync(file, 'utf8'), '', 'an unreadable lock is left as it is');
  t.same(readdirSync(process.env.XSNAP_LOCK_DIR!), [basename(file)], 'nothing written aside is left');
});

t.test('a lock replaced while a stale one is taken over is given back, not removed', async (t) => {
  process.env.XSNAP_LOCK_DIR = t.testdir();
  const { lockFile, takeOverStale } = await import('../../scripts/lib/publish-lock.ts');
  const file = lockFile('http://r/', '1.2.3');
  const stale = JSON.stringify({ pid: deadPid(), registry: 'http://r/', version: '1.2.3', since: 'then' }) + '\n';
  const fresh = JSON.stringify({ pid: process.pid, registry: 'http://r/', version: '1.2.3', since: 'now' }) + '\n';
  // we read `stale`; before we take it over, another run takes it over and writes `fresh`
  writeFileSync(file, fresh);
  t.equal(takeOverStale(file, stale), false, 'not taken over');
  t.equal(readFileSync(file, 'utf8'), fresh, "the other run's lock is back in place");
  writeFileSync(file, stale);
  t.equal(takeOverStale(file, stale), true);
  t.notOk(existsSync(file));
  t.equal(takeOverStale(file, stale), false, 'gone already: nothing to take over');
});

t.test('eight runs racing for the same dead lock: exactly one gets it', async (t) => {
  const dir = t.testdir();
  const lib = JSON.stringify(new URL('../../scripts/lib/publish-lock.ts', import.meta.url).pathname);
  process.env.XSNAP_LOCK_DIR = dir;
  const { lockFile } = await import('../../scripts/lib/publish-lock.ts');
  const file = lockFile('http://r/', '1.2.3');
  writeFileSync(file, JSON.stringify({ pid: deadPid(), registry: 'http://r/', version: '1.2.3', since: 'x' }) + '\n');
  // each waits for a start file, so that they race as closely as processes can
  const go = join(dir, 'go');
  const code =
    `const { existsSync } = await import('node:fs');\n` +
    `const { acquirePublishLock } = await import(${lib});\n` +
    `while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));\n` +
    `try { acquirePublishLock('http://r/', '1.2.3'); console.log('WON'); ` +
    `await new Promise((r) => setTimeout(r, 1000)); }\n` +
    `catch { console.log('LOST'); }`;
  const runs = Array.from(
    { length: 8 },
    () =>
      new Promise<string>((res) => {
        const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
          env: { ...process.env, XSNAP_LOCK_DIR: dir },
        });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.on('close', () => res(out.trim()));
      }),
  );
  await new Promise((r) => setTimeout(r, 3000));
  writeFileSync(go, '');
  const outs = await Promise.all(runs);
  t.equal(outs.filter((o) => o === 'WON').length, 1, outs.join(' '));
});
