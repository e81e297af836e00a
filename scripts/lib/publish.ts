// Publishing the set of platform packages all-or-nothing. npm has no
// transactions, so we build one out of dist-tags:
//   preflight  nothing is written until every check passed, including what the
//              registry already holds at X.Y.Z (absent / identical / different);
//   plan       a plain object, printed, asserted on by tests;
//   publish    absent packages go up under a staging dist-tag (users never get
//              it), in parallel, retried only after looking at what landed;
//   read back  every package is downloaded and checked against the manifest;
//   tag        only then does the requested tag (default latest) move, on all.
// A re-run recomputes the plan from the registry, so it continues where an
// interrupted run stopped and ends in the same state.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import semver from 'semver';
import { log } from './cli.ts';
import { nextStep, UsageError, type Failure } from './errors.ts';
import { matchesIntegrity, sriSha512 } from './hash.ts';
import { NpmClient, isPublicRegistry, normaliseRegistry, lastLines, PUBLIC_REGISTRY, type RegistryReader, type TarballBytes } from './npm-client.ts';
import { startLocalRegistry, LOCAL_REGISTRY_DIR } from './local-registry.ts';
import { checkPublishedPackage, type ManifestEntry, type ManifestSet, type PublishedStatus } from './published.ts';
import { readTarballFiles } from './tarball.ts';
import type { TargetName } from './targets.ts';

// ---------------------------------------------------------------- registry

export type RegistryKind = 'public' | 'local' | 'custom';

export interface OpenRegistry {
  url: string;
  kind: RegistryKind;
  /** --registry local: its storage folder */
  dir?: string;
  /** the local registry's own token; for others, the caller reads NPM_TOKEN */
  token?: string;
  stop(): Promise<void>;
}

/**
 * `--registry`: undefined -> the public npm registry; "local" -> the embedded
 * Verdaccio (started here, storage in $XSNAP_REGISTRY_DIR or .registry/; kept
 * running after we exit with `keep`); anything else is used as given.
 */
export async function openRegistry(flag: string | undefined, opts: { keep?: boolean } = {}): Promise<OpenRegistry> {
  if (flag === 'local') {
    const dir = process.env.XSNAP_REGISTRY_DIR || LOCAL_REGISTRY_DIR;
    const reg = await startLocalRegistry({ dir, detached: opts.keep });
    log.info(`local registry ${reg.url} (${reg.started ? 'started' : 'already running'}, storage ${dir})`);
    return { url: reg.url, kind: 'local', dir, token: reg.token, stop: () => reg.stop() };
  }
  const url = normaliseRegistry(flag ?? PUBLIC_REGISTRY);
  return { url, kind: isPublicRegistry(url) ? 'public' : 'custom', stop: async () => {} };
}

// ---------------------------------------------------------------- the plan

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
  if (/[A-Z]/.test(tag)) throw new UsageError(`--tag "${tag}": dist-tags are case-sensitive on npm, so "${tag}" would be another tag than "${tag.toLowerCase()}"; use lower case (e.g. "${tag.toLowerCase()}")`);
  if (!/^[a-z][a-z0-9._-]*$/.test(tag) || /^v\d/.test(tag)) throw new UsageError(`--tag "${tag}" is not a usable dist-tag: letters, digits, ".", "_", "-", starting with a letter, not version-like`);
  if (semver.validRange(tag) !== null) throw new UsageError(`--tag "${tag}" reads as a semver range (${semver.validRange(tag)}), which npm refuses as a dist-tag; pick a name such as "next" or "backport-0.14"`);
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
export function latestMoveProblem(tag: string, version: string, current: Array<{ package: string; current: string | null }>): { message: string; hint: string } | null {
  if (tag !== 'latest' || !current.length) return null;
  if (semver.prerelease(version)) {
    return { message: `refusing to point "latest" at the prerelease ${version} (${current.map((p) => p.package).join(', ')})`, hint: 'publish it under another tag, e.g. --tag next' };
  }
  const ahead = current.filter((p) => p.current !== null && p.current !== version && semver.valid(p.current) && semver.gt(p.current, version));
  if (!ahead.length) return null;
  const minor = `${semver.major(version)}.${semver.minor(version)}`;
  return {
    message: `refusing to move "latest" backwards to ${version}: ${ahead.map((p) => `${p.package} latest is ${p.current}`).join(', ')}`,
    hint: `publish the backport under its own tag, e.g. --tag backport-${minor}`,
  };
}

