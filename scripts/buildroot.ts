#!/usr/bin/env -S npx tsx
// The pinned Debian build root: make or check it, or re-pin its package set.
// build-target.ts makes and checks it on its own; this is for CI steps and
// maintainers (see scripts/lib/build/buildroot.ts for what is pinned and checked).
import { runCommand } from './lib/core/cli.ts';
import { CheckFailed, UsageError } from './lib/core/errors.ts';
import {
  BUILD_ROOT_SPEC,
  buildRootDir,
  buildRootId,
  checkBuildRoot,
  debianMirrors,
  KEYRING,
  LOCK_FILE,
  readLock,
  updateContents,
  updateLock,
} from './lib/build/buildroot.ts';
import { CONTENTS_FILE } from './lib/build/buildroot-contents.ts';

await runCommand(
  {
    name: 'buildroot.ts',
    summary: 'check or re-pin the Debian build root (build-target.ts makes it when missing)',
    usage: 'npx tsx scripts/buildroot.ts [--check | --update-lock | --update-contents]',
    options: [
      {
        name: 'check',
        type: 'boolean',
        description: 'check the cached build root from its bytes (exit 1 if it is missing or not intact)',
      },
      {
        name: 'update-lock',
        type: 'boolean',
        description: `resolve the package set anew (debootstrap --download-only, root) and write ${LOCK_FILE.replace(/.*\/scripts\//, 'scripts/')}`,
      },
      {
        name: 'update-contents',
        type: 'boolean',
        description: `pin what the build root holds beyond its packages (and the digest of what they hold) in ${CONTENTS_FILE.replace(/.*\/scripts\//, 'scripts/')} (makes the root if missing, root); review the diff`,
      },
    ],
    details: `
The build root is Debian ${BUILD_ROOT_SPEC.suite} (${BUILD_ROOT_SPEC.variant}, ${BUILD_ROOT_SPEC.arch}) with
${BUILD_ROOT_SPEC.include.join(', ')}. Its Release file is checked with the keyring of
${KEYRING.package} ${KEYRING.version} (pinned by sha256), every .deb against buildroot-lock.json
(name, version, sha256) before anything is installed. A root on disk is used only when every entry of its tree
is what the pinned .debs hold (read from the .debs themselves) or what buildroot-contents.json pins, and there is
nothing else. After --update-lock, run --update-contents. Mirrors, in order:
${debianMirrors().join(', ')} ($XSNAP_DEBIAN_MIRROR, $XSNAP_DEBIAN_ARCHIVE_MIRROR).`,
  },
  async (flags) => {
    const modes = ['check', 'update-lock', 'update-contents'].filter((m) => flags[m]);
    if (modes.length !== 1) throw new UsageError('give exactly one of --check, --update-lock, --update-contents');
    if (flags['update-lock']) {
      const { lock, mirror } = await updateLock();
      return {
        json: { lock: LOCK_FILE, packages: lock.packages.length, mirror },
        text: `${LOCK_FILE}: ${lock.packages.length} packages from ${mirror}; the build root id is now ${buildRootId(readLock())}`,
      };
    }
    if (flags['update-contents']) {
      const { pin, root } = await updateContents();
      const n = Object.keys(pin.unpackaged).length;
      return {
        json: { contents: CONTENTS_FILE, root, id: pin.id, packaged: pin.packaged, unpackaged: n },
        text: `${CONTENTS_FILE}: ${n} entries of ${root} beyond its packages (packaged sha256 ${pin.packaged})`,
      };
    }
    const dir = buildRootDir();
    const failures = await checkBuildRoot(dir);
    if (failures.length) throw new CheckFailed(failures);
    return {
      json: { path: dir, id: buildRootId(), intact: true },
      text: `build root ${buildRootId()} in ${dir}: intact`,
    };
  },
);
