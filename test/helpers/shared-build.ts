// The real binaries, built once per test run and shared by every test
// (test/setup.ts builds them before any test starts): every target this host
// can build (on Linux x64 all four: linux-arm64 in the build root, the darwin
// targets by the pinned zig). Builds go through the normal build cache, so a
// second run costs well under a second per target.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import { buildTargets } from '../../scripts/lib/core/run-script.ts';
import { canBuildOn, TARGETS, type TargetName } from '../../scripts/lib/core/targets.ts';

/** dist folder holding the builds of native/pin.json */
export const SHARED_DIST = process.env.XSNAP_TEST_DIST || join(REPO_ROOT, '.cache', 'test-dist');
/** the same targets built with the "portable" math profile (the pin says "system") */
export const SHARED_PORTABLE_DIST =
  process.env.XSNAP_TEST_PORTABLE_DIST || join(REPO_ROOT, '.cache', 'test-dist-portable');
/** the targets whose binaries run here (natively or under qemu): publishing, install and behaviour tests */
export const LINUX_TARGETS = ['linux-x64', 'linux-arm64'] as const;
/** cross-compiled by zig; they cannot run here, but their bytes are real (Mach-O checks, staging, manifest) */
export const DARWIN_TARGETS = ['darwin-x64', 'darwin-arm64'] as const;
/** every target built in the shared dists: all that this host can build */
export const SHARED_TARGETS: readonly TargetName[] = TARGETS.filter((t) => canBuildOn(t)).map((t) => t.name);

export async function buildShared(): Promise<void> {
  for (const [dist, math] of [
    [SHARED_DIST, 'system'],
    [SHARED_PORTABLE_DIST, 'portable'],
  ] as const) {
    await buildTargets(dist, SHARED_TARGETS, { math });
  }
}

/** The shared dist (math profile "system", or "portable"), asserting test/setup.ts made it. */
export function sharedDist(math: 'system' | 'portable' = 'system'): string {
  const dist = math === 'system' ? SHARED_DIST : SHARED_PORTABLE_DIST;
  for (const target of SHARED_TARGETS) {
    if (!existsSync(join(dist, target, 'build-info.json'))) {
      throw new Error(`${dist}/${target} is missing: run the suite with npm test (test/setup.ts builds it once)`);
    }
  }
  return dist;
}
