// The release bundle xsnap-worker-binaries-X.Y.Z.tar.gz (deterministic: sorted,
// regular files and directories only, owner 0:0, fixed modes and mtime, gzip
// header fixed). Reading it, as any tarball, is tarball.ts's readTarEntries.
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { unsafePath } from '../core/tarball.ts';

/** Fixed for every entry of the bundle: no time of day can change its bytes. */
export const BUNDLE_MTIME = new Date(0);
export const BUNDLE_FILE_MODE = 0o755;
export const BUNDLE_DIR_MODE = 0o755;
/** The gzip header's OS byte: zlib writes 3 on Linux and another value on macOS; npm pack writes 255 ("unknown"). */
export const GZIP_OS_UNKNOWN = 0xff;

/** Make a gzip stream's header independent of the host: no mtime, OS byte fixed. */
export function normalizeGzipHeader(gz: Buffer): Buffer {
  if (gz.length < 10 || gz[0] !== 0x1f || gz[1] !== 0x8b) throw new Error('not a gzip stream');
  const out = Buffer.from(gz);
  if (out[3] & 0x02) throw new Error('gzip header carries a header CRC; refusing to patch it');
  out.writeUInt32LE(0, 4); // MTIME
  out[9] = GZIP_OS_UNKNOWN;
  return out;
}

function header(path: string, type: 'File' | 'Directory', size: number, mode: number): Buffer {
  const h = new tar.Header({ path, type, size, mode, uid: 0, gid: 0, uname: '', gname: '', mtime: BUNDLE_MTIME });
  const block = Buffer.alloc(512);
  if (h.encode(block, 0)) throw new Error(`path too long for a plain tar header: ${path}`);
  return block;
}

/**
 * The release bundle's bytes for `files` (bundle path -> content). Directories
 * leading to each file are added; the same files always give the same bytes.
 */
export function makeBundle(files: Map<string, Buffer>): Buffer {
  const dirs = new Set<string>();
  for (const p of files.keys()) {
    if (unsafePath(p)) throw new Error(`unsafe bundle path ${p}`);
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/') + '/');
  }
  const entries = [...dirs, ...files.keys()].sort();
  const blocks: Buffer[] = [];
  for (const p of entries) {
    if (p.endsWith('/')) {
      blocks.push(header(p, 'Directory', 0, BUNDLE_DIR_MODE));
      continue;
    }
    const data = files.get(p)!;
    blocks.push(
      header(p, 'File', data.length, BUNDLE_FILE_MODE),
      data,
      Buffer.alloc((512 - (data.length % 512)) % 512),
    );
  }
  blocks.push(Buffer.alloc(1024)); // end-of-archive marker
  return normalizeGzipHeader(gzipSync(Buffer.concat(blocks), { level: 9 }));
}
