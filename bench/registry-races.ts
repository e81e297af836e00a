// How often the embedded Verdaccio 9 breaks under concurrent requests, as
// shipped and with scripts/lib/publish/verdaccio-workarounds.mjs (the default):
//   package-list  N packages staged, all approved at once; then its package list
//                 (.verdaccio-db.json) is read back and the registry restarted on
//                 the same storage (as shipped, a torn list refuses the restart);
//   download      one package staged, its staged tarball downloaded by M clients
//                 at once (as shipped, a late Content-Length can take the registry down).
// Each round uses a fresh registry. Run it under load to widen the windows, e.g.
// with two `yes > /dev/null` beside it.
// Run: npx tsx bench/registry-races.ts [--rounds 25] [--packages 6] [--downloads 40] [--as-shipped]
//        [--only package-list|download]
import minimist from 'minimist';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startLocalRegistry, type LocalRegistry } from '../scripts/lib/publish/local-registry.ts';

const args = minimist(process.argv.slice(2), {
  string: ['rounds', 'packages', 'downloads', 'only'],
  boolean: ['as-shipped'],
  default: { rounds: '25', packages: '6', downloads: '40' },
});
const rounds = Number(args.rounds);
const asShipped = Boolean(args['as-shipped']);
// an empty tar archive: two zero blocks, gzipped
const tarball = gzipSync(Buffer.alloc(1024));

async function stage(reg: LocalRegistry, name: string): Promise<void> {
  const file = `${name.split('/')[1]}-1.0.0.tgz`;
  const shasum = createHash('sha1').update(tarball).digest('hex');
  const body = {
    _id: name,
    name,
    'dist-tags': { latest: '1.0.0' },
    versions: { '1.0.0': { name, version: '1.0.0', dist: { shasum, tarball: `${reg.url}${name}/-/${file}` } } },
    _attachments: {
      [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length },
    },
  };
  const r = await fetch(new URL(`-/stage/package/${name.replace('/', '%2f')}`, reg.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${reg.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`staging ${name}: HTTP ${r.status} ${await r.text()}`);
}

async function stageIds(reg: LocalRegistry): Promise<string[]> {
  const listed = (await (
    await fetch(new URL('-/stage', reg.url), { headers: { authorization: `Bearer ${reg.token}` } })
  ).json()) as {
    items?: Array<{ id: string }>;
  };
  return (listed.items ?? []).map((o) => o.id);
}

/** One round of the package-list race: whether the list came out torn or short, and whether the registry restarts. */
async function packageListRound(count: number): Promise<{ torn: boolean; short: boolean; refused: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'xsnap-race-'));
  try {
    const reg = await startLocalRegistry({ dir, asShipped });
    const names = Array.from({ length: count }, (_, i) => `@bench/pkg-${i}${'x'.repeat(i * 5)}`);
    try {
      for (const name of names) await stage(reg, name);
      const ids = await stageIds(reg);
      if (ids.length !== count) throw new Error(`expected ${count} staged items, the registry lists ${ids.length}`);
      await Promise.all(
        ids.map(async (id) => {
          const init = {
            method: 'POST',
            headers: { authorization: `Bearer ${reg.token}` },
            signal: AbortSignal.timeout(60_000),
          };
          await (await fetch(new URL(`-/stage/${id}/approve`, reg.url), init)).arrayBuffer();
        }),
      );
    } finally {
      await reg.stop({ force: true });
    }
    let torn = false;
    let short = false;
    try {
      const db = JSON.parse(readFileSync(join(dir, 'storage', '.verdaccio-db.json'), 'utf8')) as { list: string[] };
      short = names.some((n) => !db.list.includes(n));
    } catch {
      torn = true;
    }
    let refused = false;
    try {
      await (await startLocalRegistry({ dir, asShipped })).stop({ force: true });
    } catch {
      refused = true;
    }
    return { torn, short, refused };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One round of the download race: how many downloads failed, and whether the registry still answers. */
async function downloadRound(clients: number): Promise<{ failed: number; died: boolean; reasons: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'xsnap-race-'));
  const reg = await startLocalRegistry({ dir, asShipped });
  try {
    await stage(reg, '@bench/download');
    const [id] = await stageIds(reg);
    const results = await Promise.allSettled(
      Array.from({ length: clients }, async () => {
        const init = { headers: { authorization: `Bearer ${reg.token}` }, signal: AbortSignal.timeout(20_000) };
        const r = await fetch(new URL(`-/stage/${id}/tarball`, reg.url), init);
        const got = Buffer.from(await r.arrayBuffer());
        if (!r.ok || !got.equals(tarball)) throw new Error(`HTTP ${r.status}, ${got.length} bytes`);
      }),
    );
    // died: its process is gone (a slow answer under load is not a death)
    const alive = await new Promise((r) => setTimeout(r, 500)).then(() => {
      try {
        process.kill(reg.pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    if (!alive)
      console.log(
        `the registry's log ends:\n${readFileSync(join(dir, 'verdaccio.log'), 'utf8').trimEnd().split('\n').slice(-15).join('\n')}`,
      );
    const reasons = [
      ...new Set(
        results.flatMap((x) =>
          x.status === 'rejected' ? [String((x.reason as Error).cause ?? (x.reason as Error).message)] : [],
        ),
      ),
    ];
    return { failed: results.filter((x) => x.status === 'rejected').length, died: !alive, reasons };
  } finally {
    await reg.stop({ force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

const flavour = asShipped ? 'Verdaccio as shipped' : 'with verdaccio-workarounds.mjs';
if (args.only !== 'download') {
  const count = Number(args.packages);
  let torn = 0;
  let short = 0;
  let refused = 0;
  for (let round = 1; round <= rounds; round++) {
    const r = await packageListRound(count);
    torn += Number(r.torn);
    short += Number(r.short);
    refused += Number(r.refused);
    console.log(
      `package-list round ${round}: ${r.torn ? 'list torn' : r.short ? 'list short' : 'list whole'}${r.refused ? ', restart refused' : ''}`,
    );
  }
  console.log(
    `package-list, ${flavour}: ${rounds} rounds of ${count} concurrent approvals: ${torn} torn lists, ${short} short lists, ${refused} refused restarts\n`,
  );
}
if (args.only !== 'package-list') {
  const clients = Number(args.downloads);
  let died = 0;
  let failed = 0;
  for (let round = 1; round <= rounds; round++) {
    const r = await downloadRound(clients);
    died += Number(r.died);
    failed += r.failed;
    const why = r.reasons.length ? ` (${r.reasons.join('; ')})` : '';
    console.log(
      `download round ${round}: ${r.failed} of ${clients} downloads failed${why}${r.died ? ', the registry died' : ''}`,
    );
  }
  console.log(
    `download, ${flavour}: ${rounds} rounds of ${clients} concurrent staged-tarball downloads: registry died in ${died}, ${failed} downloads failed`,
  );
}
