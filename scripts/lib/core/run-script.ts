// Running one of the project's scripts the way a user does: node with the tsx
// loader, from the repository root. The release chain, the tests and the
// benchmarks all start scripts through here, so they all run what CI runs.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { OperationError } from './errors.ts';
import { REPO_ROOT } from './paths.ts';

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ScriptOptions {
  /** merged over this process's environment */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * 'capture' (the default): the output is kept for the caller, without colour
   * and without a step summary of its own; 'show': it goes to this process's
   * stdout and stderr as it comes, and the result's stdout and stderr are empty.
   */
  output?: 'capture' | 'show';
  /** capture only: SIGKILL after this long (default 600 s) */
  timeoutMs?: number;
}

/** `node --import tsx scripts/<script> <args>` */
export function scriptCommand(script: string, args: string[]): string[] {
  return [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'scripts', script), ...args];
}

export interface SpawnOptions {
  /** merged over this process's environment */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** default: no stdin, stdout and stderr piped */
  stdio?: StdioOptions;
}

/** Start a script and hand back its process (for a caller that watches or kills it). */
export function spawnScript(script: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const [node, ...argv] = scriptCommand(script, args);
  const env = { ...process.env, ...opts.env };
  return spawn(node, argv, { cwd: opts.cwd ?? REPO_ROOT, env, stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'] });
}

/** Run a script to its end; resolves with its exit code and output, whatever the code. */
export function runScript(script: string, args: string[], opts: ScriptOptions = {}): Promise<ScriptResult> {
  const show = opts.output === 'show';
  return new Promise((resolve, reject) => {
    const env = show ? opts.env : { NO_COLOR: '1', GITHUB_STEP_SUMMARY: '', ...opts.env };
    const stdio: StdioOptions | undefined = show ? ['ignore', 'inherit', 'inherit'] : undefined;
    const child = spawnScript(script, args, { env, cwd: opts.cwd, stdio });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = show ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** runScript, failing with an OperationError that names the script (and ends with its output) on a non-zero exit. */
export async function runScriptOk(script: string, args: string[], opts: ScriptOptions = {}): Promise<ScriptResult> {
  const r = await runScript(script, args, opts);
  if (r.code !== 0) {
    const why = opts.output === 'show' ? '; see its output above' : `:\n${r.stderr}`;
    throw new OperationError(`${script} ${args.join(' ')} failed (exit ${r.code})${why}`);
  }
  return r;
}

export type BuildOptions = ScriptOptions & { math?: 'system' | 'portable' };

/**
 * Build `targets` into `dist` with build-target.ts, one after the other. The
 * build cache makes this a copy when nothing changed since the last build.
 */
export async function buildTargets(dist: string, targets: readonly string[], opts: BuildOptions = {}): Promise<void> {
  const math = opts.math ? ['--math', opts.math] : [];
  for (const t of targets) await runScriptOk('build-target.ts', ['--target', t, '--dist', dist, ...math], opts);
}

/** Stage the packages of `targets` built in `dist`, then write the manifest and bundle: a release set. */
export async function stageReleaseSet(dist: string, targets: readonly string[], opts: ScriptOptions = {}) {
  const list = targets.join(',');
  await runScriptOk('stage-packages.ts', ['--dist', dist, '--targets', list], opts);
  await runScriptOk('generate-manifest.ts', ['--dist', dist, '--targets', list], opts);
}
