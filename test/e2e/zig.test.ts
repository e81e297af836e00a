// The pinned zig (native/zig/pin.json) through the cache: an unchanged cache is
// trusted as the last full check found it, a tampered unpacked
// tree is noticed and unpacked again from the kept archive, a kept archive that
// no longer matches the pin is fetched again, and a registry serving other bytes
// is refused before anything is unpacked. The real package, served from a
// loopback registry (its bytes from the shared cache test/setup.ts filled).
import t from 'tap';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../../scripts/lib/core/paths.ts';
import { CheckFailed } from '../../scripts/lib/core/errors.ts';
import { obtainZig, readZigPin, zigCacheDir } from '../../scripts/lib/build/zig.ts';
import { startFileServer } from '../helpers/source-server.ts';

const pin = readZigPin();
/** the real package as the shared cache keeps it (test/setup.ts built darwin with it) */
const realArchive = () => readFile(join(zigCacheDir(pin), 'archive.tgz'));

t.test('the cache is checked against the pin on every use', async (t) => {
  const archive = await realArchive();
  const server = await startFileServer();
  t.teardown(() => server.close());
  const tgz = `/${pin.package}/-/zig-linux-x64-${pin.version}.tgz`;
  const meta = (integrity: string) =>
    JSON.stringify({ name: pin.package, version: pin.version, dist: { integrity, tarball: server.url + tgz } });
  server.routes.set(`/${pin.package.replace('/', '%2f')}/${pin.version}`, meta(pin.integrity));
  server.routes.set(tgz, archive);

  const cache = await mkdtemp(join(tmpdir(), 'xsnap-zig-cache-'));
  const saved = { cache: process.env.XSNAP_CACHE_DIR, registry: process.env.XSNAP_SOURCE_REGISTRY };
  process.env.XSNAP_CACHE_DIR = cache;
  process.env.XSNAP_SOURCE_REGISTRY = server.url;
  t.teardown(() => {
    process.env.XSNAP_CACHE_DIR = saved.cache;
    process.env.XSNAP_SOURCE_REGISTRY = saved.registry;
  });
  t.not(cacheDir(), saved.cache);

  const first = await obtainZig(pin);
  t.equal(first.version, pin.version, 'downloaded, unpacked, runs');
  t.equal(server.requests.filter((r) => r === tgz).length, 1);
  const treeDigest = first.identity.treeDigest;
  t.equal(first.checked, 'full');

  // unchanged since that full check: trusted as recorded (no re-hash), unless a full check is asked for
  const again = await obtainZig(pin);
  t.equal(again.checked, 'as-recorded', 'an unchanged cache is not re-hashed');
  t.same(again.identity, first.identity);
  t.equal((await obtainZig(pin, { full: true })).checked, 'full', '--check re-hashes it all');
  // the kept identity edited: the record no longer vouches for it, a full check writes it again
  const identityFile = join(zigCacheDir(pin), 'identity.json');
  await appendFile(identityFile, ' ');
  const edited = await obtainZig(pin);
  t.equal(edited.checked, 'full', 'an edited identity means a full check');
  t.same(edited.identity, first.identity);

  // a file of the unpacked zig changed: noticed, unpacked again from the kept archive (no download)
  const header = join(first.dir, 'lib', 'libc', 'include', 'any-macos-any', 'math.h');
  t.ok(existsSync(header), `${header} exists`);
  await appendFile(header, '\n#define sin planted\n');
  const second = await obtainZig(pin);
  t.equal(second.checked, 'full', 'a changed file is not trusted from the record');
  t.equal(second.identity.treeDigest, treeDigest);
  t.notMatch(await readFile(header, 'utf8'), /planted/, 'the tampered header was replaced');
  t.equal(server.requests.filter((r) => r === tgz).length, 1, 'no second download');

  // the kept archive changed: fetched again
  await appendFile(join(zigCacheDir(pin), 'archive.tgz'), 'x');
  await obtainZig(pin);
  t.equal(server.requests.filter((r) => r === tgz).length, 2, 'downloaded again');

  // a registry serving other bytes under the same metadata: refused, nothing kept
  const fresh = await mkdtemp(join(tmpdir(), 'xsnap-zig-cache-'));
  process.env.XSNAP_CACHE_DIR = fresh;
  const other = Buffer.from(archive);
  other[other.length - 100] ^= 1;
  server.routes.set(tgz, other);
  const e = await obtainZig(pin).catch((x: unknown) => x);
  t.type(e, CheckFailed);
  t.match((e as CheckFailed).failures, [
    { check: 'source-integrity', subject: /@ryoppippi\/zig-linux-x64@0\.11\.0 tarball/, expected: pin.integrity },
  ]);
  t.notOk(existsSync(join(zigCacheDir(pin), 'tree')), 'nothing unpacked');

  // a registry naming another integrity than the pin: refused before downloading
  server.routes.set(`/${pin.package.replace('/', '%2f')}/${pin.version}`, meta('sha512-' + 'A'.repeat(86) + '=='));
  const before = server.requests.filter((r) => r === tgz).length;
  const m = await obtainZig(pin).catch((x: unknown) => x);
  t.match((m as CheckFailed).failures, [{ subject: /dist\.integrity on http:\/\/127\.0\.0\.1/ }]);
  t.equal(server.requests.filter((r) => r === tgz).length, before, 'the tarball was not fetched');
});

t.test('a pin for another host is refused, naming where to build', async (t) => {
  const e = await obtainZig({ ...pin, host: 'linux-riscv64' }).catch((x: unknown) => x);
  t.match((e as Error).message, /runs on linux-riscv64, not on linux-x64: build the darwin targets on a linux-riscv64/);
});
