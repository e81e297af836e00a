// Yank: a released version is never rebuilt; when it must not be used, it is
// deprecated on every package of the set and, if `latest` points at it, `latest`
// moves back to the newest earlier version that is not yanked, on every package.
// The registry itself records what was done (a marker at the end of the
// deprecation message), so a re-run finishes an interrupted yank and `--undo`
// knows whether to move `latest` forward again. It is a maintainer's job: npm
// asks a one-time code for a deprecation and a dist-tag move (there is no
// token that may only stage or only deprecate), and trusted publishing
// authorises neither.
import semver from 'semver';
import { CheckFailed, UsageError, type Failure } from '../core/errors.ts';
import { NpmClient, RegistryReader, lastLines, type Packument } from '../core/npm-client.ts';
import { nextStep, OperationError } from '../core/errors.ts';
import type { Target } from '../core/targets.ts';

/** Marker appended to the deprecation message: `[yanked; latest was X.Y.Z, moved to A.B.C]` or `[yanked]`. */
const MARKER = /\s*\[yanked(?:; latest was (\S+), moved to (\S+))?\]$/;

export function yankMessage(reason: string, moved?: { from: string; to: string }): string {
  return `${reason} [yanked${moved ? `; latest was ${moved.from}, moved to ${moved.to}` : ''}]`;
}

export function parseYankMessage(
  msg: string | undefined,
): { reason: string; moved?: { from: string; to: string } } | null {
  if (!msg) return null;
  const m = MARKER.exec(msg);
  if (!m) return { reason: msg }; // deprecated by hand: yanked all the same
  return { reason: msg.slice(0, m.index), ...(m[1] ? { moved: { from: m[1], to: m[2] } } : {}) };
}

export function checkReason(reason: string | undefined): string {
  if (!reason || !reason.trim())
    throw new UsageError('--reason "<why>" is required: users see it when they install the version');
  if (/[\r\n]/.test(reason)) throw new UsageError('--reason must be one line');
  if (MARKER.test(reason)) throw new UsageError('--reason must not end with a [yanked...] marker: yank.ts adds it');
  if (reason.length > 500) throw new UsageError('--reason is longer than 500 characters');
  return reason.trim();
}

export type YankAction =
  | { kind: 'dist-tag'; package: string; tag: 'latest'; from: string; to: string }
  | { kind: 'deprecate'; package: string; version: string; message: string }
  | { kind: 'undeprecate'; package: string; version: string };

export interface YankPlan {
  version: string;
  undo: boolean;
  registry: string;
  /** undo: where latest goes back to (the yanked version), or null; yank: where it moves, or null */
  latest: { from: string; to: string } | null;
  packages: Array<{ package: string; present: boolean; latest: string | null; deprecated: string | null }>;
  actions: YankAction[];
  /** things worth saying that are not failures (packages without the version) */
  notes: string[];
}

/** Versions of a package that are not deprecated. */
const live = (doc: Packument) => Object.keys(doc.versions).filter((v) => !doc.versions[v].deprecated);

/**
 * The newest version below `version` that every package has, not yanked on
 * any, and not a prerelease: where `latest` may move back to (latest moves
 * forward only, so backward only below the yanked version, never past it).
 */
export function previousRelease(docs: Packument[], version: string): string | null {
  const common = docs.map(live).reduce((a, b) => a.filter((v) => b.includes(v)));
  const below = common.filter((v) => semver.valid(v) && !semver.prerelease(v) && semver.lt(v, version));
  return below.sort(semver.rcompare)[0] ?? null;
}

