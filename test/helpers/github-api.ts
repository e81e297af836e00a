// A loopback stand-in for the parts of the GitHub REST API the release scripts
// use (refs to commits, the releases list with its pagination, creating and
// updating a draft, release assets), behaving as GitHub documents them: the
// by-tag endpoint does not return drafts, the list pages with a Link header,
// an asset name is refused twice. GitHub is the one thing the tests stand in for.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface FakeAsset {
  id: number;
  name: string;
  size: number;
  digest: string;
  bytes: Buffer;
}
export interface FakeRelease {
  id: number;
  tag_name: string;
  draft: boolean;
  name: string;
  body: string;
  assets: FakeAsset[];
}
export interface FakeGitHub {
  url: string;
  server: Server;
  /** every request: `METHOD path authorization` */
  seen: string[];
  /** `tags/<tag>` or `heads/<branch>` -> commit */
  commits: Record<string, string>;
  /** annotated tag objects: tag object sha -> the commit it points at */
  tagObjects: Record<string, string>;
  releases: FakeRelease[];
  /** releases per page of the list (GitHub: per_page, at most 100) */
  pageSize: number;
  /** answer the releases list with this status instead */
  listStatus?: number;
  /** uploads answered 201 but not kept (a lost asset), by name */
  lose: string[];
  /** uploads kept with one byte changed (GitHub's digest then differs from the sender's), by name */
  corrupt: string[];
  /** requests that write (POST, PATCH, DELETE) */
  writes: () => string[];
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function fakeGitHub(
  init: {
    commits?: Record<string, string>;
    tagObjects?: Record<string, string>;
    releases?: Array<Partial<FakeRelease>>;
    pageSize?: number;
  } = {},
): Promise<FakeGitHub> {
  let nextId = 1000;
  const state: FakeGitHub = {
    url: '',
    server: undefined as unknown as Server,
    seen: [],
    commits: { ...(init.commits ?? {}) },
    tagObjects: { ...(init.tagObjects ?? {}) },
    releases: (init.releases ?? []).map((r) => ({
      id: nextId++,
      tag_name: 'v0.0.0',
      draft: false,
      name: '',
      body: '',
      assets: [],
      ...r,
    })),
    pageSize: init.pageSize ?? 100,
    lose: [],
    corrupt: [],
    writes: () => state.seen.filter((s) => /^(POST|PATCH|DELETE) /.test(s)),
  };
  const view = (r: FakeRelease) => ({
    id: r.id,
    tag_name: r.tag_name,
    draft: r.draft,
    name: r.name,
    body: r.body,
    html_url: `https://github.com/o/r/releases/${r.id}`,
    upload_url: `${state.url}/uploads/releases/${r.id}/assets{?name,label}`,
    assets: r.assets.map((a) => ({ id: a.id, name: a.name, size: a.size, digest: a.digest })),
  });
  const server = createServer(async (req, res) => {
    const u = new URL(req.url!, 'http://x');
    state.seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    const body = await readBody(req);
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && (m = /^\/repos\/[^/]+\/[^/]+\/commits\/(.+)$/.exec(u.pathname))) {
      const sha = state.commits[decodeURIComponent(m[1])];
      return sha ? send(200, { sha }) : send(422, { message: 'No commit found for SHA' });
    }
    if (req.method === 'GET' && (m = /^\/repos\/[^/]+\/[^/]+\/git\/tags\/([0-9a-f]{40})$/.exec(u.pathname))) {
      const commit = state.tagObjects[m[1]];
      return commit
        ? send(200, { sha: m[1], object: { type: 'commit', sha: commit } })
        : send(404, { message: 'Not Found' });
    }
    if (req.method === 'GET' && /^\/repos\/[^/]+\/[^/]+\/releases$/.test(u.pathname)) {
      if (state.listStatus) return send(state.listStatus, { message: 'broken' });
      const page = Number(u.searchParams.get('page') ?? '1');
      const size = Math.min(state.pageSize, Number(u.searchParams.get('per_page') ?? '30'));
      const all = [...state.releases].reverse(); // newest first, as GitHub lists them
      const slice = all.slice((page - 1) * size, page * size);
      const headers: Record<string, string> = {};
      if (page * size < all.length) {
        const next = new URL(`${state.url}${u.pathname}`);
        next.searchParams.set('per_page', String(size));
        next.searchParams.set('page', String(page + 1));
        headers.link = `<${next}>; rel="next", <${state.url}${u.pathname}?page=999>; rel="last"`;
      }
      return send(200, slice.map(view), headers);
    }
    if (req.method === 'GET' && (m = /^\/repos\/[^/]+\/[^/]+\/releases\/tags\/(.+)$/.exec(u.pathname))) {
      // as GitHub: the by-tag endpoint does not return drafts
      const r = state.releases.find((x) => x.tag_name === decodeURIComponent(m![1]) && !x.draft);
      return r ? send(200, view(r)) : send(404, { message: 'Not Found' });
    }
    if (req.method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/releases$/.test(u.pathname)) {
      const j = JSON.parse(body.toString('utf8'));
      const r: FakeRelease = {
        id: nextId++,
        tag_name: j.tag_name,
        draft: Boolean(j.draft),
        name: j.name ?? '',
        body: j.body ?? '',
        assets: [],
      };
      state.releases.push(r);
      return send(201, view(r));
    }
    if (req.method === 'PATCH' && (m = /^\/repos\/[^/]+\/[^/]+\/releases\/(\d+)$/.exec(u.pathname))) {
      const r = state.releases.find((x) => x.id === Number(m![1]));
      if (!r) return send(404, { message: 'Not Found' });
      Object.assign(r, JSON.parse(body.toString('utf8')));
      return send(200, view(r));
    }
    if (req.method === 'DELETE' && (m = /^\/repos\/[^/]+\/[^/]+\/releases\/assets\/(\d+)$/.exec(u.pathname))) {
      for (const r of state.releases) r.assets = r.assets.filter((a) => a.id !== Number(m![1]));
      return send(204);
    }
    if (req.method === 'POST' && (m = /^\/uploads\/releases\/(\d+)\/assets$/.exec(u.pathname))) {
      const r = state.releases.find((x) => x.id === Number(m![1]));
      const name = u.searchParams.get('name') ?? '';
      if (!r) return send(404, { message: 'Not Found' });
      if (r.assets.some((a) => a.name === name)) return send(422, { errors: [{ code: 'already_exists' }] });
      const bytes = state.corrupt.includes(name) ? Buffer.concat([body.subarray(0, -1), Buffer.from('!')]) : body;
      const a: FakeAsset = {
        id: nextId++,
        name,
        size: bytes.length,
        digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
        bytes,
      };
      if (!state.lose.includes(name)) r.assets.push(a);
      return send(201, { id: a.id, name: a.name, size: a.size, digest: a.digest, state: 'uploaded' });
    }
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.server = server;
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
