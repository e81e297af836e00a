// Carrying out a --via direct plan that the preflight accepted: npm has no
// transactions, so the set is published under a staging dist-tag (users never
// get it), in parallel, retried only after looking at what landed; every
// package is read back and checked against the manifest; only then does the
// requested tag move, on all, after reading once more where it points now.
import semver from 'semver';
import { log } from './cli.ts';
import { UsageError, type Failure } from './errors.ts';
import { lastLines, type NpmClient, type RegistryReader } from './npm-client.ts';
import { findMember, verifiedBytes, type SetMember } from './publish-preflight.ts';
import { latestMoveProblem, type PackagePlan, type Plan } from './publish-plan.ts';
import { checkPublishedPackage, type ManifestEntry } from './published.ts';
import type { TargetName } from './targets.ts';

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
  return {
    publishAttempts: n('XSNAP_PUBLISH_ATTEMPTS', 3, 1),
    readAttempts: n('XSNAP_READBACK_ATTEMPTS', 8, 1),
    baseMs: n('XSNAP_RETRY_BASE_MS', 500, 0),
  };
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
/** The wait before attempt `attempt + 1`: doubling from the policy's base, capped at 15 s. */
export const backoff = (policy: RetryPolicy, attempt: number) => Math.min(policy.baseMs * 2 ** (attempt - 1), 15_000);

/**
 * npm's answer when the version already exists: the public registry's 403
 * "You cannot publish over the previously published versions", Verdaccio's
 * 409 "this package is already present".
 */
export function isPublishConflict(npmOutput: string): boolean {
  return /cannot publish over|previously published version|package is already present|EPUBLISHCONFLICT|\bE409\b/i.test(
    npmOutput,
  );
}

/** Publish one tarball under the staging tag; after a failure look at what landed before trying again. */
async function publishOne(
  client: NpmClient,
  plan: Plan,
  p: PackagePlan,
  member: SetMember,
  policy: RetryPolicy,
  out: PackageOutcome,
): Promise<void> {
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
      const answer =
        lastError
          .split('\n')
          .filter((l) => isPublishConflict(l))
          .pop()
          ?.replace(/^\s*npm error\s*/, '') ?? lastError;
      log.warn(
        `${p.package}@${plan.version}: the registry says this version is ` +
          `already there (${answer}); the read-back checks it is ours`,
      );
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
      throw new NotResumable(
        `${p.package}@${plan.version}: the registry now holds other bytes (${now.integrity}); refusing to continue`,
      );
    }
    if (attempt < policy.publishAttempts) {
      const wait = backoff(policy, attempt);
      log.warn(
        `${p.package}: publish attempt ${attempt}/${policy.publishAttempts} failed (${lastError.split('\n')[0]}); ` +
          `retrying in ${(wait / 1000).toFixed(1)} s`,
      );
      await sleep(wait);
    }
  }
  throw new Error(
    `${p.package}@${plan.version}: publish failed after ${policy.publishAttempts} attempts: ${lastError}`,
  );
}

export interface ReadBackOptions {
  /** keep reading while the registry serves bytes that do not match their integrity (after an approval) */
  retryCorrupt?: boolean;
  /** no line per attempt */
  quiet?: boolean;
}

/**
 * Read a package back until the registry serves our bytes (bounded, with
 * backoff). Other bytes at the version end it at once: waiting cannot help.
 */
