// Where things live: the repository, the build output folder (dist/; what lies
// inside it is layout.ts), and the cache of fetched sources, build roots and
// finished builds (outside tracked files).
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Flags } from './cli.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEFAULT_PIN = join(REPO_ROOT, 'native', 'pin.json');
export const PACKAGE_TEMPLATES = join(REPO_ROOT, 'packages');
export const MANIFESTS_DIR = join(REPO_ROOT, 'manifests');

/** --dist, else $XSNAP_DIST_DIR, else <repo>/dist */
export function distDir(flags?: Flags): string {
  const v = flags?.dist;
  return resolve(typeof v === 'string' ? v : process.env.XSNAP_DIST_DIR || join(REPO_ROOT, 'dist'));
}

/** $XSNAP_CACHE_DIR, else $XDG_CACHE_HOME/xsnap-worker-binaries, else ~/.cache/xsnap-worker-binaries */
export function cacheDir(): string {
  if (process.env.XSNAP_CACHE_DIR) return resolve(process.env.XSNAP_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'xsnap-worker-binaries');
}
