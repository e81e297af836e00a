// Talking to an npm registry: writes go through the real npm CLI (publish,
// dist-tag, whoami), reads go straight to the registry's HTTP API (packuments,
// tarballs) so we see exactly what the registry holds.
//
// The token lives only in a temporary npm config (a 0700 folder, a 0600 file)
// passed with --userconfig; it is removed when the client is disposed, on
// success, on failure, and on SIGINT/SIGTERM. (SIGKILL cannot be caught: the
// file then stays in the OS temp folder, still readable only by this user.)
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { nextStep, OperationError, UsageError } from './errors.ts';
import { log, registerSecret, redact } from './cli.ts';
import { minimalEnv, runRaw, type RunResult } from './exec.ts';
import { processAlive } from './process.ts';
import { retrying } from './retry.ts';
import { httpRequest, jsonOf, type HttpAnswer } from './net.ts';

export const PUBLIC_REGISTRY = 'https://registry.npmjs.org/';

const PUBLIC_HOSTS = new Set(['registry.npmjs.org', 'registry.npmjs.com']);

/** Is this the public npm registry (where the full target set is mandatory)? A trailing dot (FQDN form) counts. */
export function isPublicRegistry(url: string): boolean {
  const host = new URL(url).hostname.toLowerCase().replace(/\.+$/, '');
  return PUBLIC_HOSTS.has(host);
}

/**
 * One name per registry, whatever the spelling: the public registry's aliases are one; elsewhere the
 * normalised URL with its host in lower case and without a trailing dot.
 */
export function registryIdentity(url: string): string {
  if (isPublicRegistry(url)) return 'npm:public';
  const u = new URL(url);
  u.hostname = u.hostname.toLowerCase().replace(/\.+$/, '');
  return u.toString().replace(/\/?$/, '/');
}

/** A registry URL as it may be shown: any user:password@ part replaced, whatever else is wrong with it. */
export function displayRegistry(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}

/**
 * Normalise a registry URL: http(s), no credentials in it, always ends with "/".
 * The public registry only over https (http would send the token in clear).
 * Anything else is a usage error (exit 2) that never echoes a password.
 */
export function normaliseRegistry(url: string): string {
  if (url === '') throw new UsageError('the registry URL is empty');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`registry "${displayRegistry(url)}" is not a URL`);
  }
  if (u.username || u.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)) {
    throw new UsageError(
      'the registry URL carries credentials (user:password@): refused, and not echoed; give the token in NPM_TOKEN / NODE_AUTH_TOKEN instead',
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`registry "${url}" must be an http(s) URL`);
  if (isPublicRegistry(u.toString()) && u.protocol !== 'https:')
    throw new UsageError(
      `registry "${url}": the public npm registry only over https (http would send the token in clear)`,
    );
  return u.toString().replace(/\/?$/, '/');
}

/**
 * A maintainer's `npm login` session for `registry`: the `//host/path/:_authToken` line
 * npm login writes to the user's npm config ($NPM_CONFIG_USERCONFIG, else ~/.npmrc);
 * registered as a secret. Read, never handed to npm as a config file: our npm runs
 * still read no user settings (NpmClient).
 */
export function tokenFromNpmLogin(registry: string, env = process.env): string | undefined {
  const file = env.NPM_CONFIG_USERCONFIG || env.npm_config_userconfig || join(env.HOME || homedir(), '.npmrc');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const key = normaliseRegistry(registry).replace(/^https?:/, '') + ':_authToken';
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([^=;#\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && m[1] === key && m[2] && !m[2].includes('${')) {
      registerSecret(m[2]);
      return m[2];
    }
  }
  return undefined;
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
  versions: Record<
    string,
    {
      name: string;
      version: string;
      dist: { tarball: string; integrity?: string; shasum?: string };
      deprecated?: string;
    }
  >;
  /** publish time per version (ISO), as registries report it */
  time?: Record<string, string>;
}

