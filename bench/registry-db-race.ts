// How often concurrent approvals on the embedded Verdaccio 9 leave its package
// list (.verdaccio-db.json) unreadable or short, with and without the fix in
// scripts/lib/registry-db-writes.mjs. Each round: a fresh registry, N packages
// staged, all approved at once, the list read back, the registry restarted on
// the same storage. Run under load to widen the window, e.g. with two
// `yes > /dev/null` running beside it.
// Run: npx tsx bench/registry-db-race.ts [--rounds 25] [--packages 6] [--unserialized]
import minimist from 'minimist';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startLocalRegistry } from '../scripts/lib/local-registry.ts';

const args = minimist(process.argv.slice(2), { string: ['rounds', 'packages'], boolean: ['unserialized'], default: { rounds: '25', packages: '6' } });
const rounds = Number(args.rounds);
const count = Number(args.packages);
// an empty tar archive: two zero blocks, gzipped
const tarball = gzipSync(Buffer.alloc(1024));

let unreadable = 0;
let short = 0;
let refusedRestart = 0;
for (let round = 1; round <= rounds; round++) {
  const dir = mkdtempSync(join(tmpdir(), 'xsnap-db-race-'));
  const reg = await startLocalRegistry({ dir, unserializedDbWrites: args.unserialized });
  const headers = { authorization: `Bearer ${reg.token}`, 'content-type': 'application/json' };
  const names = Array.from({ length: count }, (_, i) => `@bench/pkg-${i}${'x'.repeat(i * 5)}`);
  for (const name of names) {
    const file = `${name.split('/')[1]}-1.0.0.tgz`;
    const body = {
      _id: name,
      name,
      'dist-tags': { latest: '1.0.0' },
      versions: { '1.0.0': { name, version: '1.0.0', dist: { shasum: createHash('sha1').update(tarball).digest('hex'), tarball: `${reg.url}${name}/-/${file}` } } },
      _attachments: { [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
    };
    const r = await fetch(new URL(`-/stage/package/${name.replace('/', '%2f')}`, reg.url), { method: 'POST', headers, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`staging ${name}: HTTP ${r.status} ${await r.text()}`);
    await r.arrayBuffer().catch(() => undefined);
  }
  const listed = (await (await fetch(new URL('-/stage', reg.url), { headers })).json()) as { items?: Array<{ id: string }> };
  const ids = (listed.items ?? []).map((o) => o.id);
  if (ids.length !== count) throw new Error(`expected ${count} staged items, the registry lists ${ids.length}`);
  const statuses = await Promise.all(
    ids.map(async (id) => {
      const r = await fetch(new URL(`-/stage/${id}/approve`, reg.url), { method: 'POST', headers, signal: AbortSignal.timeout(60_000) });
      await r.arrayBuffer();
      return r.status;
    }),
  );
  await reg.stop({ force: true });
  let verdict = 'list whole';
  try {
    const db = JSON.parse(readFileSync(join(dir, 'storage', '.verdaccio-db.json'), 'utf8')) as { list: string[] };
    const missing = names.filter((n) => !db.list.includes(n));
    if (missing.length) {
      short++;
      verdict = `list misses ${missing.length} of ${count}`;
    }
  } catch {
    unreadable++;
    verdict = 'list unreadable';
  }
  try {
    await (await startLocalRegistry({ dir })).stop({ force: true });
  } catch (e) {
    refusedRestart++;
    verdict += `; restart refused: ${(e as Error).message.split('\n').find((l) => /locked/i.test(l)) ?? 'see its log'}`;
  }
  console.log(`round ${round}: approvals ${statuses.join(',')}; ${verdict}`);
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `\n${args.unserialized ? 'unserialized (Verdaccio as shipped)' : 'serialized (registry-db-writes.mjs)'}: ${rounds} rounds of ${count} concurrent approvals: ` +
    `${unreadable} unreadable lists, ${short} short lists, ${refusedRestart} refused restarts`,
);
