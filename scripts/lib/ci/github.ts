// The GitHub REST client: one request (JSON or bytes, the token in the authorization header, the Link header's next
// page), the API's base URL, and the check of an owner/name. Every call of the API goes through it.
import { OperationError, UsageError } from '../core/errors.ts';
import { httpRequest, jsonOf, type HttpAnswer } from '../core/net.ts';

/** Which repository on which GitHub API, and the token to read it with. */
export type GitHubRepoApi = { repo: string; apiUrl?: string; token?: string };

/**
 * What one request to the GitHub REST API answered: the status, the parsed JSON body (null unless 2xx), the Link
 * header's next page.
 */
export interface GitHubAnswer {
  url: string;
  status: number;
  statusText: string;
  body: unknown;
  /** the `rel="next"` URL of the Link header, for paginated lists */
  next?: string;
}

/** The API's base URL (GITHUB_API_URL or api.github.com), without a trailing slash. */
export const apiBase = (opts: { apiUrl?: string }) => (opts.apiUrl || 'https://api.github.com').replace(/\/+$/, '');

/**
 * One request to the GitHub REST API: `path` under /repos/{repo}, or an absolute `url` the API itself gave
 * (a next page, an upload URL). A JSON `json` body or raw `data` bytes; the token goes in the authorization header.
 */
export async function githubRequest(
  opts: GitHubRepoApi,
  req: { method?: string; path?: string; url?: string; json?: unknown; data?: Buffer },
  what: string,
): Promise<GitHubAnswer> {
  const url = req.url ?? `${apiBase(opts)}/repos/${opts.repo}${req.path ?? ''}`;
  const method = req.method ?? 'GET';
  let res: HttpAnswer;
  try {
    res = await httpRequest(url, {
      method,
      headers: {
        accept: 'application/vnd.github+json',
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(req.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(req.data !== undefined ? { 'content-type': 'application/octet-stream' } : {}),
      },
      body: req.json !== undefined ? JSON.stringify(req.json) : req.data ? new Uint8Array(req.data) : undefined,
      timeoutMs: req.data ? 300_000 : 30_000,
    });
  } catch (e) {
    throw new OperationError(`cannot ask ${method} ${url} ${what}: ${(e as Error).message}`);
  }
  let body: unknown = null;
  if (res.ok && res.status !== 204) {
    try {
      body = jsonOf(res);
    } catch (e) {
      throw new OperationError(
        `${method} ${url} answered ${res.status} with a body that is not JSON (${(e as Error).message}): cannot tell ${what}`,
      );
    }
  }
  const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
  return { url, status: res.status, statusText: res.statusText, body, ...(next ? { next } : {}) };
}

/** One GET of the GitHub REST API: the status and the parsed JSON body (null unless 200). */
export async function githubGet(opts: GitHubRepoApi, path: string, what: string): Promise<GitHubAnswer> {
  return githubRequest(opts, { path }, what);
}

export function checkRepo(repo: string): void {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) throw new UsageError(`repository "${repo}" is not owner/name`);
}
