// The plan of a --via direct publish, from plain objects: what publish-all
// decides for each registry state before it writes anything (absent ->
// publish, identical -> nothing, other bytes -> refuse everything), and the
// rules a tag must keep. Pure: test/unit/publish-plan.test.ts asserts on it.
import semver from 'semver';
import { nextStep, UsageError } from './errors.ts';
import type { PublishedStatus } from './published.ts';
import type { TargetName } from './targets.ts';

/** public: registry.npmjs.org; local: the embedded Verdaccio; custom: any other URL */
export type RegistryKind = 'public' | 'local' | 'custom';

export const stagingTagFor = (version: string) => `staging-${version}`;

/**
 * A dist-tag npm will accept at `dist-tag add`, checked before anything is
 * written: npm refuses tags that parse as a semver range ("x", "1", "v1"), and
 * it would do so only after every package had been published.
 */
export function checkDistTag(tag: string): void {
  if (tag === '') throw new UsageError('--tag needs a value');
  // npm's tags are case-sensitive: "Latest" would be a second tag beside
  // "latest", escaping every rule about it. Tags here are lower case, always.
  if (/[A-Z]/.test(tag))
    throw new UsageError(
      `--tag "${tag}": dist-tags are case-sensitive on npm, so "${tag}" would be another ` +
        `tag than "${tag.toLowerCase()}"; use lower case (e.g. "${tag.toLowerCase()}")`,
    );
  if (!/^[a-z][a-z0-9._-]*$/.test(tag) || /^v\d/.test(tag))
    throw new UsageError(
      `--tag "${tag}" is not a usable dist-tag: letters, digits, ".", "_", "-", starting with a ` +
        `letter, not version-like`,
    );
  if (semver.validRange(tag) !== null)
    throw new UsageError(
      `--tag "${tag}" reads as a semver range (${semver.validRange(tag)}), which npm refuses as a ` +
        `dist-tag; pick a name such as "next" or "backport-0.14"`,
    );
  if (tag.startsWith('staging-')) throw new UsageError(`--tag "${tag}": staging-* tags are publish-all's own`);
}

export type RemoteState = Exclude<PublishedStatus, 'ok' | 'corrupt' | 'error'> | 'identical';

export interface PackagePlan {
  target: TargetName;
  package: string;
  /** our tarball and its integrity (from the manifest, re-checked against the file) */
  tarball: string;
  integrity: string;
  /** what the registry holds at the version, before we write anything */
  remote: RemoteState;
  remoteIntegrity?: string;
  action: 'publish' | 'none' | 'refuse';
  /** the requested tag now, and whether it must move */
  tag: { name: string; current: string | null; action: 'move' | 'already' };
  /** the registry has never seen this package: it will set `latest` by itself on publish */
  firstEverPublish: boolean;
  /** a staging tag left by an earlier run, to remove at the end */
  stagingTagLeft: boolean;
}

export interface Plan {
  version: string;
  registry: string;
  registryKind: RegistryKind;
  tag: string;
  stagingTag: string;
  provenance: boolean;
  dryRun: boolean;
  packages: PackagePlan[];
  /** some package holds other bytes at this version: nothing may be written */
  refused: boolean;
  nothingToDo: boolean;
  notes: string[];
}

export interface PlanInput {
  version: string;
  registry: string;
  registryKind: RegistryKind;
  tag: string;
  provenance: boolean;
  dryRun: boolean;
  members: Array<{ target: TargetName; package: string; tarball: string; integrity: string }>;
  /** per package name: what checkPublishedPackage(download: false) saw */
  remote: Record<string, { status: PublishedStatus; integrity?: string; distTags: Record<string, string> }>;
}

/**
 * `latest` is what a plain `npm install` gives everyone: it only ever moves
 * forward, and never onto a prerelease. A backport or a prerelease goes out
 * under another tag (`--tag backport-0.14`, `--tag next`). Given where `tag`
 * points now on each package that would move, the reason not to move it, or null.
 */
export function latestMoveProblem(
  tag: string,
  version: string,
  current: Array<{ package: string; current: string | null }>,
): { message: string; hint: string } | null {
  if (tag !== 'latest' || !current.length) return null;
  if (semver.prerelease(version)) {
    return {
      message: `refusing to point "latest" at the prerelease ${version} (${current.map((p) => p.package).join(', ')})`,
      hint: 'publish it under another tag, e.g. --tag next',
    };
  }
  const ahead = current.filter(
    (p) => p.current !== null && p.current !== version && semver.valid(p.current) && semver.gt(p.current, version),
  );
  if (!ahead.length) return null;
  const minor = `${semver.major(version)}.${semver.minor(version)}`;
  return {
    message:
      `refusing to move "latest" ` +
      `backwards to ${version}: ${ahead.map((p) => `${p.package} latest is ${p.current}`).join(', ')}`,
    hint: `publish the backport under its own tag, e.g. --tag backport-${minor}`,
  };
}

