// The source cache is re-checked against the pin itself, never against the
// record stored next to it (issue 10 item 8): an altered tree with a matching
// source.json, offline, is repaired from the kept archive (re-hashed against
// the pin); an altered archive too is refused when it cannot be fetched again.
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchSources, sourceCacheDir, treeDigest } from '../../scripts/lib/build/sources.ts';
import { parsePin, readPin, pinPath } from '../../scripts/lib/core/pin.ts';
import { canonicalJson } from '../../scripts/lib/core/hash.ts';
import { realXsnapTarball, startFileServer, serveNpmPackage } from '../helpers/source-server.ts';

const version = readPin(pinPath()).version;

t.test('an altered cached tree with a matching source.json is not taken on trust', async (t) => {
  const src = await realXsnapTarball(version);
  const server = await startFileServer();
  serveNpmPackage(server, src);
  const cache = await mkdtemp(join(tmpdir(), 'xsnap-cache-sources-'));
  const saved = { cache: process.env.XSNAP_CACHE_DIR, registry: process.env.XSNAP_SOURCE_REGISTRY };
  process.env.XSNAP_CACHE_DIR = cache;
  process.env.XSNAP_SOURCE_REGISTRY = server.url;
  t.teardown(() => {
    for (const [k, v] of [
      ['XSNAP_CACHE_DIR', saved.cache],
      ['XSNAP_SOURCE_REGISTRY', saved.registry],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const pin = parsePin(
    { version, source: { kind: 'npm', package: '@agoric/xsnap', integrity: src.integrity } },
    join(cache, 'pin.json'),
  );

  const first = await fetchSources(pin);
  const original = first.identity.treeDigest;
  const root = sourceCacheDir(pin);
  t.ok(existsSync(join(root, 'archives', 'npm-package.tgz')), 'the verified archive is kept in the cache');

  // the repro: alter a source file and write a source.json that matches the altered tree; no network
  await server.close();
  const victim = join(first.dir, 'moddable', 'xs', 'sources', 'xsAll.c');
  const pristine = await readFile(victim, 'utf8');
  await writeFile(victim, pristine + '\n/* planted */\n');
  const record = JSON.parse(await readFile(join(root, 'source.json'), 'utf8'));
  record.treeDigest = await treeDigest(first.dir);
  await writeFile(join(root, 'source.json'), canonicalJson(record) + '\n');

  const again = await fetchSources(pin);
  t.equal(again.identity.treeDigest, original, "the identity is the pinned archive's, not the record's");
  t.equal(
    await readFile(victim, 'utf8'),
    pristine,
    'the altered file was replaced from the kept, re-hashed archive (offline)',
  );
  t.equal(await treeDigest(again.dir), original);

  // the kept archive altered as well: offline there is nothing the pin vouches for
  const archive = join(root, 'archives', 'npm-package.tgz');
  const bytes = await readFile(archive);
  bytes[bytes.length - 100] ^= 0xff;
  await writeFile(archive, bytes);
  await writeFile(victim, pristine + '\n/* planted again */\n');
  await t.rejects(
    fetchSources(pin),
    /could not download|cannot|ECONNREFUSED|fetch failed/i,
    'refused: the archive no longer matches the pin and cannot be fetched again',
  );
  t.match(await readFile(victim, 'utf8'), /planted again/, 'and nothing claimed the tree as good');
});
