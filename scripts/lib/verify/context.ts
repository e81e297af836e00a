// What every verify step shares: the options of a run, the report it returns,
// the context the steps fill in turn (the manifest read by one is used by the
// next), and the record of checks. A step declares the names of the checks it
// reports; it records through a view typed by those names, so an undeclared
// name is a type error, and one carried by a helper module's failure is caught
// at run time.
import type { Failure } from '../core/errors.ts';
import { sha256Hex } from '../core/hash.ts';
import type { Manifest } from '../core/manifest.ts';
import type { Goal, Target } from '../core/targets.ts';
import type { InstallResult } from './install-check.ts';
import type { MathProfile } from '../behaviour/determinism.ts';

export interface VerifyOptions {
  dist: string;
  version: string;
  targets: Target[];
  /** the release tag (vX.Y.Z) this runs for, if any */
  tag?: string;
  /** also check the packages on the registry (scripts/lib/verify/published.ts) */
  published?: boolean;
  registry?: string;
  /** with `published`: the npm token the script read, for a registry that wants one for reads */
  token?: string;
  /** with `published`: this dist-tag must point at the version on every package */
  distTag?: string;
  /** skip the npm install check per platform (a few seconds) */
  skipInstall?: boolean;
  /**
   * skip running the fingerprint corpus (a few seconds per target); the manifest's values are still compared across
   * targets
   */
  skipFingerprint?: boolean;
  /** a rehearsal: accept manifest targets recorded as unmeasured (never with `tag`) */
  allowUnmeasured?: boolean;
  /** where committed manifests live (a committed one for this version must equal dist's) */
  manifestsDir?: string;
}

export interface DeterminismReport {
  profile: MathProfile;
  targets: Record<string, { results: number; seconds?: number; measuredHere: boolean; timeZoneDependent: boolean }>;
  /** linux-x64 at the glibc floor against this host's glibc: null when not run here */
  hostIndependence: { results: number; differingFamilies: string[] } | null;
  /** host-dependent and known differences: reported, not failed */
  reported: string[];
}

export interface VerifyReport {
  ok: boolean;
  version: string;
  targets: string[];
  failures: Failure[];
  /** every check that ran, by name, with how many subjects it covered */
  checks: Record<string, number>;
  notes: string[];
  install?: InstallResult[];
  fingerprints?: Record<string, { digest: string; measuredHere: boolean }>;
  determinism?: DeterminismReport;
  published?: Array<{ target: string; package: string; status: string }>;
  /**
   * sha256 of the bytes the checks read, by path (the manifest and each npm tarball): what publish-all compares the
   * bytes it holds for publishing with, so that what it publishes is what was verified
   */
  verifiedBytes?: Record<string, string>;
}

/** What one run of the steps shares. Steps read what earlier steps set. */
export interface VerifyContext {
  opts: VerifyOptions;
  dist: string;
  version: string;
  targets: Target[];
  /** set by the manifest step: the manifest as read (checked field by field even when it fails the schema) */
  manifest?: Manifest;
  manifestText?: string;
  /** how to run each target's binaries here (null: not runnable here) */
  runners: Map<string, string[] | null>;
  /** a private temporary folder, removed after the run */
  work: string;
  /** set by the target-binary step: dist/<target>/<goal>/xsnap-worker bytes, compared by the tarball step */
  distBinaries: Map<string, Partial<Record<Goal, Buffer>>>;
  /** what the steps report beyond checks */
  report: Pick<VerifyReport, 'install' | 'fingerprints' | 'determinism' | 'published' | 'verifiedBytes'>;
}

/** Note the sha256 of bytes a check read (VerifyReport.verifiedBytes). */
export function noteVerifiedBytes(x: VerifyContext, file: string, data: Buffer | string): void {
  (x.report.verifiedBytes ??= {})[file] = sha256Hex(data);
}

/** Everything a run recorded: check counts, failures, notes. */
export interface VerifyRecord {
  failures: Failure[];
  counts: Record<string, number>;
  notes: string[];
}

export const newRecord = (): VerifyRecord => ({ failures: [], counts: {}, notes: [] });

/** A step's view of the record: only the check names it declares. */
export class Checks<C extends string> {
  private readonly declared: ReadonlySet<string>;
  constructor(
    private readonly record: VerifyRecord,
    names: readonly C[],
    private readonly step: string,
  ) {
    this.declared = new Set(names);
  }
  private known(check: string) {
    if (!this.declared.has(check))
      throw new Error(
        `verify step "${this.step}" recorded the check "${check}", which it does not declare (scripts/lib/verify/)`,
      );
  }
  ran(check: C) {
    this.known(check);
    this.record.counts[check] = (this.record.counts[check] ?? 0) + 1;
  }
  fail(f: Failure<C>) {
    this.ran(f.check);
    this.record.failures.push(f);
  }
  /** record a comparison: fails when actual !== expected */
  equal(check: C, subject: string, expected: unknown, actual: unknown, hint?: string) {
    this.ran(check);
    if (expected !== actual)
      this.record.failures.push({ check, subject, expected: String(expected), actual: String(actual), hint });
  }
  /** failures found by a helper module (their names are checked here, at run time); `check` counts once */
  add(failures: readonly Failure[], check?: C) {
    if (check) this.ran(check);
    for (const f of failures) this.known(f.check);
    this.record.failures.push(...failures);
  }
  note(text: string) {
    this.record.notes.push(text);
  }
}

/** One step of verification: a group of checks on one subject. */
export interface VerifyStep<C extends string = string> {
  /** the group's name, as --help prints it */
  name: string;
  /** the names of the checks it reports, as failures carry them */
  checks: readonly C[];
  run(x: VerifyContext, c: Checks<C>): Promise<void>;
  /** this step's view of a record */
  view(record: VerifyRecord): Checks<C>;
  /** run it, recording in `record` */
  exec(x: VerifyContext, record: VerifyRecord): Promise<void>;
}

/** Declare a step; its check names become part of the CheckName union (verify/index.ts). */
export const step = <const C extends string>(s: Pick<VerifyStep<C>, 'name' | 'checks' | 'run'>): VerifyStep<C> => {
  const view = (record: VerifyRecord) => new Checks(record, s.checks, s.name);
  return { ...s, view, exec: (x, record) => s.run(x, view(record)) };
};

/** `dist/...` for a path under the dist folder, for subjects that read the same wherever dist is. */
export const rel = (dist: string, file: string) =>
  file.startsWith(dist + '/') ? `dist/${file.slice(dist.length + 1)}` : file;