export interface PublishOptions {
  tag: string;
  dryRun?: boolean;
  provenance?: boolean;
  /** a one-time code, for a registry that asks one for this write */
  otp?: string;
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
    let res: HttpAnswer;
    try {
      res = await httpRequest(url, { headers: this.headers(), timeoutMs: 60_000 });
    } catch (e) {
      throw new OperationError(`${pkg}: cannot read ${url} (${(e as Error).message})`);
    }
    if (res.status === 404) return null;
    if (!res.ok) throw new OperationError(`${pkg}: reading ${url} answered HTTP ${res.status} ${res.statusText}`);
    const doc = jsonOf(res) as Packument;
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
    let res: HttpAnswer;
    try {
      res = await httpRequest(url, { headers: h, timeoutMs: 120_000 });
    } catch (e) {
      throw new OperationError(`cannot download ${url} (${(e as Error).message})`);
    }
    if (!res.ok) throw new OperationError(`downloading ${url} answered HTTP ${res.status} ${res.statusText}`);
    return res.body!;
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
      if (!processAlive(Number(m[1]))) rmSync(path, { recursive: true, force: true });
    } catch (e) {
      log.warn(`could not remove the stale npm config ${path}: ${(e as Error).message}`);
    }
  }
}

/** npm tarball bytes held in memory: what was verified is what is published. */
export interface TarballBytes {
  /** file name, e.g. agoric-xsnap-linux-x64-0.15.0.tgz */
  name: string;
  data: Buffer;
}

/**
 * Writes through the npm CLI, with the token in a temporary npm config.
 *
 * npm never reads the user's or the machine's settings here: --userconfig is
 * our temporary file, --globalconfig an empty one, the environment is
 * minimalEnv() (no npm_config_* and no tokens), and the package's scope is
 * pinned to the registry in the config, so neither `@agoric:registry` nor a
 * `//host/:_authToken` from elsewhere can send a publish to another registry or
 * swap its token.
 */
export class NpmClient extends RegistryReader {
  /** the temporary folder holding the npm config; exists until dispose() */
  readonly configDir: string;
  readonly userconfig: string;
  readonly globalconfig: string;
  private disposed = false;
  private copies = 0;
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
    this.globalconfig = join(this.configDir, 'global-npmrc');
    const lines = [
      `registry=${this.registry}`,
      // our packages' scope goes to this registry, whatever else says otherwise
      `@agoric:registry=${this.registry}`,
      // we retry ourselves, after looking at what the registry holds: a publish
      // whose answer was lost may well have landed
      'fetch-retries=0',
      'audit=false',
      'fund=false',
      'update-notifier=false',
    ];
    if (opts.token) lines.push(`${this.registry.replace(/^https?:/, '')}:_authToken=${opts.token}`);
    writeFileSync(this.userconfig, lines.join('\n') + '\n', { mode: 0o600 });
    writeFileSync(this.globalconfig, '', { mode: 0o600 });
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

  /** Run the npm CLI against this registry with the temporary config and a minimal environment. */
  async npm(
    args: string[],
    what: string,
    opts: { extraEnv?: Record<string, string | undefined>; cwd?: string } = {},
  ): Promise<RunResult> {
    if (this.disposed) throw new Error('npm client used after dispose()');
    const env = minimalEnv({ NO_COLOR: '1', ...opts.extraEnv });
    const argv = [
      'npm',
      ...args,
      '--registry',
      this.registry,
      '--userconfig',
      this.userconfig,
      '--globalconfig',
      this.globalconfig,
    ];
    const r = await runRaw(argv, { cwd: opts.cwd ?? this.configDir, env, what });
    return { code: r.code, stdout: redact(r.stdout), stderr: redact(r.stderr) };
  }

