// The rules publish-all keeps whatever it is doing: which dist-tags npm will
// take, that "latest" only moves forward, and how a read of the registry is
// retried (backoff, read-back until the registry serves our bytes). Pure but
// for readBack; test/unit/publish-rules.test.ts asserts on them.
import semver from 'semver';
import { log } from '../core/cli.ts';
import { UsageError, type Failure } from '../core/errors.ts';
import type { RegistryReader } from '../core/npm-client.ts';
import { retrying } from '../core/retry.ts';
import { checkPublishedPackage, type ManifestEntry } from '../verify/published.ts';

/** public: registry.npmjs.org; local: the embedded Verdaccio; custom: any other URL */
export type RegistryKind = 'public' | 'local' | 'custom';

/**
 * A dist-tag npm will accept, checked before anything is written: npm refuses
 * tags that parse as a semver range ("x", "1", "v1"), and it would do so only
 * after every package had been staged.
 */
export function checkDistTag(tag: string): void {
  if (tag === '') throw new UsageError('--tag needs a value');
  // npm's tags are case-sensitive: "Latest" would be a second tag beside
  // "latest", escaping every rule about it. Tags here are lower case, always.
  if (/[A-Z]/.test(tag))
    throw new UsageError(
      `--tag "${tag}": dist-tags are case-sensitive on npm, so "${tag}" would be another tag than "${tag.toLowerCase()}"; use lower case (e.g. "${tag.toLowerCase()}")`,
    );
  if (!/^[a-z][a-z0-9._-]*$/.test(tag) || /^v\d/.test(tag))
    throw new UsageError(
      `--tag "${tag}" is not a usable dist-tag: letters, digits, ".", "_", "-", starting with a letter, not version-like`,
    );
  if (semver.validRange(tag) !== null)
    throw new UsageError(
      `--tag "${tag}" reads as a semver range (${semver.validRange(tag)}), which npm refuses as a dist-tag; pick a name such as "next" or "backport-0.14"`,
    );
}

/**
 * Whether pointing `tag` at `version` on these packages breaks the rule that
 * "latest" only moves forward and never onto a prerelease; null when it is fine.
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

// ---------------------------------------------------------------- retries

export interface RetryPolicy {
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
  return { readAttempts: n('XSNAP_READBACK_ATTEMPTS', 8, 1), baseMs: n('XSNAP_RETRY_BASE_MS', 500, 0) };
}

/** The policy's waits (core/retry): doubling from its base, capped at 15 s. */
export const backoffOf = (policy: RetryPolicy) => ({ baseMs: policy.baseMs, capMs: 15_000 });

/**
 * npm's answer when the version already exists: the public registry's 403
 * "You cannot publish over the previously published versions", Verdaccio's
 * 409 "this package is already present" (also its answer to an approval that
 * another approval beat).
 */
export function isPublishConflict(npmOutput: string): boolean {
  return /cannot publish over|previously published version|package is already present|EPUBLISHCONFLICT|\bE409\b/i.test(
    npmOutput,
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
  const last = await retrying(() => checkPublishedPackage(reader, entry, version), {
    attempts: policy.readAttempts,
    ...backoffOf(policy),
    // other bytes at the version (or, unless asked, corrupt ones) end it at once
    retryable: (r) => r.status !== 'ok' && r.status !== 'different' && (r.status !== 'corrupt' || !!opts.retryCorrupt),
    onRetry: opts.quiet
      ? undefined
      : (r, wait) =>
          log.info(`${entry.package}: not readable yet (${r.status}); reading again in ${(wait / 1000).toFixed(1)} s`),
  });
  return { failures: last.failures, distTags: last.distTags };
}
