// A small loopback HTTP proxy in front of the test registry that injects the
// faults publish-all must survive: a package's publish or stage publish answered
// 503 (every time or once), the connection dropped (before or after the registry got the
// request), or the request held forever (to kill publish-all mid-release);
// and read-after-write lag: after a hit, the package's next reads are answered
// with its document as it was before the publish.
// Everything else is passed through unchanged, Host header included, so the
// registry's tarball URLs point back at the proxy.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultAction =
  /** answer 503 without telling the registry */
  | '503'
  /** destroy the client's connection without an answer; the registry never sees the request */
  | 'drop'
  /** let the registry handle the request, then destroy the client's connection instead of answering */
  | 'drop-after-forward'
  /** never answer; the request never reaches the registry */
  | 'hold';

export interface FaultRule {
  /** the package whose publish (PUT /<name>) or stage publish (POST /-/stage/package/<name>) is hit */
  publishOf: string;
  action: FaultAction;
  /** how many matching requests to hit (default: every one) */
  times?: number;
  /**
   * read-after-write lag: after each hit, the next `lagReads` reads of the
   * package's document (GET /<name>) get the document as it was just before
   * this publish, as a lagging registry replica would serve it
   */
  lagReads?: number;
}

/** An answer the proxy gives in the registry's place (JSON body). */
export interface CannedAnswer {
  status: number;
  body: string;
}

export interface FaultProxy {
  url: string;
  /** replace the rules (hit counters restart) */
  setRules(rules: FaultRule[]): void;
  /** how many requests each rule (by index) has hit, and every request seen: "METHOD /path" */
  hits: number[];
  seen: string[];
  /** resolves the first time a 'hold' rule hits */
  held(): Promise<void>;
  /**
   * run `fn` (awaited) when a request first matches, before it is handled:
   * a race staged at an exact point of publish-all's run (e.g. swap a file
   * during whoami, release a newer version during the read-back). When `fn`
   * returns an answer, the client gets it and the registry never sees the
   * request. Once per call.
   */
  onceOn(method: string, path: RegExp, fn: () => Promise<CannedAnswer | void> | CannedAnswer | void): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let rules: FaultRule[] = [];
  const state = { hits: [] as number[], seen: [] as string[] };
  let heldResolve: () => void = () => {};
  let heldPromise = new Promise<void>((r) => (heldResolve = r));

  const forward = (req: IncomingMessage, res: ServerResponse | null, onDone?: () => void) => {
    const up = request(
      // a fresh connection per request: a reused keep-alive socket the registry just closed would reset
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: false,
      },
      (upRes) => {
        if (!res) {
          upRes.resume();
          upRes.on('end', () => onDone?.());
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        // the registry gone mid-answer: the client sees the connection drop, as it
        // would without the proxy (pipe alone would leave it waiting for the rest)
        upRes.on('error', () => res.destroy());
        upRes.on('aborted', () => res.destroy());
        upRes.pipe(res);
      },
    );
    up.on('error', () => (res ? res.destroy() : req.socket.destroy()));
    req.pipe(up);
  };

  /** stale documents still to serve, by path */
  const stale = new Map<string, { reads: number; status: number; headers: Record<string, string>; body: Buffer }>();
  /**
   * the package document as the registry serves it now, asked with the client's Host
   * (so tarball URLs point at the proxy)
   */
  const snapshot = (path: string, host: string | undefined) =>
    new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>((resolve, reject) => {
      const get = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: 'GET',
          path: path.replace(/^\/(@[^/]+)\//, '/$1%2f'),
          headers: { accept: 'application/json', ...(host ? { host } : {}) },
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () =>
            resolve({
              status: r.statusCode ?? 502,
              headers: { 'content-type': String(r.headers['content-type'] ?? 'application/json') },
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      get.on('error', reject);
      get.end();
    });

  const hooks: Array<{ method: string; path: RegExp; fn: () => Promise<CannedAnswer | void> | CannedAnswer | void }> =
    [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    state.seen.push(`${req.method} ${path}`);
    const hook = hooks.findIndex((h) => h.method === req.method && h.path.test(path));
    if (hook >= 0) {
      const [h] = hooks.splice(hook, 1);
      req.pause();
      const answer = await h.fn();
      if (answer) {
        req.resume();
        res.writeHead(answer.status, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(answer.body)),
        });
        res.end(answer.body);
        return;
      }
    }
    const lag = req.method === 'GET' ? stale.get(path) : undefined;
    if (lag && lag.reads > 0) {
      lag.reads--;
      req.resume();
      res.writeHead(lag.status, { ...lag.headers, 'content-length': String(lag.body.length) });
      res.end(lag.body);
      return;
    }
    const i = rules.findIndex(
      (r, idx) =>
        ((req.method === 'PUT' && path === `/${r.publishOf}`) ||
          (req.method === 'POST' && path === `/-/stage/package/${r.publishOf}`)) &&
        state.hits[idx] < (r.times ?? Infinity),
    );
    if (i < 0) return forward(req, res);
    state.hits[i]++;
    const lagReads = rules[i].lagReads;
    if (lagReads) {
      req.pause();
      stale.set(path, { reads: lagReads, ...(await snapshot(path, req.headers.host)) });
    }
    switch (rules[i].action) {
      case '503':
        req.resume();
        req.on('end', () => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'service unavailable (fault proxy)' }));
        });
        return;
      case 'drop':
        req.resume();
        req.on('end', () => req.socket.destroy());
        return;
      case 'drop-after-forward':
        return forward(req, null, () => req.socket.destroy());
      case 'hold':
        req.resume();
        heldResolve();
        return;
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    setRules(r) {
      rules = r;
      stale.clear();
      state.hits = r.map(() => 0);
      state.seen.length = 0;
      heldPromise = new Promise<void>((res) => (heldResolve = res));
    },
    get hits() {
      return state.hits;
    },
    get seen() {
      return state.seen;
    },
    held: () => heldPromise,
    onceOn(method, path, fn) {
      hooks.push({ method, path, fn });
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
