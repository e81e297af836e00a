#!/usr/bin/env -S npx tsx
// The pinned Debian build root: make or check it, or re-pin its package set.
// build-target.ts makes and checks it on its own; this is for CI steps and
// maintainers (see scripts/lib/buildroot.ts for what is pinned and checked).
import { runCommand } from './lib/cli.ts';
import { CheckFailed, UsageError } from './lib/errors.ts';
import {
  BUILD_ROOT_SPEC,
  buildRootDir,
  buildRootId,
  checkBuildRoot,
  debianMirrors,
  ensureBuildRoot,
  KEYRING,
  LOCK_FILE,
  readLock,
  updateLock,
} from './lib/buildroot.ts';

await runCommand(
  {
    name: 'buildroot.ts',
    summary: 'make, check or re-pin the Debian build root',
    usage: 'npx tsx scripts/buildroot.ts [--check | --ensure | --update-lock | --path]',
    options: [
      {
        name: 'check',
        type: 'boolean',
        description: 'check the cached build root from its bytes (exit 1 if it is missing or not intact)',
      },
      { name: 'ensure', type: 'boolean', description: 'check it, or make it (root) when missing or not intact' },
      {
        name: 'update-lock',
        type: 'boolean',
        description:
          `resolve the package set anew (debootstrap --download-only, root) ` +
          `and write ${LOCK_FILE.replace(/.*\/scripts\//, 'scripts/')}`,
      },
      { name: 'path', type: 'boolean', description: 'print where the build root lives' },
    ],
    details: `
The build root is Debian ${BUILD_ROOT_SPEC.suite} (${BUILD_ROOT_SPEC.variant}, ${BUILD_ROOT_SPEC.arch}) with
${BUILD_ROOT_SPEC.include.join(', ')}. Its Release file is checked with the keyring of
${KEYRING.package} ${KEYRING.version} (pinned by sha256), every .deb against buildroot-lock.json
(name, version, sha256) before anything is installed. Mirrors, in order:
${debianMirrors().join(', ')} ($XSNAP_DEBIAN_MIRROR, $XSNAP_DEBIAN_ARCHIVE_MIRROR).`,
  },
  async (flags) => {
    const modes = ['check', 'ensure', 'update-lock', 'path'].filter((m) => flags[m]);
    if (modes.length !== 1) throw new UsageError('give exactly one of --check, --ensure, --update-lock, --path');
    if (flags.path) return { json: { path: buildRootDir(), id: buildRootId() }, text: buildRootDir() };
    if (flags['update-lock']) {
      const { lock, mirror } = await updateLock();
      return {
        json: { lock: LOCK_FILE, packages: lock.packages.length, mirror },
        text:
          `${LOCK_FILE}: ${lock.packages.length} packages from ${mirror}; the build root ` +
          `id is now ${buildRootId(readLock())}`,
      };
    }
    if (flags.ensure) {
      const root = await ensureBuildRoot();
      return { json: root, text: `build root ${root.id} in ${root.path}: intact` };
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
