// The one check of what a tar entry may be before anything unpacks or trusts
// it: no absolute path, no `..`, only the entry types the caller allows.

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
