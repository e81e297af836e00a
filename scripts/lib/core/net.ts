// HTTP: one request, its answer read whole (or its body let go), with a time limit. What an answer means, and the
// words of an error, stay with the caller; a request that gets no answer throws fetch's own error.

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  /** give up after this long (no limit when absent) */
  timeoutMs?: number;
  /** 'follow' (the default), or 'manual' to see a redirect and its location */
  redirect?: 'follow' | 'manual';
  /** read the body of every answer; by default only a 2xx answer's body is read, any other is let go */
  readAnyBody?: boolean;
}

export interface HttpAnswer {
  /** the URL asked */
  url: string;
  status: number;
  statusText: string;
  /** 2xx */
  ok: boolean;
  headers: Headers;
  /** the body (null when it was let go) */
  body: Buffer | null;
}

export async function httpRequest(url: string | URL, opts: HttpOptions = {}): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: opts.method ?? 'GET',
    headers: opts.headers,
    body: opts.body,
    redirect: opts.redirect ?? 'follow',
    signal: opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(opts.timeoutMs),
  });
  let body: Buffer | null = null;
  if (res.ok || opts.readAnyBody) body = Buffer.from(await res.arrayBuffer());
  else await res.body?.cancel();
  return { url: String(url), status: res.status, statusText: res.statusText, ok: res.ok, headers: res.headers, body };
}

/** The body as JSON (an error when it is not JSON, or there is none). */
export function jsonOf(a: HttpAnswer): unknown {
  return JSON.parse((a.body ?? Buffer.alloc(0)).toString('utf8'));
}