  /**
   * A private copy of verified bytes (0600, in our 0700 folder): npm is given
   * this file, never the path in dist/ that anyone could swap after the check.
   */
  privateCopy(t: TarballBytes): string {
    if (this.disposed) throw new Error('npm client used after dispose()');
    const dir = join(this.configDir, `tarball-${++this.copies}`);
    mkdirSync(dir, { mode: 0o700 });
    const file = join(dir, basename(t.name));
    writeFileSync(file, t.data, { mode: 0o600 });
    return file;
  }

  /** `npm whoami`: the user the token belongs to; throws naming the registry if the token does not work. */
  async whoami(): Promise<string> {
    const r = await this.npm(['whoami'], 'npm whoami');
    if (r.code !== 0) {
      throw new OperationError(
        `the token does ` +
          `not work on ${this.registry} (npm whoami exit ${r.code}): ${lastLines(r.stderr)}${nextStep(
            'check ' + 'NPM_TOKEN / NODE_AUTH_TOKEN is a valid automation token for this registry',
          )}`,
      );
    }
    return r.stdout.trim();
  }

  /**
   * `npm publish <private copy> --tag <tag>`; resolves with the CLI's result (the caller decides what a failure means).
   */
  publish(tarball: TarballBytes, opts: PublishOptions): Promise<RunResult> {
    const args = ['publish', this.privateCopy(tarball), '--tag', opts.tag, '--access', 'public'];
    if (opts.dryRun) args.push('--dry-run');
    if (opts.otp) args.push('--otp', opts.otp);
    if (opts.provenance) args.push('--provenance');
    // provenance is signed with the job's OIDC identity: npm needs the request variables for it
    return this.npm(args, `npm publish ${tarball.name}`, { extraEnv: opts.provenance ? oidcEnv() : {} });
  }

  /**
   * `npm stage publish <private copy> --tag <tag>`: the version stays invisible
   * until approved. `oidcEnv` (trusted publishing: the GitHub Actions OIDC
   * variables, or the local registry's stand-in of them) and `provenance` hand
   * them to this one command, and to nothing else.
   */
  async stagePublish(
    tarball: TarballBytes,
    opts: PublishOptions & { oidcEnv?: Record<string, string> },
  ): Promise<RunResult & { id?: string }> {
    const args = ['stage', 'publish', this.privateCopy(tarball), '--tag', opts.tag, '--access', 'public'];
    if (opts.dryRun) args.push('--dry-run');
    if (opts.provenance) args.push('--provenance');
    const extraEnv = opts.oidcEnv ?? (opts.provenance ? oidcEnv() : {});
    const r = await this.npm(args, `npm stage publish ${tarball.name}`, { extraEnv });
    const id = /staged with id ([0-9a-z-]+)/i.exec(r.stdout + r.stderr)?.[1];
    return { ...r, id };
  }

  /**
   * A read through the npm CLI, retried on network errors: our config turns
   * npm's own retries off (a publish is retried only after looking at what
   * landed), but a read can simply be asked again.
   */
  private async npmRead(args: string[], what: string, opts: { cwd?: string } = {}): Promise<RunResult> {
    return retrying(() => this.npm(args, what, opts), {
      attempts: 5,
      baseMs: 500,
      retryable: (r) =>
        r.code !== 0 && /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|socket hang up|network/i.test(r.stderr),
      onRetry: (r, _wait, next) => log.info(`${what}: ${lastLines(r.stderr, 1)}; asking again (${next}/5)`),
    });
  }

