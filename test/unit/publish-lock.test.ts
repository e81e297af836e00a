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
  const { acquirePublishLock, lockFile } = await import('../../scripts/lib/publish/publish-lock.ts');
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
  const { lockFile, takeOverStale } = await import('../../scripts/lib/publish/publish-lock.ts');
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
  const lib = JSON.stringify(new URL('../../scripts/lib/publish/publish-lock.ts', import.meta.url).pathname);
  process.env.XSNAP_LOCK_DIR = dir;
  const { lockFile } = await import('../../scripts/lib/publish/publish-lock.ts');
  const file = lockFile('http://r/', '1.2.3');
  writeFileSync(file, JSON.stringify({ pid: deadPid(), registry: 'http://r/', version: '1.2.3', since: 'x' }) + '\n');
  // each says it is ready, then waits for a start file, so that they race as closely as processes can;
  // a winner holds the lock until every run has answered (under load, a run that started late could
  // otherwise find the lock released and win it fairly)
  const go = join(dir, 'go');
  const done = join(dir, 'done');
  const code = (i: number) =>
    `const { existsSync, writeFileSync } = await import('node:fs');\nconst { acquirePublishLock } = await import(${lib});\n` +
    `writeFileSync(${JSON.stringify(join(dir, `ready-${i}`))}, '');\nwhile (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));\ntry { acquirePublishLock('http://r/', '1.2.3'); console.log('WON'); while (!existsSync(${JSON.stringify(done)})) await new Promise((r) => setTimeout(r, 20)); }\ncatch { console.log('LOST'); }`;
  const answered: string[] = [];
  const runs = Array.from(
    { length: 8 },
    (_, i) =>
      new Promise<string>((res) => {
        const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code(i)], {
          env: { ...process.env, XSNAP_LOCK_DIR: dir },
        });
        let out = '';
        c.stdout.on('data', (d) => {
          out += d;
          if (/WON|LOST/.test(out) && !answered.includes(String(i))) {
            answered.push(String(i));
            if (answered.length === 8) writeFileSync(done, '');
          }
        });
        c.on('close', () => res(out.trim()));
      }),
  );
  const ready = () => readdirSync(dir).filter((f) => f.startsWith('ready-')).length;
  for (let waited = 0; ready() < 8 && waited < 120_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  writeFileSync(go, '');
  const outs = await Promise.all(runs);
  t.equal(outs.filter((o) => o === 'WON').length, 1, outs.join(' '));
});

t.test('issue 19 item 3: a live lock written while a stale one is being taken over is never removed', async (t) => {
  process.env.XSNAP_LOCK_DIR = t.testdir();
  const { lockFile, takeOverStale } = await import('../../scripts/lib/publish/publish-lock.ts');
  const file = lockFile('http://r/', '1.2.3');
  const stale = JSON.stringify({ pid: deadPid(), registry: 'http://r/', version: '1.2.3', since: 'then' }) + '\n';
  const live = JSON.stringify({ pid: process.pid, registry: 'http://r/', version: '1.2.3', since: 'now' }) + '\n';
  // the interleaving of the review: after we read the stale lock, another run takes it over and
  // writes its live lock; then we act on what we read
  writeFileSync(file, stale);
  const took = takeOverStale(file, stale, () => writeFileSync(file, live));
  t.equal(took, false, 'not taken over');
  t.equal(readFileSync(file, 'utf8'), live, "the live run's lock is in place, whole");
  // another run is in the middle of a takeover: we stand back
  writeFileSync(file, stale);
  writeFileSync(`${file}.takeover`, JSON.stringify({ pid: process.pid, since: 'now' }) + '\n');
  t.equal(takeOverStale(file, stale), false, 'someone else is taking it over');
  t.equal(readFileSync(file, 'utf8'), stale, 'and we removed nothing');
  // ... unless that run died doing it: then a person decides
  writeFileSync(`${file}.takeover`, JSON.stringify({ pid: deadPid(), since: 'then' }) + '\n');
  t.throws(() => takeOverStale(file, stale), /died doing it[\s\S]*remove .*\.takeover/);
});

t.test('issue 19 item 3: one lock per registry, whatever its spelling', async (t) => {
  process.env.XSNAP_LOCK_DIR = t.testdir();
  const { acquirePublishLock, lockFile } = await import('../../scripts/lib/publish/publish-lock.ts');
  const spellings = ['https://registry.npmjs.org/', 'https://registry.npmjs.org./', 'https://REGISTRY.npmjs.com/'];
  t.equal(new Set(spellings.map((u) => lockFile(u, '1.2.3'))).size, 1, 'the public registry: one lock file');
  t.equal(lockFile('http://Reg.Example./x/', '1.2.3'), lockFile('http://reg.example/x/', '1.2.3'), 'a host is a host');
  t.not(lockFile('http://reg.example/x/', '1.2.3'), lockFile('http://reg.example/y/', '1.2.3'), 'paths differ');
  const held = acquirePublishLock(spellings[0], '1.2.3');
  t.teardown(() => held.release());
  // a second run, as another process would see it: a live pid that is not ours
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => sleeper.kill('SIGKILL'));
  const file = lockFile(spellings[0], '1.2.3');
  const record = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...record, pid: sleeper.pid }) + '\n');
  for (const u of spellings.slice(1))
    t.throws(() => acquirePublishLock(u, '1.2.3'), /another publish-all of 1\.2\.3/, `${u}: refused while held`);
});