function checkLatestMove(input: PlanInput, packages: PackagePlan[]): void {
  const moving = packages.filter((p) => p.action !== 'refuse' && p.tag.action === 'move');
  const problem = latestMoveProblem(input.tag, input.version, moving.map((p) => ({ package: p.package, current: p.tag.current })));
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
    const remote: RemoteState = r.status === 'ok' ? 'identical' : r.status === 'no-package' || r.status === 'absent' || r.status === 'different' ? r.status : 'absent';
    if (r.status === 'corrupt' || r.status === 'error') throw new Error(`planRelease: registry state of ${m.package} is ${r.status}`);
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
      `${first.map((p) => p.package).join(', ')}: first ever publish of ${first.length === 1 ? 'this package' : 'these packages'}; ` +
        `the registry points \`latest\` at ${input.version} as soon as it is published, whatever the tag, so \`latest\` cannot be held back there until the whole set is verified.`,
    );
  }
  if (input.provenance) notes.push('publishing with --provenance (GitHub Actions)');
  const nothingToDo = !refused && packages.every((p) => p.action === 'none' && p.tag.action === 'already' && !p.stagingTagLeft);
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
        ? `REFUSE: the registry holds other bytes at ${plan.version} (${p.remoteIntegrity ?? 'no integrity'}, ours ${p.integrity})`
        : p.action === 'publish'
          ? `publish ${plan.version} under "${plan.stagingTag}"${p.firstEverPublish ? ' (first ever publish: the registry sets latest itself)' : ''}, read back, then`
          : `already published with our bytes;`;
    const tag = p.action === 'refuse' ? '' : p.tag.action === 'already' ? ` "${p.tag.name}" already at ${plan.version}` : ` move "${p.tag.name}" ${p.tag.current ?? '(unset)'} -> ${plan.version}`;
    return `${p.package.padEnd(28)} ${what}${tag}`;
  });
  return [...lines, ...plan.notes.map((n) => `note: ${n}`)];
}

// ---------------------------------------------------------------- preflight pieces

export interface SetMember {
  entry: ManifestEntry;
  tarball: string;
  /**
   * the tarball's bytes as read and checked against the manifest in the
   * preflight; set only when they matched. These bytes, never the file in
   * dist/ (which could be swapped in the meantime), are what gets published.
   */
  bytes?: TarballBytes;
}

/** The verified bytes of a member; throws if the preflight did not verify them. */
export function verifiedBytes(m: SetMember): TarballBytes {
  if (!m.bytes) throw new Error(`${m.entry.package}: its tarball was not verified against the manifest`);
  return m.bytes;
}

/** Our tarballs, re-read: present, with the manifest's integrity and package.json name/version. */
export async function checkLocalTarballs(dist: string, set: ManifestSet): Promise<{ members: SetMember[]; failures: Failure[] }> {
  const failures: Failure[] = [];
  const members: SetMember[] = [];
  for (const entry of set.entries) {
    const tarball = join(dist, entry.tarball.name);
    members.push({ entry, tarball });
    if (!existsSync(tarball)) {
      failures.push({ check: 'tarball-present', subject: `${entry.target}: ${tarball}`, expected: 'the staged npm tarball', actual: 'missing', hint: 'run scripts/stage-packages.ts' });
      continue;
    }
    const data = readFileSync(tarball);
    if (!matchesIntegrity(data, entry.tarball.integrity)) {
      failures.push({ check: 'tarball-integrity', subject: `${entry.target}: ${tarball}`, expected: `${entry.tarball.integrity} (${set.file})`, actual: sriSha512(data), hint: 're-run generate-manifest.ts after stage-packages.ts' });
      continue;
    }
    const pj = (await readTarballFiles(data)).get('package/package.json');
    const meta = pj ? (JSON.parse(pj.data.toString()) as { name?: string; version?: string }) : {};
    if (meta.name !== entry.package || meta.version !== set.version) {
      failures.push({ check: 'versions-align', subject: `${entry.target}: ${tarball} package/package.json`, expected: `${entry.package}@${set.version}`, actual: `${meta.name}@${meta.version}` });
      continue;
    }
    members[members.length - 1].bytes = { name: basename(tarball), data };
  }
  return { members, failures };
}

// ---------------------------------------------------------------- execution

