// Reading tar archives held in memory, raw, so checks see symlinks, `..` and
// absolute paths instead of having them sanitised away; and the one check of
// what an entry may be before anything unpacks or trusts it: no absolute path,
// no `..`, only the entry types the caller allows.
import type * as Tar from 'tar';
import { lazy } from './lazy.ts';

const tar = lazy<typeof Tar>('tar');

export interface TarEntry {
  /** the path exactly as stored (pax/long names resolved, nothing stripped) */
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number | null;
  linkpath: string | null;
  size: number;
  data: Buffer;
}

/** Every entry of a (gzipped) tarball, in archive order; rejects with a clear message if it is not a readable one. */
export function readTarEntries(data: Buffer): Promise<TarEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: TarEntry[] = [];
    const warnings: string[] = [];
    const parser = new (tar().Parser)({
      strict: true,
      onwarn: (_code: string, message: string | Error) =>
        warnings.push(String(message instanceof Error ? message.message : message)),
      onReadEntry: (entry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () =>
          entries.push({
            path: entry.path,
            type: entry.type,
            mode: entry.mode ?? 0,
            uid: entry.uid ?? -1,
            gid: entry.gid ?? -1,
            mtime: entry.mtime ? entry.mtime.getTime() : null,
            linkpath: entry.linkpath ?? null,
            size: entry.size ?? 0,
            data: Buffer.concat(chunks),
          }),
        );
      },
    });
    parser.on('error', (e: Error) => reject(new Error(`not a readable tarball: ${e.message}`)));
    parser.on('end', () => {
      if (warnings.length) reject(new Error(`not a readable tarball: ${warnings.join('; ')}`));
      else resolve(entries);
    });
    try {
      parser.end(data);
    } catch (e) {
      reject(new Error(`not a readable tarball: ${(e as Error).message}`));
    }
  });
}

/** The regular files of a .tgz held in memory, by path inside it (e.g. package/bin/release/xsnap-worker). */
export async function readTarballFiles(data: Buffer): Promise<Map<string, { data: Buffer; mode: number }>> {
  const files = new Map<string, { data: Buffer; mode: number }>();
  for (const e of await readTarEntries(data)) if (e.type === 'File') files.set(e.path, { data: e.data, mode: e.mode });
  return files;
}

// ---------------------------------------------------------------- what an entry may be

/** Regular files and directories: all our archives may hold. */
export const PLAIN_ENTRY_TYPES: readonly string[] = ['File', 'Directory'];

export type EntryProblem = { kind: 'absolute' } | { kind: 'climbs' } | { kind: 'type'; type: string };

/**
 * Why an entry may not be unpacked or trusted, or null: an absolute path (also
 * a Windows drive), a `..` segment (either slash), or a type not in `types`.
 * The path is checked first: an escaping symlink is reported as the escape.
 */
export function tarEntryProblem(path: string, type: string, types = PLAIN_ENTRY_TYPES): EntryProblem | null {
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return { kind: 'absolute' };
  if (path.split(/[\\/]/).includes('..')) return { kind: 'climbs' };
  if (!types.includes(type)) return { kind: 'type', type };
  return null;
}

/** Why a tar entry path is unsafe to unpack, or null (the path half of tarEntryProblem). */
export function unsafePath(path: string): string | null {
  const p = tarEntryProblem(path, 'File');
  if (!p) return null;
  return p.kind === 'absolute' ? 'absolute path' : 'path contains ..';
}
