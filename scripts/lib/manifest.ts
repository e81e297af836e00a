// The release manifest xsnap-worker-manifest-X.Y.Z.json, the contract agoric-sdk
// reads: its types, its JSON Schema (manifests/xsnap-worker-manifest.schema.json)
// and its bytes, canonical JSON and a pure function of the binaries, the tarballs
// and the pinned inputs (agoric-sdk pins its sha256). release-dir.ts writes it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import AjvModule from 'ajv';
import type { Failure } from './errors.ts';
import { canonicalJson } from './hash.ts';
import { REPO_ROOT } from './paths.ts';
import type { ToolchainInfo } from './build.ts';
import type { Fingerprint } from './fingerprint.ts';
import type { Target, TargetName } from './targets.ts';
import type { SourceIdentity } from './sources.ts';
import type { MathInfo } from './portable-libm.ts';
import type { DeterminismRecord } from './determinism.ts';

export const SCHEMA_FILE = join(REPO_ROOT, 'manifests', 'xsnap-worker-manifest.schema.json');

// ------------------------------------------------------------------ types

/** The behaviour fingerprint: scripts/lib/fingerprint.ts, the corpus in native/fingerprint-corpus/. */
export type { Fingerprint };

export interface ManifestBinary {
  path: string;
  sha256: string;
  size: number;
}

export interface ManifestTarget {
  package: string;
  os: Target['os'];
  cpu: Target['cpu'];
  libc?: 'glibc';
  release: ManifestBinary;
  debug: ManifestBinary;
  tarball: { name: string; integrity: string; size: number };
  toolchain: Omit<ToolchainInfo, 'kind'> & { kind: string };
  fingerprint: Fingerprint;
  /** the math profile the binaries were built with */
  math: MathInfo;
  /** the determinism corpus's per-family digests (scripts/lib/determinism.ts) */
  determinism: DeterminismRecord;
}

export interface Manifest {
  schemaVersion: 1;
  version: string;
  source: SourceIdentity;
  targets: Partial<Record<TargetName, ManifestTarget>>;
}

// ------------------------------------------------------------------ schema

let validator: ((v: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null } | undefined;

/** Schema violations of a manifest value, as failures naming `file`. */
export async function schemaFailures(value: unknown, file: string): Promise<Failure[]> {
  if (!validator) {
    const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as new (o: object) => { compile(s: unknown): typeof validator };
    validator = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(await readFile(SCHEMA_FILE, 'utf8')));
  }
  if (validator!(value)) return [];
  return (validator!.errors ?? []).map((e) => ({
    check: 'manifest-schema',
    subject: `${file} at ${e.instancePath || '/'}`,
    expected: `valid against ${SCHEMA_FILE.slice(REPO_ROOT.length + 1)}`,
    actual: e.message ?? 'invalid',
  }));
}

/** The manifest's bytes: canonical JSON and a final newline. */
export const renderManifest = (m: Manifest) => canonicalJson(m) + '\n';
