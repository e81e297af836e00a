// Process identity (issue 20, item 3): the one check the publish lock, the local registry and the npm config sweep
// use to ask whether a recorded pid is still a process, and whether it is one we may signal.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { processAlive, processState } from '../../scripts/lib/core/process.ts';

const isRoot = process.getuid?.() === 0;

t.test('this process and a live child are ours; a finished one is gone', async (t) => {
  t.equal(processState(process.pid), 'ours');
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill();
  });
  t.equal(processState(child.pid!), 'ours');
  t.ok(processAlive(child.pid!));
  const dead = spawnSync('true').pid;
  t.equal(processState(dead), 'gone');
  t.notOk(processAlive(dead));
});

t.test(
  "another user's process is alive but not ours",
  { skip: isRoot ? 'root may signal every process' : false },
  async (t) => {
    // pid 1 belongs to root: signal 0 is refused with EPERM
    t.equal(processState(1), 'another-user');
    t.ok(processAlive(1));
  },
);
