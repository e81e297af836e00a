// The release tag: `vX.Y.Z`, the version in the source pin, and not released
// yet (no GitHub Release carries it). release.yml checks this before building.
import { CheckFailed, OperationError, UsageError, type Failure } from './errors.ts';

const TAG = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

/** The X.Y.Z of a `vX.Y.Z` tag (also accepts `refs/tags/vX.Y.Z`); a usage error otherwise. */
export function tagVersion(tag: string): string {
  const name = tag.replace(/^refs\/tags\//, '');
  if (!TAG.test(name)) throw new UsageError(`release tag "${tag}" is not of the form vX.Y.Z (e.g. v0.15.0)`);
  return name.slice(1);
}

export type Newness = 'new' | 'released' | 'not checked';

/**
 * Whether a GitHub Release already exists for `tag`, asked of the REST API
 * (`GET /repos/{repo}/releases/tags/{tag}`): 404 means new.
 */
export async function releaseNewness(opts: { tag: string; repo?: string; apiUrl?: string; token?: string }): Promise<Newness> {
  if (!opts.repo) return 'not checked';
  if (!/^[\w.-]+\/[\w.-]+$/.test(opts.repo)) throw new UsageError(`repository "${opts.repo}" is not owner/name`);
  const api = (opts.apiUrl || 'https://api.github.com').replace(/\/+$/, '');
  const url = `${api}/repos/${opts.repo}/releases/tags/${encodeURIComponent(opts.tag)}`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/vnd.github+json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new OperationError(`cannot ask ${url} whether ${opts.tag} is released: ${(e as Error).message}`);
  }
  if (res.status === 404) return 'new';
  if (res.status === 200) return 'released';
  throw new OperationError(`${url} answered ${res.status} ${res.statusText}: cannot tell whether ${opts.tag} is released`);
}

export interface TagCheck {
  tag: string;
  version: string;
  pinVersion: string;
  newness: Newness;
  failures: Failure[];
}

export async function checkReleaseTag(opts: { tag: string; pinVersion: string; pinFile: string; repo?: string; apiUrl?: string; token?: string }): Promise<TagCheck> {
  const tag = opts.tag.replace(/^refs\/tags\//, '');
  const version = tagVersion(tag);
  const failures: Failure[] = [];
  if (version !== opts.pinVersion) {
    failures.push({ check: 'tag-matches-pin', subject: tag, expected: `v${opts.pinVersion} (version in ${opts.pinFile})`, actual: tag, hint: 'tag the commit whose pin names this version, or update the pin first' });
  }
  const newness = await releaseNewness({ tag, repo: opts.repo, apiUrl: opts.apiUrl, token: opts.token });
  if (newness === 'released') {
    failures.push({ check: 'tag-is-new', subject: tag, expected: 'no GitHub Release yet', actual: `${opts.repo} already has a release ${tag}`, hint: 'a released version is never rebuilt or republished: release a new version (see RELEASING.md)' });
  }
  return { tag, version, pinVersion: opts.pinVersion, newness, failures };
}

export function assertTagCheck(r: TagCheck): void {
  if (r.failures.length) throw new CheckFailed(r.failures);
}
