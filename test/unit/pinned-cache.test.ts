// One pinned download into the cache (issue 20, item 3): the cached copy used only while it matches the pin, the
// sources tried in order (a miss moves on, other bytes are refused and never cached), the cache written whole.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../scripts/lib/core/hash.ts';
import { pinnedDownload, type PinnedSource } from '../../scripts/lib/core/pinned-cache.ts';

const good = Buffer.from('the pinned bytes');
const pin = sha256Hex(good);

function spec(file: string, sources: PinnedSource[]) {
  return {
    file,
    matches: (d: Buffer) => sha256Hex(d) === pin,
    expected: `sha256 ${pin}`,
    sources,
    refused: (s: PinnedSource, d: Buffer) => new Error(`refused ${s.url}: sha256 ${sha256Hex(d)}`),
    missed: (tried: string[]) => new Error(`missed:\n${tried.join('\n')}`),
  };
}

t.test('a miss moves on to the next source; the match is cached; the next use reads the cache', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'cache', `x-${pin.slice(0, 16)}.deb`);
  const asked: string[] = [];
  const src = (url: string, out: Buffer | { miss: string }): PinnedSource => ({
    url,
    get: async () => (asked.push(url), out),
  });
  const first = await pinnedDownload(spec(file, [src('a', { miss: 'HTTP 404' }), src('b', good), src('c', good)]));
  t.same(asked, ['a', 'b'], 'in order, stopping at the first that serves it');
  t.equal(first.cached, false);
  t.same(readFileSync(file), good);
  t.same(readdirSync(join(dir, 'cache')), [`x-${pin.slice(0, 16)}.deb`], 'no partial file');
  const again = await pinnedDownload(spec(file, [src('never', { miss: 'x' })]));
  t.equal(again.cached, true);
  t.same(again.data, good);
  t.same(asked, ['a', 'b'], 'the cache answered');
});

t.test('a changed cached copy is fetched again; other bytes are refused and not cached', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'k.tgz');
  writeFileSync(file, 'tampered');
  const other = Buffer.from('other bytes');
  await t.rejects(
    pinnedDownload(
      spec(file, [
        { url: 'm1', get: async () => other },
        { url: 'm2', get: async () => good },
      ]),
    ),
    { message: `refused m1: sha256 ${sha256Hex(other)}` },
    'other bytes under the pinned name end it: an error, not a miss',
  );
  t.equal(readFileSync(file, 'utf8'), 'tampered', 'nothing cached over it');
  const r = await pinnedDownload(spec(file, [{ url: 'm2', get: async () => good }]));
  t.equal(r.cached, false);
  t.same(readFileSync(file), good, 'the changed copy replaced');
});

t.test('every source missing: each reason named; nothing cached', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'k.tgz');
  await t.rejects(
    pinnedDownload(
      spec(file, [
        { url: 'https://a/x', get: async () => ({ miss: 'HTTP 404' }) },
        { url: 'https://b/x', get: async () => ({ miss: 'ECONNREFUSED' }) },
      ]),
    ),
    { message: 'missed:\nhttps://a/x: HTTP 404\nhttps://b/x: ECONNREFUSED' },
  );
  t.notOk(existsSync(file));
});
