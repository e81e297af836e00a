// Digests. Every check hashes bytes freshly read from disk or the network.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type Ssri from 'ssri';
import { lazy } from './lazy.ts';

const ssri = lazy<typeof Ssri>('ssri');

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** npm-style Subresource Integrity (sha512-<base64>) of some bytes. */
export function sriSha512(data: Buffer): string {
  return ssri()
    .fromData(data, { algorithms: ['sha512'] })
    .toString();
}

/** Does `data` match the SRI string `integrity` (any algorithm ssri knows)? */
export function matchesIntegrity(data: Buffer, integrity: string): boolean {
  return ssri().checkData(data, integrity) !== false;
}

/** JSON with object keys sorted at every level, so equal values give equal bytes. */
export function canonicalJson(value: unknown, indent = 2): string {
  return JSON.stringify(sortKeys(value), null, indent);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** A short stable id for a plain value (cache keys, build-root identity). */
export function idOf(value: unknown): string {
  return sha256Hex(canonicalJson(value, 0)).slice(0, 20);
}

/** SHA256SUMS, in `sha256sum -c` format: "<hex>  <name>", sorted by name. */
export function renderSums(entries: Record<string, string>): string {
  return Object.keys(entries)
    .sort()
    .map((name) => `${entries[name]}  ${name}\n`)
    .join('');
}

export function parseSums(text: string): { entries: Record<string, string>; bad: string[] } {
  const entries: Record<string, string> = {};
  const bad: string[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m || m[2] in entries) bad.push(line);
    else entries[m[2]] = m[1];
  }
  return { entries, bad };
}
