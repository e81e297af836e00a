// Running other programs (make, chroot, npm, the worker) quietly, with their
// output kept for error messages and optionally streamed by line.
//
// The argv is spawned directly, never through a shell: no quoting to get wrong,
// and no shell start-up. (Through zx, each command was `bash -c`, and bash, seeing
// a socket for stdin, read the user's ~/.bashrc first: about 0.3 s a command on a
// machine with pyenv in it, 7 commands in a no-op build. zx's import alone took
// 0.18 s.)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { OperationError } from './errors.ts';
import { redact } from './cli.ts';

/**
 * The variables a child process may inherit when nothing else is asked for:
 * where programs and the home folder are, locale and time zone, temporary
 * folders, terminal and colour, and how to reach the network (proxies, CA
 * certificates). Nothing else: no NPM_TOKEN, NODE_AUTH_TOKEN, GITHUB_TOKEN,
 * ACTIONS_ID_TOKEN_REQUEST_* (which could mint an OIDC token), no npm_config_*
 * (which could send npm elsewhere), nothing a program being checked could leak.
 */
const INHERITED = new RegExp(
  '^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|TMP|TEMP|TERM|NO_COLOR|FORCE_COLOR|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR)$',
);

/** Variables that carry a write credential (npm, GitHub, the means to mint a GitHub OIDC token). */
const CREDENTIAL =
  /^(NPM_TOKEN|NODE_AUTH_TOKEN|GITHUB_TOKEN|GH_TOKEN|ACTIONS_ID_TOKEN_REQUEST_TOKEN|npm_config_.*_authtoken)$/i;

/**
 * The credentials this process was started with, by name. On Linux any child
 * can read them from /proc/<ancestor>/environ, whatever environment it is
 * given, so a process holding one must execute nothing it checks. Read from
 * /proc/self/environ (what a child would see), else from process.env.
 */
export function heldCredentials(environFile = '/proc/self/environ'): string[] {
  let entries: Array<[string, string]>;
  try {
    entries = readFileSync(environFile, 'latin1')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
  } catch {
    entries = Object.entries(process.env).map(([k, v]) => [k, v ?? '']);
  }
  return [...new Set(entries.filter(([k, v]) => v && CREDENTIAL.test(k)).map(([k]) => k))].sort();
}

/** A minimal, explicit environment: the INHERITED variables of `from`, plus `extra`. */
export function minimalEnv(
  extra: Record<string, string | undefined> = {},
  from: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(from)) if (v !== undefined && INHERITED.test(k)) env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface RunOptions {
  cwd?: string;
  /** the full environment of the child (not merged), when given; else minimalEnv() */
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** called for each line the child writes (stdout and stderr) */
  onLine?: (line: string) => void;
  /** what the command is, for error messages */
  what?: string;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run argv; resolve with its output, whatever its exit code. A program that cannot be started answers as a shell
 * would (127 not found, 126 not executable), with the reason on stderr; a timeout kills it (SIGTERM, then SIGKILL).
 */
export function runRaw(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? minimalEnv(),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const rest = ['', ''];
    const collect = (chunks: Buffer[], i: number) => (chunk: Buffer) => {
      chunks.push(chunk);
      if (!opts.onLine) return;
      const lines = (rest[i] + chunk.toString()).split('\n');
      rest[i] = lines.pop() ?? '';
      lines.forEach(opts.onLine);
    };
    child.stdout!.on('data', collect(out, 0));
    child.stderr!.on('data', collect(err, 1));
    let timer: NodeJS.Timeout | undefined;
    let killer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (opts.timeoutMs)
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      }, opts.timeoutMs);
    let spawnError: NodeJS.ErrnoException | undefined;
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // a child that exits without reading its input
      child.stdin!.end(opts.input);
    }
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(killer);
      if (opts.onLine) rest.filter(Boolean).forEach(opts.onLine); // a last line without a newline
      const stdout = Buffer.concat(out).toString();
      let stderr = Buffer.concat(err).toString();
      if (spawnError) {
        const notFound = spawnError.code === 'ENOENT';
        stderr += `${argv[0]}: ${notFound ? 'command not found' : spawnError.message}\n`;
        resolve({ code: notFound ? 127 : 126, stdout, stderr });
        return;
      }
      if (timedOut) stderr += `${argv[0]}: killed after ${opts.timeoutMs! / 1000} s (timeout)\n`;
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Run argv; throw an OperationError naming the command and the tail of its output if it fails. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await runRaw(argv, opts);
  if (r.code !== 0) {
    const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-15).join('\n');
    throw new OperationError(redact(`${opts.what ?? argv[0]} failed (exit ${r.code}): ${argv.join(' ')}\n${tail}`));
  }
  return r;
}

/** The first line a command prints, or null if it cannot run. */
export async function firstLine(argv: string[]): Promise<string | null> {
  try {
    const r = await runRaw(argv);
    return r.code === 0 ? (r.stdout || r.stderr).split('\n')[0].trim() : null;
  } catch {
    return null;
  }
}

/** Absolute path of a program on PATH, or null. */
export async function which(program: string): Promise<string | null> {
  const r = await runRaw(['sh', '-c', 'command -v "$1"', 'sh', program]);
  return r.code === 0 ? r.stdout.trim() : null;
}