export interface RetryPolicy {
  /** publish attempts per package */
  publishAttempts: number;
  /** read-back attempts per package (registry read-after-write lag) */
  readAttempts: number;
  /** first backoff; doubles each attempt, capped at 15 s */
  baseMs: number;
}

export function retryPolicyFromEnv(env = process.env): RetryPolicy {
  const n = (k: string, d: number, min: number) => {
    const raw = env[k];
    if (raw === undefined || raw === '') return d;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min) throw new UsageError(`${k}=${raw}: must be a whole number >= ${min}`);
    return v;
  };
  return { publishAttempts: n('XSNAP_PUBLISH_ATTEMPTS', 3, 1), readAttempts: n('XSNAP_READBACK_ATTEMPTS', 8, 1), baseMs: n('XSNAP_RETRY_BASE_MS', 500, 0) };
}

export interface PackageOutcome {
  target: TargetName;
  package: string;
  publish: 'published' | 'already' | 'failed' | 'not-attempted';
  attempts: number;
  verified: boolean;
  tag: 'moved' | 'already' | 'not-moved' | 'failed';
  error?: string;
}

/** A failure a re-run cannot get past (other bytes at the version, a newer release): needs a person. */
export class NotResumable extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backoff = (policy: RetryPolicy, attempt: number) => Math.min(policy.baseMs * 2 ** (attempt - 1), 15_000);

/**
 * npm's answer when the version already exists: the public registry's 403
 * "You cannot publish over the previously published versions", Verdaccio's
 * 409 "this package is already present".
 */
export function isPublishConflict(npmOutput: string): boolean {
  return /cannot publish over|previously published version|package is already present|EPUBLISHCONFLICT|\bE409\b/i.test(npmOutput);
}

