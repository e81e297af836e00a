// The release bundle's bytes depend only on its files; the reader sees every entry raw.
import t from 'tap';
import { makeBundle, normalizeGzipHeader } from '../../scripts/lib/package/bundle.ts';
import { readTarEntries, unsafePath } from '../../scripts/lib/core/tarball.ts';
import { bundleLayout } from '../../scripts/lib/core/layout.ts';
import { gzipSync } from 'node:zlib';

const files = () =>
  new Map([
    ['dist/linux-x64/release/xsnap-worker', Buffer.from('release bytes')],
    ['dist/linux-x64/debug/xsnap-worker', Buffer.alloc(1300, 7)],
  ]);

t.test('same files, same bytes, whatever the insertion order', async (t) => {
  const a = makeBundle(files());
  const b = makeBundle(new Map([...files()].reverse()));
  t.same(a, b);
  t.equal(a.readUInt32LE(4), 0, 'no gzip mtime');
  t.equal(a[9], 0xff, 'fixed OS byte');
  const entries = await readTarEntries(a);
  t.same(
    entries.map((e) => e.path),
    bundleLayout(['linux-x64']),
  );
  t.ok(entries.every((e) => e.uid === 0 && e.gid === 0 && e.mtime === 0 && (e.mode & 0o777) === 0o755));
  t.same(entries.find((e) => e.path.endsWith('debug/xsnap-worker'))!.data, Buffer.alloc(1300, 7));
});

t.test('a gzip from another OS normalises to the same header', async (t) => {
  const gz = gzipSync(Buffer.from('x'));
  const mac = Buffer.from(gz);
  mac[9] = 19; // what zlib writes on macOS
  t.same(normalizeGzipHeader(mac), normalizeGzipHeader(gz));
  t.throws(() => normalizeGzipHeader(Buffer.from('not gzip at all')), /not a gzip/);
});

t.test('unsafe paths', async (t) => {
  t.equal(unsafePath('package/bin/x'), null);
  t.equal(unsafePath('/etc/passwd'), 'absolute path');
  t.equal(unsafePath('package/../../x'), 'path contains ..');
  t.throws(() => makeBundle(new Map([['dist/../x', Buffer.from('')]])), /unsafe/);
});

t.test('garbage is not a tarball', async (t) => {
  await t.rejects(readTarEntries(Buffer.from('definitely not a tarball, not even gzip')), /not a readable tarball/);
});
