import t from 'tap';
import { TARGETS, getTarget, parseTargetList } from '../../scripts/lib/targets.ts';

t.test('target table', async (t) => {
  t.same(TARGETS.map((x) => x.name), ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64']);
  t.throws(() => getTarget('win32-x64'), /Windows is not supported/);
  t.throws(() => parseTargetList('linux-x64,linux-x64'), /twice/);
});
