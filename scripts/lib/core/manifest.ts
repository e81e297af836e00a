// The release manifest xsnap-worker-manifest-X.Y.Z.json, the contract agoric-sdk
// reads: its types, its JSON Schema (manifests/xsnap-worker-manifest.schema.json)
// and its bytes, canonical JSON and a pure function of the binaries, the tarballs
// and the pinned inputs (agoric-sdk pins its sha256). release-dir.ts writes it;
// every reader reads it with readManifest.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvModule from 'ajv';
import type { Failure } from './errors.ts';
import { canonicalJson } from './hash.ts';
import { REPO_ROOT } from './paths.ts';
import type { Target, TargetName, ToolchainKind } from './targets.ts';
import type { MathProfile } from './pin.ts';

export const SCHEMA_FILE = join(REPO_ROOT, 'manifests', 'xsnap-worker-manifest.schema.json');

// ------------------------------------------------------------------ what a target's entry records
// The records the manifest carries, defined here with the contract; the modules that make them
// (build, sources, zig, portable-libm, fingerprint, determinism) import them from here.

/** What build-info.json and the manifest record of zig (the integrity makes it a cache-key input). */
export interface ZigIdentity {
  package: string;
  version: string;
  integrity: string;
  /** sha256 over every file of the unpacked package (sources.ts treeDigest) */
  treeDigest: string;
}

export interface ToolchainInfo {
  kind: ToolchainKind;
  /** the compiler's own --version line */
  compiler: string;
  /** pinned: the build root's id and exact toolchain package versions */
  buildRootId?: string;
  suite?: string;
  packages?: Record<string, string>;
  /** darwin: minimum macOS and SDK */
  macosMin?: string;
  sdk?: string;
  glibcFloor?: string;
  /** zig: the pinned package (integrity, tree digest) and the `zig cc -target` triple */
  zig?: ZigIdentity;
  zigTarget?: string;
}

export interface WorkloadFingerprint {
  /** sha256 of the results of the steps, each framed as a netstring, in order */
  resultSha256: string;
  /** meter counts per step: `<step>.compute`, `<step>.allocate`, `<step>.currentHeapCount` */
  meter: Record<string, number>;
  /** sha256 of the heap snapshot written after `run` */
  snapshotSha256: string;
}

export interface Fingerprint {
  /** which corpus (and harness) produced it: only fingerprints with equal corpusDigest are comparable */
  corpusDigest: string;
  /** sha256 of canonical JSON of {corpusDigest, workloads} */
  digest: string;
  workloads: Record<string, WorkloadFingerprint>;
}

export type FamilySource = 'xs' | 'libm' | 'hardware';

export interface FamilyRecord {
  source: FamilySource;
  count: number;
  /** sha256 of the family's result bytes */
  sha256: string;
  /** the worker's compute meter for the family: consensus-visible cost */
  compute: number;
}

/** What the manifest carries per target (targets.<t>.determinism). */
export interface DeterminismRecord {
  corpusDigest: string;
  seed: number;
  perFamily: number;
  families: Record<string, FamilyRecord>;
  /** does the local-time family give other results under another TZ? */
  timeZoneDependent: boolean;
}

export interface SourceIdentity {
  kind: 'npm' | 'agoric-sdk' | 'dir';
  version: string;
  moddableCommit: string;
  xsnapNativeCommit: string;
  /** npm: the tarball's SRI; agoric-sdk: the three archives' sha256 */
  integrity: Record<string, string>;
  /** sha256 over every file of the unpacked tree (path, mode, content) */
  treeDigest: string;
}

/** What build-info.json and the manifest record of the math profile. */
export interface MathInfo {
  profile: MathProfile;
  /** portable only */
  library?: string;
  version?: string;
  integrity?: string;
  /** sha256 over the file list and our shim files: part of what the binary is made of */
  buildDigest?: string;
}

// ------------------------------------------------------------------ types

export interface ManifestBinary {
  path: string;
  sha256: string;
  size: number;
}

export interface ManifestTarget {
  package: string;
  os: Target['os'];
  cpu: Target['cpu'];
  libc?: NonNullable<Target['libc']>;
  release: ManifestBinary;
  debug: ManifestBinary;
  tarball: { name: string; integrity: string; size: number };
  toolchain: Omit<ToolchainInfo, 'kind'> & { kind: string };
  /** absent only with `unmeasured` */
  fingerprint?: Fingerprint;
  /** the math profile the binaries were built with */
  math: MathInfo;
  /** the determinism corpus's per-family digests (behaviour/determinism.ts); absent only with `unmeasured` */
  determinism?: DeterminismRecord;
  /**
   * A rehearsal manifest only: why the behaviour corpora were not run (the binary cannot run where the
   * manifest was made). Never in a release: see unmeasuredTargets.
   */
  unmeasured?: string;
}

export interface Manifest {
  schemaVersion: 1;
  version: string;
  source: SourceIdentity;
  targets: Partial<Record<TargetName, ManifestTarget>>;
}

/** A manifest's JSON before the schema is known to hold: any field may be missing or of another type. */
export type UncheckedManifest = Partial<Omit<Manifest, 'targets'>> & {
  targets?: Partial<Record<string, Partial<ManifestTarget>>>;
};

// ------------------------------------------------------------------ schema

type Validator = ((v: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null };
let validator: Validator | undefined;

/** Schema violations of a manifest value, as failures naming `file`. */
export function schemaFailures(value: unknown, file: string): Failure[] {
  if (!validator) {
    type AjvClass = new (o: object) => { compile(s: unknown): Validator };
    const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as AjvClass;
    validator = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
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

/** The targets of a manifest whose behaviour was not measured (a rehearsal manifest), by name. */
export function unmeasuredTargets(m: UncheckedManifest): string[] {
  return Object.entries(m.targets ?? {})
    .filter(([, e]) => e?.unmeasured !== undefined)
    .map(([name]) => name)
    .sort();
}

/** Why a target's behaviour was not measured, as the manifest records it: a function of the target alone. */
export function unmeasuredReason(t: Target): string {
  const where = t.os === 'darwin' ? 'macOS' : 'Linux';
  return `the behaviour corpora (fingerprint, determinism) were not run: ${t.name} binaries run only on ${where}`;
}

// ------------------------------------------------------------------ reading

/**
 * A manifest read from disk: no JSON at all (`error`), or its JSON (`unchecked`)
 * with the schema's verdict (`failures`, and `manifest` when there are none).
 * Readers word their own refusals (a usage error, a failed check), so this says
 * what is wrong and leaves the wording to them; checkers that go on past schema
 * failures read `unchecked`, so every other difference is reported too.
 */
export type ManifestRead = { file: string; text?: string } & ParsedManifest;
export type ParsedManifest =
  | { error: string; unchecked?: undefined; manifest?: undefined; failures: Failure[] }
  | { error?: undefined; unchecked: UncheckedManifest; manifest?: Manifest; failures: Failure[] };

/** A manifest's text, parsed and checked against the schema; failures name `label`. */
export function parseManifest(text: string, label: string): ParsedManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { error: (e as Error).message, failures: [] };
  }
  const failures = schemaFailures(value, label);
  const unchecked = value as UncheckedManifest;
  return { unchecked, failures, ...(failures.length ? {} : { manifest: value as Manifest }) };
}

/** The one way to read a manifest file: its text, its JSON and its schema check. */
export function readManifest(file: string, opts: { label?: string } = {}): ManifestRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { file, error: (e as Error).message, failures: [] };
  }
  return { file, text, ...parseManifest(text, opts.label ?? file) };
}
