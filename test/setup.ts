// tap's `before` hook: runs once before any test file. Builds the real binaries
// of every target this host can build (linux in the build root, darwin by zig)
// that the e2e tests share, so no test compiles them again.
import { buildShared, SHARED_DIST } from './helpers/shared-build.ts';

if (!process.env.XSNAP_SKIP_SHARED_BUILD) {
  const t0 = Date.now();
  await buildShared();
  console.error(`# shared build ready in ${SHARED_DIST} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
