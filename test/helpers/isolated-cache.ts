// A cache folder of a test's own that shares only the (1.2 GB, slow to make)
// pinned build root with the real cache, so a test can watch fetching and
// compiling happen, or tamper with cached builds, without touching others.
import { mkdtemp, mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../../scripts/lib/core/paths.ts';

export async function isolatedCache(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xsnap-cache-'));
  const shared = join(cacheDir(), 'buildroots');
  await mkdir(shared, { recursive: true });
  await symlink(shared, join(dir, 'buildroots'));
  return dir;
}
