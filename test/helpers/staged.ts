// The shared linux build, staged and manifested once: tests that need packed
// tarballs and a manifest get a private copy of it to tamper with. Several test
// files may ask at once: each builds into its own temporary folder and renames
// it into place; whoever loses the race uses the winner's copy.
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import { sharedDist, LINUX_TARGETS } from './shared-build.ts';
import { stageReleaseSet } from '../../scripts/lib/core/run-script.ts';

export const STAGED_ROOT = join(REPO_ROOT, '.cache', 'test-staged');
export const LINUX = LINUX_TARGETS.join(',');

/**
 * Everything the staged result depends on: the builds, the code that stages and manifests,
 * the templates, the corpus.
 */
const INPUTS = [
  'scripts/stage-packages.ts',
  'scripts/generate-manifest.ts',
  'packages',
  ...[
    'package/packages',
    'core/manifest',
    'package/bundle',
    'core/hash',
    'behaviour/fingerprint',
    'behaviour/determinism',
    'behaviour/worker-protocol',
  ].map((m) => `scripts/lib/${m}.ts`),
  'native/pin.json',
  'native/fingerprint-corpus',
  'native/determinism-corpus',
  'manifests/xsnap-worker-manifest.schema.json',
];

async function hashTree(h: ReturnType<typeof createHash>, path: string): Promise<void> {
  if (!existsSync(path)) return h.update(`missing ${path}\n`) as unknown as void;
  const s = await stat(path);
  if (s.isDirectory()) {
    for (const name of (await readdir(path)).sort()) await hashTree(h, join(path, name));
  } else {
    h.update(`${path}\n`).update(await readFile(path));
  }
}

async function inputsKey(dist: string): Promise<string> {
  const h = createHash('sha256');
  h.update(`determinism size ${process.env.XSNAP_DETERMINISM_SIZE ?? 'release'}\n`);
  for (const t of LINUX_TARGETS) h.update(await readFile(join(dist, t, 'build-info.json')));
  for (const p of INPUTS) await hashTree(h, join(REPO_ROOT, p));
  return h.digest('hex').slice(0, 16);
}

/**
 * A dist holding the shared linux builds (of a math profile), their staged packages and dist/release/.
 * Read-only: copy before changing.
 */
export async function stagedDist(math: 'system' | 'portable' = 'system'): Promise<string> {
  const shared = sharedDist(math);
  const final = join(STAGED_ROOT, await inputsKey(shared));
  if (existsSync(join(final, 'release'))) return final;
  await mkdir(STAGED_ROOT, { recursive: true });
  const partial = await mkdtemp(join(STAGED_ROOT, '.partial-'));
  try {
    for (const t of LINUX_TARGETS) await cp(join(shared, t), join(partial, t), { recursive: true });
    await stageReleaseSet(partial, LINUX_TARGETS);
    try {
      await rename(partial, final);
    } catch (e) {
      if (!existsSync(join(final, 'release'))) throw e; // lost the race: the other copy is just as good
    }
    return final;
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/** A private, writable copy of the staged dist (in `dir`, or a new temporary folder). */
export async function stagedCopy(dir?: string, math: 'system' | 'portable' = 'system'): Promise<string> {
  const src = await stagedDist(math);
  const dest = dir ?? (await mkdtemp(join(tmpdir(), 'xsnap-staged-')));
  await cp(src, dest, { recursive: true });
  return dest;
}
