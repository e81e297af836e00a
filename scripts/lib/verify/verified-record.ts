// The record verify-artifacts leaves for the job that publishes: the sha256 of
// every file it checked that publishing uses (the manifest, the tarballs), and
// the commit of this repository it ran at. The publishing job holds the write
// credentials, so it runs no binary: it hashes what it is about to publish and
// compares with this record, and nothing else (RELEASING.md, "Who may write").
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../core/fs.ts';
import { isAbsolute, relative } from 'node:path';
import { CheckFailed, type Failure } from '../core/errors.ts';
import { sha256Hex } from '../core/hash.ts';
import { verifiedRecordPath } from '../core/layout.ts';
import { runRaw } from '../core/exec.ts';
import { REPO_ROOT } from '../core/paths.ts';

export interface VerifiedRecord {
  version: string;
  /** the commit of this repository verify-artifacts ran at; null outside a git checkout */
  commit: string | null;
  /** path relative to dist/ -> sha256 of the bytes verify-artifacts checked */
  files: Record<string, string>;
}

/** The commit this repository's checkout is at (HEAD), or null. */
export async function repoCommit(): Promise<string | null> {
  const r = await runRaw(['git', '-C', REPO_ROOT, 'rev-parse', 'HEAD']);
  return r.code === 0 && /^[0-9a-f]{40}$/.test(r.stdout.trim()) ? r.stdout.trim() : null;
}

/** Write dist/verified-X.Y.Z.json from verify's digests (keys: absolute or dist-relative paths). */
export function writeVerifiedRecord(
  dist: string,
  version: string,
  digests: Record<string, string>,
  commit: string | null,
): string {
  const files = Object.fromEntries(
    Object.entries(digests)
      .map(([file, hex]) => [isAbsolute(file) ? relative(dist, file) : file, hex] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  const record: VerifiedRecord = { version, commit, files };
  const file = verifiedRecordPath(dist, version);
  writeFileAtomicSync(file, JSON.stringify(record, null, 2) + '\n');
  return file;
}

/** Read dist/verified-X.Y.Z.json; null when there is none; CheckFailed when it is not a record of this version. */
export function readVerifiedRecord(dist: string, version: string): VerifiedRecord | null {
  const file = verifiedRecordPath(dist, version);
  if (!existsSync(file)) return null;
  let r: Partial<VerifiedRecord>;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as Partial<VerifiedRecord>;
  } catch (e) {
    throw new CheckFailed([
      { check: 'verified-record', subject: file, expected: 'JSON', actual: (e as Error).message },
    ]);
  }
  const ok =
    r.version === version &&
    (r.commit === null || typeof r.commit === 'string') &&
    r.files !== null &&
    typeof r.files === 'object' &&
    Object.values(r.files).every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h));
  if (!ok)
    throw new CheckFailed([
      {
        check: 'verified-record',
        subject: file,
        expected: `a record of ${version}: {version, commit, files: {path: sha256}}`,
        actual: `version ${JSON.stringify(r.version)}, ${Object.keys(r.files ?? {}).length} files`,
        hint: 're-run verify-artifacts --record',
      },
    ]);
  return r as VerifiedRecord;
}

/**
 * The bytes about to be published against the record: each must be listed
 * with the same sha256, and the record must come from `expectCommit` when given.
 */
export function compareWithRecord(
  record: VerifiedRecord,
  recordFile: string,
  dist: string,
  held: Array<{ file: string; data: Buffer }>,
  expectCommit?: string,
): Failure[] {
  const failures: Failure[] = [];
  if (expectCommit !== undefined && record.commit !== expectCommit)
    failures.push({
      check: 'verified-commit',
      subject: recordFile,
      expected: `verified at ${expectCommit} (--expect-commit)`,
      actual: record.commit ? `verified at ${record.commit}` : 'no commit recorded',
      hint: 'the artifact was built and verified from another commit than this run: use the run of this commit',
    });
  for (const { file, data } of held) {
    const key = isAbsolute(file) ? relative(dist, file) : file;
    const now = sha256Hex(data);
    if (record.files[key] === now) continue;
    failures.push({
      check: 'verified-bytes',
      subject: key,
      expected: record.files[key] ? `the bytes verify-artifacts checked (sha256 ${record.files[key]})` : 'verified',
      actual: record.files[key] ? `sha256 ${now}: it changed after it was verified` : `not in ${recordFile}`,
      hint: 'publish only what was verified: re-run verify-artifacts --record, and find what rewrote dist/',
    });
  }
  return failures;
}
