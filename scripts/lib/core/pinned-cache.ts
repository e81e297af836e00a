// One pinned download into the cache: bytes named by a pin (a sha256 or an SRI integrity), kept in the cache under a
// key that names the pin, re-checked at every use, fetched again from the sources the pin lists (in order) when
// missing or changed, and cached only once they match.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { log } from './cli.ts';
import { writeFileAtomic } from './fs.ts';

/** Where the bytes may come from: `get` gives them, or a miss (try the next source) with the reason. */
export interface PinnedSource {
  /** the URL (or name) of this source, for messages */
  url: string;
  get: () => Promise<Buffer | { miss: string }>;
}

export interface PinnedDownload {
  /** the cache file (its name is the cache key: it names the pin) */
  file: string;
  /** whether bytes are the pinned ones */
  matches: (data: Buffer) => boolean;
  /** the pin, for messages: "sha256 <hex>" or an SRI string */
  expected: string;
  /** tried in order until one serves the bytes */
  sources: PinnedSource[];
  /** the error when a source serves other bytes under the pinned name: an error, not a miss */
  refused: (source: PinnedSource, data: Buffer) => Error;
  /** the error when every source missed (each reason as "<url>: <reason>") */
  missed: (tried: string[]) => Error;
}

/** The pinned bytes and their cache file: from the cache while they match the pin, else fetched, checked, cached. */
export async function pinnedDownload(p: PinnedDownload): Promise<{ data: Buffer; file: string; cached: boolean }> {
  if (existsSync(p.file)) {
    const kept = await readFile(p.file);
    if (p.matches(kept)) return { data: kept, file: p.file, cached: true };
    log.warn(`the cached ${p.file} no longer matches the pin (${p.expected}); downloading it again`);
  }
  const tried: string[] = [];
  for (const source of p.sources) {
    const got = await source.get();
    if (!Buffer.isBuffer(got)) {
      tried.push(`${source.url}: ${got.miss}`);
      continue;
    }
    if (!p.matches(got)) throw p.refused(source, got);
    await mkdir(dirname(p.file), { recursive: true });
    await writeFileAtomic(p.file, got);
    return { data: got, file: p.file, cached: false };
  }
  throw p.missed(tried);
}
