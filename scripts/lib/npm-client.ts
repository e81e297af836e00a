// Talking to an npm registry: writes go through the real npm CLI (publish,
// dist-tag, whoami), reads go straight to the registry's HTTP API (packuments,
// tarballs) so we see exactly what the registry holds.
//
// The token lives only in a temporary npm config (a 0700 folder, a 0600 file)
// passed with --userconfig; it is removed when the client is disposed, on
// success, on failure, and on SIGINT/SIGTERM. (SIGKILL cannot be caught: the
// file then stays in the OS temp folder, still readable only by this user.)
import { lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationError } from './errors.ts';
import { log, registerSecret, redact } from './cli.ts';
import { runRaw, type RunResult } from './exec.ts';

export const PUBLIC_REGISTRY = 'https://registry.npmjs.org/';

/** Is this the public npm registry (where the full target set is mandatory)? */
export function isPublicRegistry(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'registry.npmjs.org' || host === 'registry.npmjs.com';
}

/** Normalise a registry URL: must be http(s), always ends with "/". */
export function normaliseRegistry(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OperationError(`registry "${url}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new OperationError(`registry "${url}" must be an http(s) URL`);
  return u.toString().replace(/\/?$/, '/');
}

/** The token from NPM_TOKEN or NODE_AUTH_TOKEN, registered as a secret. */
export function tokenFromEnv(env = process.env): string | undefined {
  const t = env.NPM_TOKEN || env.NODE_AUTH_TOKEN || undefined;
  registerSecret(t);
  return t;
}

export interface Packument {
  name: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, { name: string; version: string; dist: { tarball: string; integrity?: string; shasum?: string } }>;
}

export interface PublishOptions {
  tag: string;
  dryRun?: boolean;
  provenance?: boolean;
}

/** Reads from a registry's HTTP API (no npm config, nothing written). */
export class RegistryReader {
  readonly registry: string;
  protected readonly token?: string;

  constructor(opts: { registry: string; token?: string }) {
    this.registry = normaliseRegistry(opts.registry);
    this.token = opts.token;
    registerSecret(opts.token);
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', 'cache-control': 'no-cache' };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  /** The registry's document for a package, or null if it has never been published. */
  async packument(pkg: string): Promise<Packument | null> {
    const url = new URL(pkg.replace('/', '%2f'), this.registry);
    let res: Response;
    try {
      res = await fetch(url, { headers: this.headers(), signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      throw new OperationError(`${pkg}: cannot read ${url} (${(e as Error).message})`);
    }
    if (res.status === 404) {
      await res.arrayBuffer();
      return null;
    }
    if (!res.ok) throw new OperationError(`${pkg}: reading ${url} answered HTTP ${res.status} ${res.statusText}`);
    const doc = (await res.json()) as Packument;
    doc['dist-tags'] ??= {};
    doc.versions ??= {};
    return doc;
  }

  /** Download a tarball (the registry's bytes, unchecked: callers check integrity). */
  async download(url: string): Promise<Buffer> {
    const h = this.headers();
    delete h.accept;
    // the token is for the registry: a tarball URL elsewhere (a CDN, a mirror) never gets it
    if (new URL(url).origin !== new URL(this.registry).origin) delete h.authorization;
    let res: Response;
    try {
      res = await fetch(url, { headers: h, signal: AbortSignal.timeout(120_000) });
    } catch (e) {
      throw new OperationError(`cannot download ${url} (${(e as Error).message})`);
    }
    if (!res.ok) throw new OperationError(`downloading ${url} answered HTTP ${res.status} ${res.statusText}`);
    return Buffer.from(await res.arrayBuffer());
  }
}

/**
 * A process killed with SIGKILL cannot remove its temporary npm config: the next
 * client removes every one of this user's whose owning process is gone, so a
 * token never stays. Other users' folders (a shared /tmp) are left alone, and a
 * folder that cannot be removed is a warning: tidying up never stops a publish.
 */
export function sweepStaleConfigs(dir = tmpdir()): void {
  const uid = process.getuid?.();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^xsnap-npm-(\d+)-/.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      let alive = true;
      try {
        process.kill(Number(m[1]), 0);
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
      if (!alive) rmSync(path, { recursive: true, force: true });
    } catch (e) {
      log.warn(`could not remove the stale npm config ${path}: ${(e as Error).message}`);
    }
  }
}

/** Writes through the npm CLI, with the token in a temporary npm config. */
export class NpmClient extends RegistryReader {
  /** the temporary folder holding the npm config; exists until dispose() */
  readonly configDir: string;
  readonly userconfig: string;
  private disposed = false;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.dispose();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  private readonly onExit = () => this.dispose();

  constructor(opts: { registry: string; token?: string }) {
    super(opts);
    sweepStaleConfigs();
    this.configDir = mkdtempSync(join(tmpdir(), `xsnap-npm-${process.pid}-`));
    this.userconfig = join(this.configDir, 'npmrc');
    const lines = [
      `registry=${this.registry}`,
      // we retry ourselves, after looking at what the registry holds: a publish
      // whose answer was lost may well have landed
      'fetch-retries=0',
      'audit=false',
      'fund=false',
      'update-notifier=false',
    ];
    if (opts.token) lines.push(`${this.registry.replace(/^https?:/, '')}:_authToken=${opts.token}`);
    writeFileSync(this.userconfig, lines.join('\n') + '\n', { mode: 0o600 });
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    process.once('exit', this.onExit);
  }

  /** Remove the temporary config (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    rmSync(this.configDir, { recursive: true, force: true });
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('exit', this.onExit);
  }

  get hasToken(): boolean {
    return Boolean(this.token);
  }

  /** Run the npm CLI against this registry with the temporary config. */
  async npm(args: string[], what: string): Promise<RunResult> {
    if (this.disposed) throw new Error('npm client used after dispose()');
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' };
    // never hand the token over twice, nor let an outer `npm run` redirect us
    for (const k of Object.keys(env)) if (/^npm_config_(registry|userconfig|_auth)/i.test(k)) delete env[k];
    const r = await runRaw(['npm', ...args, '--registry', this.registry, '--userconfig', this.userconfig], { cwd: this.configDir, env, what });
    return { code: r.code, stdout: redact(r.stdout), stderr: redact(r.stderr) };
  }

  /** `npm whoami`: the user the token belongs to; throws naming the registry if the token does not work. */
  async whoami(): Promise<string> {
    const r = await this.npm(['whoami'], 'npm whoami');
    if (r.code !== 0) {
      throw new OperationError(`the token does not work on ${this.registry} (npm whoami exit ${r.code}): ${lastLines(r.stderr)}\n    next: check NPM_TOKEN / NODE_AUTH_TOKEN is a valid automation token for this registry`);
    }
    return r.stdout.trim();
  }

  /** `npm publish <tarball> --tag <tag>`; resolves with the CLI's result (the caller decides what a failure means). */
  publish(tarball: string, opts: PublishOptions): Promise<RunResult> {
    const args = ['publish', tarball, '--tag', opts.tag, '--access', 'public'];
    if (opts.dryRun) args.push('--dry-run');
    if (opts.provenance) args.push('--provenance');
    return this.npm(args, `npm publish ${tarball}`);
  }

  async distTagAdd(pkg: string, version: string, tag: string): Promise<void> {
    const r = await this.npm(['dist-tag', 'add', `${pkg}@${version}`, tag], 'npm dist-tag add');
    if (r.code !== 0) throw new OperationError(`${pkg}: could not point dist-tag "${tag}" at ${version} (npm exit ${r.code}): ${lastLines(r.stderr)}`);
  }

  async distTagRm(pkg: string, tag: string): Promise<void> {
    const r = await this.npm(['dist-tag', 'rm', pkg, tag], 'npm dist-tag rm');
    if (r.code !== 0) throw new OperationError(`${pkg}: could not remove dist-tag "${tag}" (npm exit ${r.code}): ${lastLines(r.stderr)}`);
  }
}

/** Create a client, run fn, and always remove the temporary config. */
export async function withNpmClient<T>(opts: { registry: string; token?: string }, fn: (c: NpmClient) => Promise<T>): Promise<T> {
  const client = new NpmClient(opts);
  try {
    return await fn(client);
  } finally {
    client.dispose();
  }
}

export function lastLines(text: string, n = 6): string {
  const lines = text.split('\n').filter((l) => l.trim() && !/^npm (notice|warn)/.test(l));
  return lines.slice(-n).join('\n    ') || '(no output)';
}
