// The embedded npm registry (Verdaccio) behind `publish-all --registry local`
// and the tests: a real registry on a free loopback port, no uplinks (it never
// proxies the public registry), htpasswd auth, storage in a folder of our own.
//
// Verdaccio runs in a child process (this file, run with --serve) so its logger
// never writes into our stdout (tap's stream, or --json output) and so it can be
// left running (`detached`) for the install-back step of the README chain.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperationError } from './errors.ts';
import { REPO_ROOT } from './paths.ts';
import { registerSecret } from './cli.ts';
import { minimalEnv } from './exec.ts';

/** default home of the embedded registry: ignored by git */
export const LOCAL_REGISTRY_DIR = join(REPO_ROOT, '.registry');
const USER = 'xsnap-publisher';

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
      log: { type: 'stdout', format: 'pretty', level: 'error' },
      web: { enable: false },
    },
    null,
    2,
  );
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(new URL('-/ping', url), { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Create the publisher user, or log in as it: Verdaccio answers both with a
 * token. The password lives in <dir>/password (0600), inside the ignored folder.
 */
async function tokenFor(url: string, dir: string): Promise<string> {
  const pwFile = join(dir, 'password');
  if (!existsSync(pwFile)) writeFileSync(pwFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const password = readFileSync(pwFile, 'utf8').trim();
  registerSecret(password);
  // the first PUT creates the user; on a registry that has it already (storage
  // kept from an earlier run) Verdaccio logs in only a request that carries its
  // credentials, so the second PUT sends them
  const put = (headers: Record<string, string>) =>
    fetch(new URL(`-/user/org.couchdb.user:${USER}`, url), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ _id: `org.couchdb.user:${USER}`, name: USER, password, type: 'user', roles: [], date: new Date().toISOString() }),
    });
  let res = await put({});
  if (res.status === 409) {
    await res.arrayBuffer();
    res = await put({ authorization: `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}` });
  }
  const body = (await res.json().catch(() => ({}))) as { token?: string; error?: string };
  if (!res.ok || !body.token) {
    throw new OperationError(`local registry ${url}: could not create or log in user ${USER} (HTTP ${res.status}${body.error ? `: ${body.error}` : ''}); delete ${dir} to start afresh`);
  }
  registerSecret(body.token);
  return body.token;
}

/**
 * Start Verdaccio with storage in `dir` (default .registry/), or reuse the one a
 * previous detached start left running there. `detached` leaves it running after
 * this process exits (stop it with stopLocalRegistry(dir)).
 */
export async function startLocalRegistry(opts: { dir?: string; detached?: boolean; timeoutMs?: number } = {}): Promise<LocalRegistry> {
  const dir = opts.dir ?? LOCAL_REGISTRY_DIR;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stateFile = join(dir, 'server.json');

  const reuse = readState(stateFile);
  if (reuse && alive(reuse.pid) && (await ping(reuse.url))) {
    const token = await tokenFor(reuse.url, dir);
    return handle(reuse.url, token, dir, reuse.pid, false, async (o) => {
      if (o?.force) await stopLocalRegistry(dir);
    });
  }

  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, configYaml(dir));
  const logFile = join(dir, 'verdaccio.log');
  const logFd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', configFile], {
    cwd: REPO_ROOT, // where --import tsx resolves
    detached: Boolean(opts.detached),
    stdio: ['ignore', 'pipe', logFd],
    // the registry needs none of our credentials
    env: minimalEnv({ NO_COLOR: '1' }),
  });
  closeSync(logFd);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new OperationError(`local registry did not start within ${(opts.timeoutMs ?? 30000) / 1000} s; see ${logFile}`)), opts.timeoutMs ?? 30000);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new OperationError(`local registry exited (code ${code}) before listening; see ${logFile}`));
    });
  });
  child.removeAllListeners('exit');
  const pid = child.pid!;
  if (opts.detached) {
    writeFileSync(stateFile, JSON.stringify({ pid, url } satisfies StateFile) + '\n');
    child.stdout!.destroy();
    child.unref();
  }
  const token = await tokenFor(url, dir);
  return handle(url, token, dir, pid, true, async (o) => {
    if (opts.detached && !o?.force) return;
    await killAndWait(child);
    if (opts.detached) rmSync(stateFile, { force: true });
  });
}

/** The command line of a running process (Linux /proc), or null. */
function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
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
  const cmd = commandLine(state.pid);
  const configFile = join(dir, 'config.yaml');
  if (!cmd || !cmd.includes('--serve') || !cmd.includes(configFile) || !(await ping(state.url))) return 'not-ours';
  rmSync(stateFile, { force: true });
  process.kill(state.pid, 'SIGTERM');
  for (let i = 0; i < 50 && alive(state.pid); i++) await new Promise((r) => setTimeout(r, 100));
  return 'stopped';
}

function readState(file: string): StateFile | undefined {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
    return typeof s.pid === 'number' && typeof s.url === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

function handle(url: string, token: string, dir: string, pid: number, started: boolean, stop: LocalRegistry['stop']): LocalRegistry {
  return { url, token, user: USER, dir, pid, started, stop };
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

// ---------------------------------------------------------------- the server process

async function serve(configFile: string): Promise<void> {
  const { runServer } = (await import('verdaccio')) as unknown as { runServer: (c: string) => Promise<import('node:http').Server> };
  const server = await runServer(configFile);
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    process.stdout.write(`listening http://127.0.0.1:${addr.port}/\n`);
  });
  const quit = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--serve') {
  await serve(process.argv[3]);
}