  /** `npm stage list <pkg> --json`: what is staged for a package (any version). */
  async stageList(pkg: string): Promise<StagedVersion[]> {
    const r = await this.npmRead(['stage', 'list', pkg, '--json'], `npm stage list ${pkg}`);
    if (r.code !== 0)
      throw new OperationError(
        `${pkg}: could not list its staged versions on ${this.registry} (npm exit ${r.code}): ${lastLines(r.stderr)}`,
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.stdout.trim() || '[]');
    } catch {
      throw new OperationError(`${pkg}: npm stage list --json printed no JSON: ${lastLines(r.stdout)}`);
    }
    if (!Array.isArray(parsed))
      throw new OperationError(`${pkg}: npm stage list --json printed ${JSON.stringify(parsed).slice(0, 200)}`);
    return (parsed as StagedVersion[]).filter((e) => e.packageName === pkg);
  }

  /** `npm stage download <id>`: the staged tarball's exact bytes, into a private folder and read back. */
  async stageDownload(id: string): Promise<Buffer> {
    checkStageId(id);
    const dir = join(this.configDir, `download-${++this.copies}`);
    mkdirSync(dir, { mode: 0o700 });
    const r = await this.npmRead(['stage', 'download', id], `npm stage download ${id}`, { cwd: dir });
    if (r.code !== 0)
      throw new OperationError(`staged ${id}: download failed (npm exit ${r.code}): ${lastLines(r.stderr)}`);
    const files = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
    if (files.length !== 1)
      throw new OperationError(`staged ${id}: npm stage download left ${files.length} tarballs in ${dir}`);
    const data = readFileSync(join(dir, files[0]));
    rmSync(dir, { recursive: true, force: true });
    return data;
  }

  /**
   * `npm stage approve <id> [--otp]`: resolves with the CLI's result (the caller
   * decides). npm prompts for a code only on a terminal: here an EOTP is an exit.
   */
  stageApprove(id: string, otp?: string): Promise<RunResult> {
    checkStageId(id);
    return this.npm(['stage', 'approve', id, ...(otp ? ['--otp', otp] : [])], `npm stage approve ${id}`);
  }

  async stageReject(id: string, otp?: string): Promise<void> {
    checkStageId(id);
    const r = await this.npm(['stage', 'reject', id, ...(otp ? ['--otp', otp] : [])], `npm stage reject ${id}`);
    if (r.code !== 0)
      throw new OperationError(`could not reject staged ${id} (npm exit ${r.code}): ${lastLines(r.stderr)}`);
  }

  async distTagAdd(pkg: string, version: string, tag: string): Promise<void> {
    const r = await this.npm(['dist-tag', 'add', `${pkg}@${version}`, tag], 'npm dist-tag add');
    if (r.code !== 0)
      throw new OperationError(
        `${pkg}: could not point dist-tag "${tag}" at ${version} (npm exit ${r.code}): ${lastLines(r.stderr)}`,
      );
  }

  async distTagRm(pkg: string, tag: string): Promise<void> {
    const r = await this.npm(['dist-tag', 'rm', pkg, tag], 'npm dist-tag rm');
    if (r.code !== 0)
      throw new OperationError(
        `${pkg}: could not remove dist-tag "${tag}" (npm exit ${r.code}): ${lastLines(r.stderr)}`,
      );
  }
}

/** One staged version, as `npm stage list --json` reports it. */
export interface StagedVersion {
  id: string;
  packageName: string;
  version: string;
  /** the dist-tag approval will apply */
  tag: string;
  createdAt?: string;
  actor?: string;
  shasum?: string;
}

/** A stage id as npm prints it; anything else never reaches a command line. */
export function checkStageId(id: string): void {
  if (!/^[0-9a-zA-Z][0-9a-zA-Z-]{3,99}$/.test(id))
    throw new UsageError(`"${id}" is not a stage id (see npm stage list)`);
}

/**
 * The variables npm's trusted publishing (OIDC) and provenance read in GitHub
 * Actions, for the one command that publishes; never GITHUB_TOKEN.
 */
export function oidcEnv(env = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || k === 'GITHUB_TOKEN') continue;
    if (/^(ACTIONS_ID_TOKEN_REQUEST_(URL|TOKEN)|GITHUB_[A-Z_]+|RUNNER_[A-Z_]+|CI)$/.test(k)) out[k] = v;
  }
  return out;
}

/** Create a client, run fn, and always remove the temporary config. */
export async function withNpmClient<T>(
  opts: { registry: string; token?: string },
  fn: (c: NpmClient) => Promise<T>,
): Promise<T> {
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