function checkLatestMove(input: PlanInput, packages: PackagePlan[]): void {
  const moving = packages.filter((p) => p.action !== 'refuse' && p.tag.action === 'move');
  const problem = latestMoveProblem(
    input.tag,
    input.version,
    moving.map((p) => ({ package: p.package, current: p.tag.current })),
  );
  if (problem) throw new UsageError(`${problem.message}; nothing was written.${nextStep(problem.hint)}`);
}

/**
 * Decide what to do from what we have and what the registry holds. Pure; throws
 * UsageError (exit 2, before any write) for a tag npm would refuse and for a
 * `latest` that would move backwards or onto a prerelease.
 */
export function planRelease(input: PlanInput): Plan {
  checkDistTag(input.tag);
  const stagingTag = stagingTagFor(input.version);
  const notes: string[] = [];
  const packages = input.members.map((m): PackagePlan => {
    const r = input.remote[m.package];
    if (!r) throw new Error(`planRelease: no registry state for ${m.package}`);
    const remote: RemoteState =
      r.status === 'ok'
        ? 'identical'
        : r.status === 'no-package' || r.status === 'absent' || r.status === 'different'
          ? r.status
          : 'absent';
    if (r.status === 'corrupt' || r.status === 'error')
      throw new Error(`planRelease: registry state of ${m.package} is ${r.status}`);
    const action = remote === 'different' ? 'refuse' : remote === 'identical' ? 'none' : 'publish';
    const current = r.distTags[input.tag] ?? null;
    return {
      target: m.target,
      package: m.package,
      tarball: m.tarball,
      integrity: m.integrity,
      remote,
      remoteIntegrity: r.integrity,
      action,
      tag: { name: input.tag, current, action: current === input.version ? 'already' : 'move' },
      firstEverPublish: remote === 'no-package',
      stagingTagLeft: r.distTags[stagingTag] !== undefined,
    };
  });
  checkLatestMove(input, packages);
  const refused = packages.some((p) => p.action === 'refuse');
  const first = packages.filter((p) => p.firstEverPublish && p.action === 'publish');
  if (first.length) {
    notes.push(
      `${first.map((p) => p.package).join(', ')}: first ever ` +
        `publish of ${first.length === 1 ? 'this package' : 'these packages'}; ` +
        `the registry points \`latest\` at ${input.version} as soon as it is published, whatever ` +
        `the tag, so \`latest\` cannot be held back there until the whole set is verified.`,
    );
  }
  if (input.provenance) notes.push('publishing with --provenance (GitHub Actions)');
  const nothingToDo =
    !refused && packages.every((p) => p.action === 'none' && p.tag.action === 'already' && !p.stagingTagLeft);
  return {
    version: input.version,
    registry: input.registry,
    registryKind: input.registryKind,
    tag: input.tag,
    stagingTag,
    provenance: input.provenance,
    dryRun: input.dryRun,
    packages,
    refused,
    nothingToDo,
    notes,
  };
}

/** One line per package and action, for the terminal. */
export function describePlan(plan: Plan): string[] {
  const lines = plan.packages.map((p) => {
    const what =
      p.action === 'refuse'
        ? `REFUSE: the registry holds ` +
          `other bytes at ${plan.version} (${p.remoteIntegrity ?? 'no integrity'}, ours ${p.integrity})`
        : p.action === 'publish'
          ? `publish ${plan.version} under "${plan.stagingTag}"${
              p.firstEverPublish ? ' (first ever ' + 'publish: the registry sets latest itself)' : ''
            }, read back, then`
          : `already published with our bytes;`;
    const tag =
      p.action === 'refuse'
        ? ''
        : p.tag.action === 'already'
          ? ` "${p.tag.name}" already at ${plan.version}`
          : ` move "${p.tag.name}" ${p.tag.current ?? '(unset)'} -> ${plan.version}`;
    return `${p.package.padEnd(28)} ${what}${tag}`;
  });
  return [...lines, ...plan.notes.map((n) => `note: ${n}`)];
}