export async function readBack(
  reader: RegistryReader,
  entry: ManifestEntry,
  version: string,
  policy: RetryPolicy,
  opts: ReadBackOptions = {},
): Promise<{ failures: Failure[]; distTags: Record<string, string> }> {
  let last = await checkPublishedPackage(reader, entry, version);
  for (let attempt = 1; last.status !== 'ok' && attempt < policy.readAttempts; attempt++) {
    if (last.status === 'different' || (last.status === 'corrupt' && !opts.retryCorrupt)) break;
    const wait = backoff(policy, attempt);
    if (!opts.quiet)
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
export async function recheckTagMove(
  reader: RegistryReader,
  packages: string[],
  tag: string,
  version: string,
): Promise<{ current: Record<string, string | null>; problem: ReturnType<typeof latestMoveProblem> }> {
  const current: Record<string, string | null> = {};
  await Promise.all(
    packages.map(async (pkg) => {
      const doc = await reader.packument(pkg);
      current[pkg] = doc?.['dist-tags'][tag] ?? null;
    }),
  );
  const moving = packages.filter((pkg) => current[pkg] !== version);
  return {
    current,
    problem: latestMoveProblem(
      tag,
      version,
      moving.map((pkg) => ({ package: pkg, current: current[pkg] })),
    ),
  };
}

/**
 * After a completed release: remove the staging tag of this version, and those
 * of older versions (abandoned releases: a newer one is complete now). Staging
 * tags of newer versions may belong to a release under way: left, and said.
 * Cosmetic: a failure is a warning.
 */
async function tidyStagingTags(
  client: NpmClient,
  plan: Plan,
  distTags: Map<string, Record<string, string>>,
  warnings: string[],
): Promise<void> {
  await Promise.all(
    plan.packages.map(async (p) => {
      for (const tag of Object.keys(distTags.get(p.package) ?? {})) {
        const v = stagingTagVersion(tag);
        if (v === null) continue;
        if (v === plan.version || semver.lt(v, plan.version)) {
          try {
            await client.distTagRm(p.package, tag);
            if (v !== plan.version) log.info(`${p.package}: removed "${tag}" left by an abandoned release of ${v}`);
          } catch (e) {
            const w =
              `${(e as Error).message}; "${tag}" is left on ${p.package}: remove it with ` +
              `npm dist-tag rm ${p.package} ${tag}`;
            warnings.push(w);
            log.warn(w);
          }
        } else {
          const w = `${p.package}: "${tag}" (a newer release, ${v}, not finished) is left as it is`;
          warnings.push(w);
          log.warn(w);
        }
      }
    }),
  );
}

/** Carry out a plan that preflight accepted (not refused, not a dry run). */
export async function executePlan(
  plan: Plan,
  members: SetMember[],
  client: NpmClient,
  policy: RetryPolicy,
): Promise<ExecuteResult> {
  const memberOf = (pkg: string) => findMember(members, pkg);
  const outcomes = new Map<string, PackageOutcome>(
    plan.packages.map((p) => [
      p.package,
      {
        target: p.target,
        package: p.package,
        publish: p.action === 'none' ? 'already' : 'not-attempted',
        attempts: 0,
        verified: false,
        tag: 'not-moved',
      },
    ]),
  );
  const failures: Failure[] = [];
  const warnings: string[] = [];
  let resumable = true;

  // 1. publish the absent packages, in parallel, under the staging tag
  const toPublish = plan.packages.filter((p) => p.action === 'publish');
  if (toPublish.length)
    log.step(`publishing ${toPublish.length} package${toPublish.length === 1 ? '' : 's'} under "${plan.stagingTag}"`);
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
          check: 'publish',
          subject: `${p.package}@${plan.version} (${p.tarball})`,
          actual: out.error,
          hint:
            e instanceof NotResumable
              ? 'a re-run cannot fix this: see RELEASING.md, "Incidents"'
              : 'fix the cause and re-run publish-all: it continues where this run stopped',
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
          if (
            rb.failures.some(
              (f) => f.check !== 'published' && f.check !== 'registry-read' && f.check !== 'tarball-download',
            )
          )
            resumable = false;
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
    failures.push({
      check: 'latest-forward',
      subject: `"${plan.tag}" on ${names.join(', ')} (read just now)`,
      expected: `at most ${plan.version}`,
      actual: before.problem.message,
      hint:
        `${plan.version} is published under "${plan.stagingTag}" but "${plan.tag}" was not moved; ` +
        `${before.problem.hint}`,
    });
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
        failures.push({
          check: 'dist-tag',
          subject: `${p.package}: "${plan.tag}"`,
          expected: plan.version,
          actual: before.current[p.package] ?? 'unset',
          hint: `${out.error}${resumable ? '; re-run publish-all to finish' : ''}`,
        });
      }
    }),
  );
  // 4. tidy: staging tags have done their job
  if (!failures.length) await tidyStagingTags(client, plan, distTags, warnings);
  return { outcomes: [...outcomes.values()], failures, warnings, resumable };
}
