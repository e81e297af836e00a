// Verification pieces that need no build: a darwin target refusing an ELF
// file, tags, install platforms.
import t from 'tap';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkBinary } from '../../scripts/lib/build/binary-checks.ts';
import { getTarget, parseTargetList } from '../../scripts/lib/core/targets.ts';
import { tagFromEnv } from '../../scripts/lib/ci/release-tag.ts';
import { platformsFor } from '../../scripts/lib/verify/install-check.ts';

// The Mach-O checks run on the real darwin binaries (test/e2e/macho.test.ts); here only what needs no binary.
t.test('a darwin target refuses an ELF file', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'fixture-darwin-arm64-elf');
  await writeFile(file, Buffer.from('\x7fELF\x02\x01\x01' + '\0'.repeat(57), 'latin1'));
  await chmod(file, 0o755);
  const r = await checkBinary(file, getTarget('darwin-arm64'), 'fixture', { version: '1.2.3', runner: null });
  t.match(r.failures, [{ check: 'binary-format', actual: /ELF file, not Mach-O/ }]);
});

t.test('the release tag comes from --tag or a GitHub tag ref', async (t) => {
  t.equal(tagFromEnv('v1.2.3', {}), 'v1.2.3');
  t.equal(tagFromEnv(undefined, { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'v0.15.0' }), 'v0.15.0');
  t.equal(tagFromEnv(undefined, { GITHUB_REF_TYPE: 'branch', GITHUB_REF_NAME: 'main' }), undefined);
});

t.test('install platforms: one per target, plus a musl host none fits', async (t) => {
  t.same(platformsFor(parseTargetList('linux-x64,darwin-arm64')), [
    { os: 'linux', cpu: 'x64', libc: 'glibc', expect: '@agoric/xsnap-linux-x64' },
    { os: 'darwin', cpu: 'arm64', expect: '@agoric/xsnap-darwin-arm64' },
    { os: 'linux', cpu: 'x64', libc: 'musl', expect: null },
  ]);
});
