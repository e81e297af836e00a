// The real linux binaries, built once per test run and shared by every test
// (test/setup.ts builds them before any test starts). Builds go through the
// normal build cache, so a second run costs well under a second per target.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/paths.ts';
import { buildTargets } from '../../scripts/lib/run-script.ts';

/** dist folder holding linux-x64 and linux-arm64 builds of native/pin.json */
export const SHARED_DIST = process.env.XSNAP_TEST_DIST || join(REPO_ROOT, '.cache', 'test-dist');
/** the same targets built with the "portable" math profile (the pin says "system") */
export const SHARED_PORTABLE_DIST =
  process.env.XSNAP_TEST_PORTABLE_DIST || join(REPO_ROOT, '.cache', 'test-dist-portable');
export const LINUX_TARGETS = ['linux-x64', 'linux-arm64'] as const;

export async function buildShared(): Promise<void> {
  for (const [dist, math] of [
    [SHARED_DIST, 'system'],
    [SHARED_PORTABLE_DIST, 'portable'],
  ] as const) {
    await buildTargets(dist, LINUX_TARGETS, { math });
  }
}

/** The shared dist (math profile "system", or "portable"), asserting test/setup.ts made it. */
export function sharedDist(math: 'system' | 'portable' = 'system'): string {
  const dist = math === 'system' ? SHARED_DIST : SHARED_PORTABLE_DIST;
  for (const target of LINUX_TARGETS) {
    if (!existsSync(join(dist, target, 'build-info.json'))) {
      throw new Error(`${dist}/${target} is missing: run the suite with npm test (test/setup.ts builds it once)`);
    }
  }
  return dist;
}
