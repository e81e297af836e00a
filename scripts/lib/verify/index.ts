// Verification of everything that ships, re-derived from bytes on disk. Nothing
// recorded earlier is taken as proof: every digest is computed from the bytes
// being checked and compared with an independent record.
//
// The steps run in this order, one subject each; the list below is what
// `verify-artifacts.ts --help` prints. To add a check: add its name to its
// step's `checks` and the check to the step's file; a test plants the defect.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { checkVersion } from '../core/pin.ts';
import { readManifest } from '../core/manifest.ts';
import { hostRunner } from '../build/binary-checks.ts';
import { newRecord, type VerifyContext, type VerifyOptions, type VerifyReport, type VerifyRecord } from './context.ts';
import { checkMeasured, committedManifest, manifest, sums, versions } from './release-dir.ts';
import { targetBinaries } from './target-binary.ts';
import { installability, tarballs } from './tarball.ts';
import { bundle } from './bundle.ts';
import { determinism, fingerprints } from './behaviour.ts';
import { checkRegistry, registry } from './registry.ts';

export type { VerifyOptions, VerifyReport, DeterminismReport } from './context.ts';

export const VERIFY_PIPELINE = [
  { step: versions, about: 'the pin against the release tag and every versioned file name in dist/release' },
  { step: manifest, about: 'present, valid against its schema, canonical bytes, this version and these targets' },
  { step: sums, about: 'SHA256SUMS lists exactly the shipped files, each matching its bytes; nothing else' },
  { step: targetBinaries, about: 'dist/<target> binaries against build-info and the manifest; headers; -v' },
  { step: tarballs, about: 'each npm tarball: integrity, exactly the allowed files, package.json, binaries' },
  { step: bundle, about: 'the release bundle: layout, modes, digests, and made again to the same bytes' },
  { step: committedManifest, about: 'a manifest committed for this version (manifests/) has the same bytes' },
  { step: fingerprints, about: 'the behaviour fingerprint measured here equals the manifest, on every target' },
  { step: determinism, about: 'the determinism corpus: the same doubles on every target, and at the glibc floor' },
  { step: installability, about: "npm install on each platform takes exactly that platform's package" },
  { step: registry, about: 'with --published: the registry serves these packages (integrity, binaries, tags)' },
] as const;

/** Every check name a verify report can carry: what failures' `check` and the report's `checks` keys are. */
export type CheckName = (typeof VERIFY_PIPELINE)[number]['step']['checks'][number];

/** The pipeline as `verify-artifacts.ts --help` prints it. */
export function describePipeline(): string {
  return VERIFY_PIPELINE.map(
    ({ step, about }, i) =>
      `  ${String(i + 1).padStart(2)}. ${step.name}: ${about}\n` + wrap(step.checks.join(', '), '        ', 76),
  ).join('\n');
}

function wrap(text: string, indent: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

const reportOf = (
  r: VerifyRecord,
  version: string,
  targets: VerifyOptions['targets'],
  extra: VerifyContext['report'],
): VerifyReport => ({
  ok: r.failures.length === 0,
  version,
  targets: targets.map((t) => t.name),
  failures: r.failures,
  checks: r.counts,
  notes: r.notes,
  ...extra,
});

/** Steps that may run side by side when they follow each other in the pipeline. */
const SIDE_BY_SIDE: ReadonlySet<(typeof VERIFY_PIPELINE)[number]['step']> = new Set([
  fingerprints,
  determinism,
  installability,
]);

/** Append `from` to `into`: failures and notes after its own, counts added. */
function mergeRecord(into: VerifyRecord, from: VerifyRecord): void {
  into.failures.push(...from.failures);
  into.notes.push(...from.notes);
  for (const [k, n] of Object.entries(from.counts)) into.counts[k] = (into.counts[k] ?? 0) + n;
}

/** Run every step of the pipeline on dist/. */
export async function verifyArtifacts(opts: VerifyOptions): Promise<VerifyReport> {
  const record = newRecord();
  const runners = new Map<string, string[] | null>();
  for (const t of opts.targets) runners.set(t.name, await hostRunner(t));
  const x: VerifyContext = {
    opts,
    dist: opts.dist,
    version: opts.version,
    targets: opts.targets,
    runners,
    work: await mkdtemp(join(tmpdir(), 'xsnap-verify-')),
    distBinaries: new Map(),
    report: {},
  };
  try {
    // the behaviour corpora and the installs need nothing of each other: they run side by side (the corpora share
    // the processors, slots.ts; the installs mostly wait on npm), each into a record of its own, merged in the
    // pipeline's order, so the report is the same as one after the other would make it
    const steps = VERIFY_PIPELINE.map(({ step }) => step);
    for (let i = 0; i < steps.length; i++) {
      const group = [steps[i]];
      while (SIDE_BY_SIDE.has(steps[i]) && SIDE_BY_SIDE.has(steps[i + 1])) group.push(steps[++i]);
      if (group.length === 1) {
        await group[0].exec(x, record);
        continue;
      }
      const records = group.map(() => newRecord());
      const done = await Promise.allSettled(group.map((s, j) => s.exec(x, records[j])));
      records.forEach((r) => mergeRecord(record, r));
      const thrown = done.find((d) => d.status === 'rejected');
      if (thrown) throw (thrown as PromiseRejectedResult).reason;
    }
  } finally {
    await rm(x.work, { recursive: true, force: true });
  }
  return reportOf(record, opts.version, opts.targets, x.report);
}

/**
 * The gate with nothing but a manifest (the one attached to the GitHub Release):
 * every package of the set is on the registry at its version with the
 * manifest's tarball integrity and binaries. What agoric-sdk runs before
 * publishing @agoric/xsnap@X.Y.Z; no build output needed.
 */
export async function verifyRegistryOnly(opts: {
  manifestFile: string;
  targets: VerifyOptions['targets'];
  registry?: string;
  distTag?: string;
  tag?: string;
  token?: string;
  allowUnmeasured?: boolean;
}): Promise<VerifyReport> {
  const record = newRecord();
  const read = readManifest(opts.manifestFile);
  if (read.error !== undefined) {
    throw new UsageError(`manifest ${opts.manifestFile} cannot be read as JSON: ${read.error.split('\n')[0]}`);
  }
  const version = checkVersion(read.unchecked?.version, `manifest ${opts.manifestFile}`);
  manifest.view(record).add(read.failures, 'manifest-schema');
  for (const t of opts.targets) {
    const e = read.unchecked.targets?.[t.name];
    if (e) checkMeasured(manifest.view(record), `${opts.manifestFile} targets.${t.name}`, e, opts);
  }
  if (opts.tag !== undefined)
    versions
      .view(record)
      .equal('version-tag', `release tag ${opts.tag}`, `v${version}`, opts.tag, `the manifest is for ${version}`);
  const published = await checkRegistry(registry.view(record), {
    dist: dirname(opts.manifestFile),
    version,
    targets: opts.targets,
    registry: opts.registry,
    distTag: opts.distTag,
    manifestFile: opts.manifestFile,
    token: opts.token,
  });
  return reportOf(record, version, opts.targets, { published });
}
