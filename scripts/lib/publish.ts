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
import { join } from 'node:path';
import semver from 'semver';
import { log } from './cli.ts';
import { UsageError, type Failure } from './errors.ts';
import { matchesIntegrity, sriSha512 } from './hash.ts';
import { NpmClient, isPublicRegistry, normaliseRegistry, lastLines, PUBLIC_REGISTRY, type RegistryReader } from './npm-client.ts';
import { startLocalRegistry, LOCAL_REGISTRY_DIR } from './local-registry.ts';
import { checkPublishedPackage, readTarball, type ManifestEntry, type ManifestSet, type PublishedStatus } from './published.ts';
import type { TargetName } from './targets.ts';

// ---------------------------------------------------------------- registry

export type RegistryKind = 'public' | 'local' | 'custom';

export interface OpenRegistry {
  url: string;
  kind: RegistryKind;
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
    return { url: reg.url, kind: 'local', token: reg.token, stop: () => reg.stop() };
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
  if (!/^[a-z][a-z0-9._-]*$/i.test(tag) || /^v\d/i.test(tag)) throw new UsageError(`--tag "${tag}" is not a usable dist-tag: letters, digits, ".", "_", "-", starting with a letter, not version-like`);
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
 * under another tag (`--tag backport-0.14`, `--tag next`).
 */
function checkLatestMove(input: PlanInput, packages: PackagePlan[]): void {
  if (input.tag !== 'latest') return;
  const moving = packages.filter((p) => p.action !== 'refuse' && p.tag.action === 'move');
  if (!moving.length) return;
  if (semver.prerelease(input.version)) {
    throw new UsageError(
      `refusing to point "latest" at the prerelease ${input.version} (${moving.map((p) => p.package).join(', ')}); nothing was written.\n` +
        `    next: publish it under another tag, e.g. --tag next`,
    );
  }
  const ahead = moving.filter((p) => p.tag.current !== null && semver.valid(p.tag.current) && semver.gt(p.tag.current, input.version));
  if (ahead.length) {
    const minor = `${semver.major(input.version)}.${semver.minor(input.version)}`;
    throw new UsageError(
      `refusing to move "latest" backwards to ${input.version}: ${ahead.map((p) => `${p.package} latest is ${p.tag.current}`).join(', ')}; nothing was written.\n` +
        `    next: publish the backport under its own tag, e.g. --tag backport-${minor}`,
    );
  }
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
    const pj = (await readTarball(data)).get('package/package.json');
    const meta = pj ? (JSON.parse(pj.data.toString()) as { name?: string; version?: string }) : {};
    if (meta.name !== entry.package || meta.version !== set.version) {
      failures.push({ check: 'versions-align', subject: `${entry.target}: ${tarball} package/package.json`, expected: `${entry.package}@${set.version}`, actual: `${meta.name}@${meta.version}` });
    }
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
  const n = (k: string, d: number) => (env[k] && Number.isFinite(Number(env[k])) ? Number(env[k]) : d);
  return { publishAttempts: n('XSNAP_PUBLISH_ATTEMPTS', 3), readAttempts: n('XSNAP_READBACK_ATTEMPTS', 8), baseMs: n('XSNAP_RETRY_BASE_MS', 500) };
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
async function publishOne(client: NpmClient, plan: Plan, p: PackagePlan, entry: ManifestEntry, policy: RetryPolicy, out: PackageOutcome): Promise<void> {
  let lastError = '';
  for (let attempt = 1; attempt <= policy.publishAttempts; attempt++) {
    out.attempts = attempt;
    const r = await client.publish(p.tarball, { tag: plan.stagingTag, provenance: plan.provenance });
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
      throw new Error(`${p.package}@${plan.version}: the registry now holds other bytes (${now.integrity}); refusing to continue`);
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
}

/** Carry out a plan that preflight accepted (not refused, not a dry run). */
export async function executePlan(plan: Plan, members: SetMember[], client: NpmClient, policy: RetryPolicy): Promise<ExecuteResult> {
  const entryOf = (pkg: string) => members.find((m) => m.entry.package === pkg)!.entry;
  const outcomes = new Map<string, PackageOutcome>(
    plan.packages.map((p) => [p.package, { target: p.target, package: p.package, publish: p.action === 'none' ? 'already' : 'not-attempted', attempts: 0, verified: false, tag: 'not-moved' }]),
  );
  const failures: Failure[] = [];
  const warnings: string[] = [];

  // 1. publish the absent packages, in parallel, under the staging tag
  const toPublish = plan.packages.filter((p) => p.action === 'publish');
  if (toPublish.length) log.step(`publishing ${toPublish.length} package${toPublish.length === 1 ? '' : 's'} under "${plan.stagingTag}"`);
  await Promise.all(
    toPublish.map(async (p) => {
      const out = outcomes.get(p.package)!;
      try {
        await publishOne(client, plan, p, entryOf(p.package), policy, out);
      } catch (e) {
        out.publish = 'failed';
        out.error = (e as Error).message;
        log.error(out.error);
        failures.push({ check: 'publish', subject: `${p.package}@${plan.version} (${p.tarball})`, actual: out.error, hint: 'fix the cause and re-run publish-all: it continues where this run stopped' });
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
        const rb = await readBack(client, entryOf(p.package), plan.version, policy);
        distTags.set(p.package, rb.distTags);
        const out = outcomes.get(p.package)!;
        if (rb.failures.length) {
          failures.push(...rb.failures);
          out.error ??= rb.failures.map((f) => `${f.check}: ${f.actual ?? ''}`).join('; ');
        } else {
          out.verified = true;
          log.ok(`${p.package}@${plan.version}: registry serves our tarball and binaries`);
        }
      }),
  );
  if (failures.length) {
    log.error(`not moving "${plan.tag}" on any package: ${failures.length} failure${failures.length === 1 ? '' : 's'}`);
    return { outcomes: [...outcomes.values()], failures, warnings };
  }

  // 3. the whole set is there with our bytes: move the requested tag on every package
  log.step(`pointing "${plan.tag}" at ${plan.version} on every package`);
  await Promise.all(
    plan.packages.map(async (p) => {
      const out = outcomes.get(p.package)!;
      const tags = distTags.get(p.package) ?? {};
      try {
        if (tags[plan.tag] === plan.version) out.tag = 'already';
        else {
          await client.distTagAdd(p.package, plan.version, plan.tag);
          out.tag = 'moved';
          log.ok(`${p.package}: "${plan.tag}" -> ${plan.version}`);
        }
      } catch (e) {
        out.tag = 'failed';
        out.error = (e as Error).message;
        failures.push({ check: 'dist-tag', subject: `${p.package}: "${plan.tag}"`, expected: plan.version, actual: tags[plan.tag] ?? 'unset', hint: `${out.error}; re-run publish-all to finish` });
      }
    }),
  );
  // 4. tidy: the staging tag has done its job (cosmetic; a failure is a warning)
  if (!failures.length) {
    await Promise.all(
      plan.packages
        .filter((p) => (distTags.get(p.package) ?? {})[plan.stagingTag] !== undefined)
        .map(async (p) => {
          try {
            await client.distTagRm(p.package, plan.stagingTag);
          } catch (e) {
            warnings.push((e as Error).message);
            log.warn((e as Error).message);
          }
        }),
    );
  }
  return { outcomes: [...outcomes.values()], failures, warnings };
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