/** Publish one tarball under the staging tag; after a failure look at what landed before trying again. */
async function publishOne(client: NpmClient, plan: Plan, p: PackagePlan, member: SetMember, policy: RetryPolicy, out: PackageOutcome): Promise<void> {
  const entry = member.entry;
  const bytes = verifiedBytes(member);
  let lastError = '';
  for (let attempt = 1; attempt <= policy.publishAttempts; attempt++) {
    out.attempts = attempt;
    const r = await client.publish(bytes, { tag: plan.stagingTag, provenance: plan.provenance });
    if (r.code === 0) {
      out.publish = 'published';
      log.ok(`published ${p.package}@${plan.version} under "${plan.stagingTag}"`);
      return;
    }
    lastError = lastLines(r.stderr);
    if (isPublishConflict(r.stderr)) {
      // The registry already holds this version: an earlier attempt (or run)
      // landed although the registry's reads did not show it yet. Whose bytes
      // they are is the read-back's question: it waits out the lag and compares.
      out.publish = attempt === 1 ? 'already' : 'published';
      const answer = lastError.split('\n').filter((l) => isPublishConflict(l)).pop()?.replace(/^\s*npm error\s*/, '') ?? lastError;
      log.warn(`${p.package}@${plan.version}: the registry says this version is already there (${answer}); the read-back checks it is ours`);
      return;
    }
    // The answer may be lost although the registry stored it (a dropped connection).
    const now = await checkPublishedPackage(client, entry, plan.version, { download: false });
    if (now.status === 'ok') {
      out.publish = 'published';
      log.ok(`published ${p.package}@${plan.version} (npm reported an error, but the registry holds our bytes)`);
      return;
    }
    if (now.status === 'different') {
      throw new NotResumable(`${p.package}@${plan.version}: the registry now holds other bytes (${now.integrity}); refusing to continue`);
    }
    if (attempt < policy.publishAttempts) {
      const wait = backoff(policy, attempt);
      log.warn(`${p.package}: publish attempt ${attempt}/${policy.publishAttempts} failed (${lastError.split('\n')[0]}); retrying in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait);
    }
  }
  throw new Error(`${p.package}@${plan.version}: publish failed after ${policy.publishAttempts} attempts: ${lastError}`);
}

/** Read a package back until the registry serves our bytes (bounded, with backoff). */
async function readBack(reader: RegistryReader, entry: ManifestEntry, version: string, policy: RetryPolicy): Promise<{ failures: Failure[]; distTags: Record<string, string> }> {
  let last = await checkPublishedPackage(reader, entry, version);
  for (let attempt = 1; last.status !== 'ok' && attempt < policy.readAttempts; attempt++) {
    if (last.status === 'different' || last.status === 'corrupt') break;
    const wait = backoff(policy, attempt);
    log.info(`${entry.package}: not readable yet (${last.status}); reading again in ${(wait / 1000).toFixed(1)} s`);
    await sleep(wait);
    last = await checkPublishedPackage(reader, entry, version);
  }
  return { failures: last.failures, distTags: last.distTags };
}

export interface ExecuteResult {
  outcomes: PackageOutcome[];
  failures: Failure[];
  warnings: string[];
  /** false when a re-run cannot finish the release (other bytes landed, latest is ahead): a person decides */
  resumable: boolean;
}

/** `staging-X.Y.Z` -> X.Y.Z, or null for any other tag. */
export function stagingTagVersion(tag: string): string | null {
  const m = /^staging-(.+)$/.exec(tag);
  return m && semver.valid(m[1]) ? m[1] : null;
}

/**
 * Where `tag` points right now on each package, read from the registry (not
 * from the preflight, which may be minutes old), and whether moving it to
 * `version` would break the latest-only-forward rule.
 */
export async function recheckTagMove(reader: RegistryReader, packages: string[], tag: string, version: string): Promise<{ current: Record<string, string | null>; problem: ReturnType<typeof latestMoveProblem> }> {
  const current: Record<string, string | null> = {};
  await Promise.all(packages.map(async (pkg) => {
    const doc = await reader.packument(pkg);
    current[pkg] = doc?.['dist-tags'][tag] ?? null;
  }));
  const moving = packages.filter((pkg) => current[pkg] !== version);
  return { current, problem: latestMoveProblem(tag, version, moving.map((pkg) => ({ package: pkg, current: current[pkg] }))) };
}

/**
 * After a completed release: remove the staging tag of this version, and those
 * of older versions (abandoned releases: a newer one is complete now). Staging
 * tags of newer versions may belong to a release under way: left, and said.
 * Cosmetic: a failure is a warning.
 */
async function tidyStagingTags(client: NpmClient, plan: Plan, distTags: Map<string, Record<string, string>>, warnings: string[]): Promise<void> {
  await Promise.all(plan.packages.map(async (p) => {
    for (const tag of Object.keys(distTags.get(p.package) ?? {})) {
      const v = stagingTagVersion(tag);
      if (v === null) continue;
      if (v === plan.version || semver.lt(v, plan.version)) {
        try {
          await client.distTagRm(p.package, tag);
          if (v !== plan.version) log.info(`${p.package}: removed "${tag}" left by an abandoned release of ${v}`);
        } catch (e) {
          const w = `${(e as Error).message}; "${tag}" is left on ${p.package}: remove it with npm dist-tag rm ${p.package} ${tag}`;
          warnings.push(w);
          log.warn(w);
        }
      } else {
        const w = `${p.package}: "${tag}" (a newer release, ${v}, not finished) is left as it is`;
        warnings.push(w);
        log.warn(w);
      }
    }
  }));
}

/** Carry out a plan that preflight accepted (not refused, not a dry run). */
export async function executePlan(plan: Plan, members: SetMember[], client: NpmClient, policy: RetryPolicy): Promise<ExecuteResult> {
  const memberOf = (pkg: string) => members.find((m) => m.entry.package === pkg)!;
  const outcomes = new Map<string, PackageOutcome>(
    plan.packages.map((p) => [p.package, { target: p.target, package: p.package, publish: p.action === 'none' ? 'already' : 'not-attempted', attempts: 0, verified: false, tag: 'not-moved' }]),
  );
  const failures: Failure[] = [];
  const warnings: string[] = [];
  let resumable = true;

  // 1. publish the absent packages, in parallel, under the staging tag
  const toPublish = plan.packages.filter((p) => p.action === 'publish');
  if (toPublish.length) log.step(`publishing ${toPublish.length} package${toPublish.length === 1 ? '' : 's'} under "${plan.stagingTag}"`);
  await Promise.all(
    toPublish.map(async (p) => {
      const out = outcomes.get(p.package)!;
      try {
        await publishOne(client, plan, p, memberOf(p.package), policy, out);
      } catch (e) {
        out.publish = 'failed';
        out.error = (e as Error).message;
        log.error(out.error);
        if (e instanceof NotResumable) resumable = false;
        failures.push({
          check: 'publish', subject: `${p.package}@${plan.version} (${p.tarball})`, actual: out.error,
          hint: e instanceof NotResumable ? 'a re-run cannot fix this: see RELEASING.md, "Incidents"' : 'fix the cause and re-run publish-all: it continues where this run stopped',
        });
      }
    }),
  );

  // 2. read every package back, published now or before, and check its bytes
  log.step('reading every package back from the registry');
  const distTags = new Map<string, Record<string, string>>();
  await Promise.all(
    plan.packages
      .filter((p) => outcomes.get(p.package)!.publish !== 'failed')
      .map(async (p) => {
        const rb = await readBack(client, memberOf(p.package).entry, plan.version, policy);
        distTags.set(p.package, rb.distTags);
        const out = outcomes.get(p.package)!;
        if (rb.failures.length) {
          failures.push(...rb.failures);
          if (rb.failures.some((f) => f.check !== 'published' && f.check !== 'registry-read' && f.check !== 'tarball-download')) resumable = false;
          out.error ??= rb.failures.map((f) => `${f.check}: ${f.actual ?? ''}`).join('; ');
        } else {
          out.verified = true;
          log.ok(`${p.package}@${plan.version}: registry serves our tarball and binaries`);
        }
      }),
  );
  if (failures.length) {
    log.error(`not moving "${plan.tag}" on any package: ${failures.length} failure${failures.length === 1 ? '' : 's'}`);
    return { outcomes: [...outcomes.values()], failures, warnings, resumable };
  }

  // 3. the whole set is there with our bytes. Where does the tag point *now*?
  // The preflight's answer may be minutes old: another release may have
  // finished since. Re-read and re-check before moving anything.
  const names = plan.packages.map((p) => p.package);
  const before = await recheckTagMove(client, names, plan.tag, plan.version);
  if (before.problem) {
    log.error(`${before.problem.message}: "${plan.tag}" moved on no package`);
    failures.push({ check: 'latest-forward', subject: `"${plan.tag}" on ${names.join(', ')} (read just now)`, expected: `at most ${plan.version}`, actual: before.problem.message, hint: `${plan.version} is published under "${plan.stagingTag}" but "${plan.tag}" was not moved; ${before.problem.hint}` });
    return { outcomes: [...outcomes.values()], failures, warnings, resumable: false };
  }
  log.step(`pointing "${plan.tag}" at ${plan.version} on every package`);
  await Promise.all(
    plan.packages.map(async (p) => {
      const out = outcomes.get(p.package)!;
      try {
        if (before.current[p.package] === plan.version) {
          out.tag = 'already';
          return;
        }
        // and once more right before this package's move
        const now = await recheckTagMove(client, [p.package], plan.tag, plan.version);
        if (now.problem) {
          resumable = false;
          throw new Error(`${now.problem.message}; not moved`);
        }
        if (now.current[p.package] === plan.version) out.tag = 'already';
        else {
          await client.distTagAdd(p.package, plan.version, plan.tag);
          out.tag = 'moved';
          log.ok(`${p.package}: "${plan.tag}" -> ${plan.version}`);
        }
      } catch (e) {
        out.tag = 'failed';
        out.error = (e as Error).message;
        failures.push({ check: 'dist-tag', subject: `${p.package}: "${plan.tag}"`, expected: plan.version, actual: before.current[p.package] ?? 'unset', hint: `${out.error}${resumable ? '; re-run publish-all to finish' : ''}` });
      }
    }),
  );
  // 4. tidy: staging tags have done their job
  if (!failures.length) await tidyStagingTags(client, plan, distTags, warnings);
  return { outcomes: [...outcomes.values()], failures, warnings, resumable };
}

/** Markdown table for $GITHUB_STEP_SUMMARY. */
export function summaryTable(plan: Plan, outcomes: PackageOutcome[] | undefined): string {
  const rows = plan.packages.map((p) => {
    const o = outcomes?.find((x) => x.package === p.package);
    const result = o ? `${o.publish}${o.verified ? ', verified' : ''}, tag ${o.tag}` : plan.dryRun ? 'dry run' : p.action === 'refuse' ? 'refused' : '-';
    return `| \`${p.package}\` | ${p.remote} | ${p.action} | ${p.tag.current ?? 'unset'} | ${result} |`;
  });
  return [
    `### publish-all ${plan.version} to ${plan.registry}${plan.dryRun ? ' (dry run)' : ''}`,
    '',
    `| package | at ${plan.version} before | action | "${plan.tag}" before | outcome |`,
    '|---|---|---|---|---|',
    ...rows,
    '',
    ...plan.notes.map((n) => `> ${n}`),
  ].join('\n');
}