/** Compute what a yank (or its undo) of `version` must still do, from what the registry holds now. */
export async function planYank(opts: {
  registry: string;
  version: string;
  targets: Target[];
  reason?: string;
  undo?: boolean;
  reader?: RegistryReader;
}): Promise<YankPlan> {
  const { version } = opts;
  const reader = opts.reader ?? new RegistryReader({ registry: opts.registry });
  const docs: Array<{ name: string; doc: Packument | null }> = [];
  for (const t of opts.targets) docs.push({ name: t.packageName, doc: await reader.packument(t.packageName) });
  const failures: Failure[] = [];
  const notes: string[] = [];
  const packages = docs.map(({ name, doc }) => ({
    package: name,
    present: Boolean(doc?.versions[version]),
    latest: doc?.['dist-tags'].latest ?? null,
    deprecated: doc?.versions[version]?.deprecated || null,
  }));
  const present = docs.filter((d) => d.doc?.versions[version]);
  if (present.length === 0) {
    failures.push({
      check: 'yank-version',
      subject: `${version} on ${reader.registry}`,
      expected: `published on at least one of ${opts.targets.map((t) => t.packageName).join(', ')}`,
      actual: 'on none',
      hint: 'check --version and --registry',
    });
    throw new CheckFailed(failures);
  }
  for (const p of packages.filter((p) => !p.present)) notes.push(`${p.package} has no ${version}: nothing to do there`);
  const tags: YankAction[] = [];
  const marks: YankAction[] = [];
  let latest: YankPlan['latest'] = null;

  if (!opts.undo) {
    const reason = checkReason(opts.reason);
    // latest: if it points at the version on any package, every package must move back to the same earlier release
    const onIt = packages.filter((p) => p.latest === version);
    // an interrupted yank recorded where it was moving latest to
    const recorded = packages.map((p) => parseYankMessage(p.deprecated ?? undefined)?.moved).find(Boolean);
    if (onIt.length || recorded) {
      const to =
        recorded?.to ??
        previousRelease(
          docs.map((d) => d.doc).filter((d): d is Packument => d !== null),
          version,
        );
      if (!to) {
        failures.push({
          check: 'yank-latest',
          subject: `dist-tag latest at ${version}`,
          expected: `an earlier release (below ${version}, not a prerelease, not yanked) on every package, to move latest back to`,
          actual: 'none',
          hint: 'publish the fixed version first (it moves latest forward), then yank',
        });
        throw new CheckFailed(failures);
      }
      latest = { from: version, to };
      for (const p of onIt) tags.push({ kind: 'dist-tag', package: p.package, tag: 'latest', from: version, to });
    }
    const message = yankMessage(reason, latest ?? undefined);
    for (const p of packages.filter((p) => p.present)) {
      const was = parseYankMessage(p.deprecated ?? undefined);
      if (p.deprecated === message) continue;
      if (was && p.deprecated && MARKER.test(p.deprecated) && was.reason !== reason) {
        notes.push(`${p.package}@${version} was yanked with another reason ("${was.reason}"): replaced`);
      }
      marks.push({ kind: 'deprecate', package: p.package, version, message });
    }
  } else {
    const moved = packages.map((p) => parseYankMessage(p.deprecated ?? undefined)?.moved).find(Boolean);
    if (moved) {
      // latest moves forward only: back to the yanked version where it is still below it
      latest = { from: moved.to, to: version };
      for (const p of packages.filter((p) => p.present && p.latest !== version)) {
        if (p.latest && semver.valid(p.latest) && semver.gt(p.latest, version)) {
          notes.push(
            `${p.package}: latest is ${p.latest}, newer than ${version}: left there (latest only moves forward)`,
          );
          continue;
        }
        tags.push({ kind: 'dist-tag', package: p.package, tag: 'latest', from: p.latest ?? '(none)', to: version });
      }
    }
    for (const p of packages.filter((p) => p.present && p.deprecated))
      marks.push({ kind: 'undeprecate', package: p.package, version });
  }
  // the deprecation message records the move of latest: a yank writes it before moving latest, an undo removes it after
  const actions = opts.undo ? [...tags, ...marks] : [...marks, ...tags];
  return { version, undo: Boolean(opts.undo), registry: reader.registry, latest, packages, actions, notes };
}

/**
 * Carry out the plan's actions in order (a yank deprecates first, recording
 * where latest goes, then moves latest; an undo moves latest, then removes the
 * deprecation): interrupted anywhere, a re-run finds the record and finishes.
 */
export async function executeYank(
  plan: YankPlan,
  client: NpmClient,
  opts: { otp?: string; onAction?: (a: YankAction) => void } = {},
): Promise<void> {
  const otp = opts.otp ? ['--otp', opts.otp] : [];
  for (const a of plan.actions) {
    opts.onAction?.(a);
    const args =
      a.kind === 'dist-tag'
        ? ['dist-tag', 'add', `${a.package}@${a.to}`, a.tag]
        : ['deprecate', `${a.package}@${a.version}`, a.kind === 'deprecate' ? a.message : ''];
    const r = await client.npm([...args, ...otp], `npm ${args[0]} ${a.package}`);
    if (r.code !== 0)
      throw new OperationError(
        `${describeAction(a)}: npm ${args[0]} failed (exit ${r.code}): ${lastLines(r.stderr)}${nextStep(
          're-run ' + 'the same command (with a fresh --otp): it carries on from what the registry holds',
        )}`,
      );
  }
}

/** After executeYank: re-read the registry; a plan computed now must have nothing left to do. */
export async function readBack(opts: {
  registry: string;
  version: string;
  targets: Target[];
  reason?: string;
  undo?: boolean;
}): Promise<{ plan: YankPlan; failures: Failure[] }> {
  const plan = await planYank(opts);
  const failures: Failure[] = plan.actions.map((a) => ({
    check: 'yank-read-back',
    subject: `${a.package} on ${plan.registry}`,
    expected:
      a.kind === 'dist-tag'
        ? `latest at ${a.to}`
        : a.kind === 'deprecate'
          ? `${a.version} deprecated "${a.message}"`
          : `${a.version} not deprecated`,
    actual: a.kind === 'dist-tag' ? `latest at ${a.from}` : 'not yet',
    hint: 're-run the same command',
  }));
  for (const p of plan.packages.filter((p) => p.present)) {
    if (!opts.undo && p.latest === opts.version)
      failures.push({
        check: 'yank-read-back',
        subject: `${p.package} on ${plan.registry}`,
        expected: `latest not at the yanked ${opts.version}`,
        actual: `latest at ${p.latest}`,
      });
  }
  return { plan, failures };
}

/** The set as a Markdown table: which package has the version, where latest points, its deprecation. */
export function yankTable(plan: YankPlan, version: string): string {
  const rows = plan.packages.map(
    (p) => `| ${p.package} | ${p.present ? 'yes' : 'no'} | ${p.latest ?? '-'} | ${p.deprecated ?? '-'} |`,
  );
  return `| package | has ${version} | latest | deprecated |\n|---|---|---|---|\n${rows.join('\n')}`;
}

export function describeAction(a: YankAction): string {
  if (a.kind === 'dist-tag') return `${a.package}: dist-tag latest ${a.from} -> ${a.to}`;
  if (a.kind === 'deprecate') return `${a.package}@${a.version}: deprecate "${a.message}"`;
  return `${a.package}@${a.version}: remove the deprecation`;
}
