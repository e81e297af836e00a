// A no-op build: unchanged inputs and an unchanged dist/<target> check nothing again
// (the record of the last full check, scripts/lib/build/checked-output.ts), while any change
// to the output (bytes planted with the same size and mtime, a file added), --check
// and a copied folder are checked in full.
import t from 'tap';
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from '../helpers/run.ts';
import { runRaw } from '../../scripts/lib/core/exec.ts';
import { sharedDist } from '../helpers/shared-build.ts';

const FULL = /checking the binaries/;
const NOOP = /as its last full check left it/;

t.test('a no-op build checks nothing again; a planted change, an added file, --check and a copy do', async (t) => {
  const dist = await mkdtemp(join(tmpdir(), 'xsnap-noop-'));
  const build = (...extra: string[]) =>
    runScript('build-target.ts', ['--target', 'linux-x64', '--dist', dist, '--json', ...extra]);
  const release = join(dist, 'linux-x64', 'release', 'xsnap-worker');

  const first = await build();
  t.equal(first.code, 0, first.stderr);
  t.match(first.stderr, FULL, 'the first build into a new folder checks its binaries');
  const good = readFileSync(release);
  t.ok(good.equals(readFileSync(join(sharedDist(), 'linux-x64', 'release', 'xsnap-worker'))), 'the real bytes');

  const second = await build();
  t.equal(second.code, 0, second.stderr);
  t.match(second.stderr, NOOP, 'unchanged: nothing checked again');
  t.notMatch(second.stderr, FULL);
  t.equal(JSON.parse(second.stdout).buildInfo.cache.hit, true);

  // plant other bytes of the same size, and put the mtime back: only the ctime and the bytes tell
  const st = statSync(release, { bigint: true });
  const planted = Buffer.from(good);
  planted[planted.length - 1] ^= 0xff;
  writeFileSync(release, planted);
  const ns = st.mtimeNs % 1_000_000_000n;
  const touched = await runRaw([
    'touch',
    '-m',
    '-d',
    `@${st.mtimeNs / 1_000_000_000n}.${ns.toString().padStart(9, '0')}`,
    release,
  ]);
  t.equal(touched.code, 0, touched.stderr);
  t.equal(statSync(release, { bigint: true }).size, st.size);
  t.equal(statSync(release, { bigint: true }).mtimeNs, st.mtimeNs, 'same size and mtime, to the nanosecond');
  const third = await build();
  t.equal(third.code, 0, third.stderr);
  t.notMatch(third.stderr, NOOP, 'the planted change is not vouched for');
  t.match(third.stderr, FULL, 'checked in full');
  t.ok(readFileSync(release).equals(good), 'and the planted bytes replaced by the build');

  t.match((await build()).stderr, NOOP, 'then unchanged again');

  writeFileSync(join(dist, 'linux-x64', 'release', 'extra'), 'x');
  const added = await build();
  t.match(added.stderr, FULL, 'a file added to dist/<target>: checked in full');

  const forced = await build('--check');
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stderr, FULL, '--check checks the binaries in full');
  t.match(forced.stderr, /checking the build root .* in full/, 'and every entry of the build root');

  // the same bytes in another folder (a cache restore, a copy): checked in full there
  const copy = await mkdtemp(join(tmpdir(), 'xsnap-noop-copy-'));
  cpSync(join(dist, 'linux-x64'), join(copy, 'linux-x64'), { recursive: true, preserveTimestamps: true });
  const copied = await runScript('build-target.ts', ['--target', 'linux-x64', '--dist', copy]);
  t.equal(copied.code, 0, copied.stderr);
  t.match(copied.stderr, FULL, 'a copied dist/<target> is checked in full');
});
