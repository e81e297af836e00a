// The dist/ contract: names read back as they are written, whatever a target's name looks like.
import t from 'tap';
import {
  assetVersion,
  binaryPath,
  bundleBinaryPath,
  bundleName,
  manifestName,
  stagedPackageDir,
  tarballName,
  tarballPath,
} from '../../scripts/lib/core/layout.ts';
import { getTarget, TARGETS } from '../../scripts/lib/core/targets.ts';

const VERSIONS = ['0.14.2', '1.2.3-rc.1', '10.0.0-dev-3.x'];
// a three-part target name, as a musl build of linux-x64 would have; not (yet) in the table
const MUSL = { packageName: '@agoric/xsnap-linux-x64-musl' };

t.test('names as npm pack and the release write them', async (t) => {
  const x64 = getTarget('linux-x64');
  t.equal(tarballName(x64, '1.2.3'), 'agoric-xsnap-linux-x64-1.2.3.tgz');
  t.equal(tarballName(MUSL, '1.2.3'), 'agoric-xsnap-linux-x64-musl-1.2.3.tgz');
  t.equal(tarballPath('/d', x64, '1.2.3'), '/d/agoric-xsnap-linux-x64-1.2.3.tgz');
  t.equal(manifestName('1.2.3'), 'xsnap-worker-manifest-1.2.3.json');
  t.equal(bundleName('1.2.3'), 'xsnap-worker-binaries-1.2.3.tar.gz');
  t.equal(binaryPath('/d', 'linux-x64', 'debug'), '/d/linux-x64/debug/xsnap-worker');
  t.equal(bundleBinaryPath('linux-x64', 'release'), 'dist/linux-x64/release/xsnap-worker', 'dist/ as it lies on disk');
  t.equal(stagedPackageDir('/d', x64), '/d/packages/linux-x64');
});

t.test('assetVersion reads back the version of every versioned release asset', async (t) => {
  for (const v of VERSIONS) {
    t.equal(assetVersion(manifestName(v)), v, `manifest ${v}`);
    t.equal(assetVersion(bundleName(v)), v, `bundle ${v}`);
    for (const target of TARGETS) t.equal(assetVersion(tarballName(target, v)), v, `${target.name} ${v}`);
  }
  for (const other of ['SHA256SUMS', 'agoric-sdk-handoff.md', 'xsnap-worker-manifest-.json', 'notes.txt']) {
    t.equal(assetVersion(other), undefined, `${other}: not a versioned asset`);
  }
});

t.test('assetVersion: a three-part target name is not read as a version', async (t) => {
  const targets = [...TARGETS, MUSL];
  for (const v of VERSIONS) {
    t.equal(assetVersion(tarballName(MUSL, v), targets), v, `linux-x64-musl ${v}`);
    t.equal(assetVersion(tarballName(getTarget('linux-x64'), v), targets), v, `linux-x64 ${v} beside it`);
  }
  // the regex this replaces took "musl-1.2.3" for the version of agoric-xsnap-linux-x64-musl-1.2.3.tgz
  t.not(assetVersion('agoric-xsnap-linux-x64-musl-1.2.3.tgz', targets), 'musl-1.2.3');
});
