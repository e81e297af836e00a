// Files: written whole or not at all.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';

export interface AtomicWriteOptions {
  /** file mode of the new file (the temporary file is created with it, so it never exists wider) */
  mode?: number;
}

/** The temporary file a write of `file` goes through: same folder (so the rename is atomic), named with our pid. */
export const partialFile = (file: string): string => `${file}.partial-${process.pid}`;

/**
 * Make `file` by filling a temporary file next to it, then renaming it over `file`: a reader sees the old file or the
 * new one, never part of one. When `fill` or the rename fails, the temporary file is removed and the error rethrown.
 */
export async function replaceFileAtomic(file: string, fill: (partial: string) => Promise<void>): Promise<void> {
  const partial = partialFile(file);
  try {
    await fill(partial);
    await rename(partial, file);
  } catch (e) {
    await rm(partial, { force: true, recursive: true }).catch(() => {});
    throw e;
  }
}

/** Write `data` to `file` atomically (see replaceFileAtomic). */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  await replaceFileAtomic(file, (partial) =>
    writeFile(partial, data, opts.mode === undefined ? undefined : { mode: opts.mode }),
  );
}

/** writeFileAtomic, synchronously. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const partial = partialFile(file);
  try {
    writeFileSync(partial, data, opts.mode === undefined ? undefined : { mode: opts.mode });
    renameSync(partial, file);
  } catch (e) {
    try {
      rmSync(partial, { force: true, recursive: true });
    } catch {
      /* the first error is the one to report */
    }
    throw e;
  }
}
