// test/preload.ts: the processes a test starts run without tap's processinfo, and keep the rest of NODE_OPTIONS.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { withoutProcessinfo } from '../preload.ts';

const PI = 'file:///repo/node_modules/@tapjs/processinfo/dist/esm/import.mjs';

t.test('processinfo is taken out of NODE_OPTIONS, quoted or not; the rest is kept', async (t) => {
  t.equal(withoutProcessinfo(`"--import=${PI}"`), undefined);
  t.equal(withoutProcessinfo(`--import=${PI}`), undefined);
  t.equal(withoutProcessinfo(`--max-old-space-size=200 "--import=${PI}"`), '--max-old-space-size=200');
  t.equal(withoutProcessinfo('--import=tsx --trace-warnings'), '--import=tsx --trace-warnings');
  t.equal(withoutProcessinfo(undefined), undefined);
});

t.test('a process this test starts has no processinfo, and what the test gave it', async (t) => {
  const show =
    'console.log(JSON.stringify([process.env.NODE_OPTIONS ?? null, Object.keys(process.env).filter((k) => k.startsWith("_TAPJS_PROCESSINFO_")), process.title]))';
  const bare = spawnSync(process.execPath, ['-e', show], { encoding: 'utf8' });
  t.match(JSON.parse(bare.stdout), [null, []], 'nothing of processinfo');
  const own = spawnSync(process.execPath, ['-e', show], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '--title=planted-title' },
  });
  const [options, vars, title] = JSON.parse(own.stdout) as [string, string[], string];
  t.notMatch(options, /processinfo/);
  t.same(vars, []);
  t.equal(title, 'planted-title', "the test's own options kept, and in effect");
  // planted: a process started with processinfo and without this preload hands processinfo to the next one
  const processinfo = process.execArgv.find((a) => a.includes('@tapjs/processinfo'));
  t.ok(processinfo, 'this test process itself was started with processinfo');
  const grandchild = `const { spawnSync } = require('node:child_process'); process.stdout.write(spawnSync(process.execPath, ['-e', 'console.log(process.env.NODE_OPTIONS ?? "")'], { encoding: 'utf8' }).stdout)`;
  const planted = spawnSync(process.execPath, [processinfo!, '-e', grandchild], { encoding: 'utf8' });
  t.match(planted.stdout, /@tapjs\/processinfo/, 'without the preload, processinfo is passed on');
});
