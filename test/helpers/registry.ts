// A real registry for the publish tests: the embedded Verdaccio on a loopback
// port with its storage in a temp folder, a fault proxy in front of it, and
// the release set (real binaries from the shared build, staged with
// stage-packages.ts) that publish-all pushes to it.
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { basename, join } from 'node:path';
import { startLocalRegistry, type LocalRegistry } from '../../scripts/lib/publish/local-registry.ts';
import { NpmClient, RegistryReader, type Packument } from '../../scripts/lib/core/npm-client.ts';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import { idOf } from '../../scripts/lib/core/hash.ts';
import { treeDigest } from '../../scripts/lib/build/sources.ts';
import { readPin } from '../../scripts/lib/core/pin.ts';
import { getTarget } from '../../scripts/lib/core/targets.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { runScript, spawnScript, type ScriptResult } from '../../scripts/lib/core/run-script.ts';
import { LINUX_TARGETS } from './shared-build.ts';
import { stagedCopy } from './staged.ts';

export const VERSION = readPin(join(REPO_ROOT, 'native', 'pin.json')).version;
export const PACKAGES = LINUX_TARGETS.map((t) => getTarget(t).packageName);

export interface TestRegistry {
  /** Verdaccio itself */
  direct: string;
  /** its storage folder */
  dir: string;
  /** the fault proxy in front of it: what publish-all is pointed at */
  url: string;
  /** the maintainer's token (every write but a stage publish also needs otp()) */
  token: string;
  proxy: FaultProxy;
  reader: RegistryReader;
  /** npm's rules (registry-rules.mjs): the CI identity's OIDC variables, the maintainer's code */
  rules: LocalRegistry['rules'];
  stop(): Promise<void>;
}

/** A fresh registry: Verdaccio 9 on Node 24 with staged publishing and npm's rules. */
export async function startTestRegistry(opts: { securityKey?: boolean } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'xsnap-test-registry-'));
  const reg: LocalRegistry = await startLocalRegistry({ dir, securityKey: opts.securityKey });
  const proxy = await startFaultProxy(reg.url);
  return {
    direct: reg.url,
    dir,
    url: proxy.url,
    token: reg.token,
    proxy,
    reader: new RegistryReader({ registry: reg.url }),
    rules: reg.rules,
    async stop() {
      await proxy.close();
      await reg.stop();
      // looking into a flaky run: XSNAP_TEST_REGISTRY_LOGS=<dir> keeps every test registry's log
      const keep = process.env.XSNAP_TEST_REGISTRY_LOGS;
      if (keep) {
        mkdirSync(keep, { recursive: true });
        cpSync(join(dir, 'verdaccio.log'), join(keep, `${basename(dir)}.log`));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- the release set

/**
 * A private copy of the linux release set at the pinned version (real
 * binaries, staged and manifested once per run). A copy, because publishing
 * writes its record into the dist: two test files sharing one folder would
 * see each other's records (a dry run would seem to have written one).
 * With `dir` (a test's own folder), the copy is made there, rather than in a
 * temporary folder to be copied again.
 */
const copies: string[] = [];
export async function releaseDist(dir?: string): Promise<string> {
  if (dir) return stagedCopy(dir);
  if (copies.length === 0)
    process.once('exit', () => {
      for (const d of copies) rmSync(d, { recursive: true, force: true });
    });
  const copy = await stagedCopy();
  copies.push(copy);
  return copy;
}

/** Where packed variants are kept between runs, by what they were packed from (variantTarball). */
const VARIANTS = join(REPO_ROOT, '.cache', 'test-variants');

/** The version of the npm that packs: its output, so the cache key, depends on it. */
let npmVersion: string | undefined;
const npmVersionOf = () => (npmVersion ??= execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim());

/**
 * An npm tarball of `target`'s staged package with its package.json changed:
 * a seed version (an earlier release of the package, real content) or the
 * same version with other bytes (`extraFile`). `npm pack` is deterministic, and
 * the tests ask for the same few variants dozens of times (about 0.8 s of CPU
 * each): each is packed once, kept by what it is packed from, and handed out
 * as a private copy.
 */
export async function variantTarball(
  dist: string,
  target: string,
  change: { version?: string; extraFile?: string },
): Promise<string> {
  const from = await treeDigest(join(dist, 'packages', target));
  const kept = join(VARIANTS, idOf({ npm: npmVersionOf(), change, from }));
  if (!existsSync(kept)) await packVariant(dist, target, change, kept);
  const [file] = readdirSync(kept);
  const copy = join(mkdtempSync(join(tmpdir(), 'xsnap-variant-')), file);
  cpSync(join(kept, file), copy);
  return copy;
}

/** npm pack the variant into `dest` (a folder holding the tarball alone), atomically: test files run concurrently. */
async function packVariant(
  dist: string,
  target: string,
  change: { version?: string; extraFile?: string },
  dest: string,
): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'xsnap-variant-'));
  const dir = join(work, 'pkg');
  cpSync(join(dist, 'packages', target), dir, { recursive: true });
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (change.version) pj.version = change.version;
  if (change.extraFile) {
    writeFileSync(join(dir, 'bin', 'EXTRA'), change.extraFile);
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pj, null, 2) + '\n');
  const out = join(work, 'out');
  mkdirSync(out);
  await new Promise<void>((resolve, reject) => {
    const c = spawn('npm', ['pack', '--ignore-scripts', '--pack-destination', out], { cwd: dir, stdio: 'ignore' });
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`npm pack failed in ${dir}`))));
  });
  mkdirSync(VARIANTS, { recursive: true });
  try {
    renameSync(out, dest);
  } catch (e) {
    if (!existsSync(dest)) throw e; // another file packed it first: the same bytes
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Publish a tarball straight to the registry (test setup: seeds and conflicting versions), as the maintainer. */
export async function publishDirect(reg: TestRegistry, tarball: string, tag = 'latest'): Promise<void> {
  const client = new NpmClient({ registry: reg.direct, token: reg.token });
  try {
    const otp = reg.rules.otp();
    const r = await client.publish({ name: basename(tarball), data: readFileSync(tarball) }, { tag, otp });
    if (r.code !== 0) throw new Error(`seed publish of ${tarball} failed: ${r.stderr}`);
  } finally {
    client.dispose();
  }
}

/** Stage a tarball straight on the registry, as another publisher would (test setup); its stage id. */
export async function stageDirect(reg: TestRegistry, tarball: string, tag = 'latest'): Promise<string> {
  const client = new NpmClient({ registry: reg.direct, token: reg.token });
  try {
    const r = await client.stagePublish({ name: basename(tarball), data: readFileSync(tarball) }, { tag });
    if (r.code !== 0 || !r.id) throw new Error(`stage of ${tarball} failed: ${r.stderr}`);
    return r.id;
  } finally {
    client.dispose();
  }
}

/**
 * publish-all approve against the test registry, as a maintainer: their token
 * (`env`) and, unless `otp: false`, the current one-time code of the registry's authenticator.
 */
export function approveAll(
  reg: TestRegistry,
  dist: string,
  env: NodeJS.ProcessEnv,
  extra: string[] = [],
  opts: { targets?: string; otp?: false } = {},
): Promise<ScriptResult> {
  const otp = opts.otp === false ? [] : ['--otp', reg.rules.otp()];
  return runScript(
    'publish-all.ts',
    [
      'approve',
      ...otp,
      '--registry',
      reg.url,
      '--targets',
      opts.targets ?? LINUX_TARGETS.join(','),
      '--dist',
      dist,
      ...extra,
    ],
    { env },
  );
}

/** Seed every linux package with an earlier version, so `latest` exists before the release. */
export async function seed(reg: TestRegistry, dist: string, seedVersion = `${VERSION}-seed`): Promise<void> {
  // the packages are independent: publish them side by side
  await Promise.all(
    LINUX_TARGETS.map(async (t) => publishDirect(reg, await variantTarball(dist, t, { version: seedVersion }))),
  );
}

export async function packuments(reg: TestRegistry): Promise<Record<string, Packument | null>> {
  const out: Record<string, Packument | null> = {};
  for (const p of PACKAGES) out[p] = await reg.reader.packument(p);
  return out;
}

export const latestOf = async (reg: TestRegistry) =>
  Object.fromEntries(Object.entries(await packuments(reg)).map(([k, v]) => [k, v?.['dist-tags'].latest ?? null]));

/**
 * A private TMPDIR (where publish-all's npm configs are looked for) that shares
 * tsx's cache of compiled modules ($TMPDIR/tsx-<uid>) with this process: else
 * each test's first script compiles every module again (0.3 s of CPU).
 */
function privateTmp(tmp: string): void {
  mkdirSync(tmp, { recursive: true });
  const name = `tsx-${userInfo().uid}`;
  const shared = join(tmpdir(), name);
  mkdirSync(shared, { recursive: true });
  if (!existsSync(join(tmp, name))) symlinkSync(shared, join(tmp, name));
}

/** The environment publish-all runs with: the registry's token, a private TMPDIR to watch for left-over npm configs. */
export function publishEnv(reg: TestRegistry, tmp: string): NodeJS.ProcessEnv {
  privateTmp(tmp);
  return { NPM_TOKEN: reg.token, TMPDIR: tmp, XSNAP_RETRY_BASE_MS: '200', XSNAP_READBACK_ATTEMPTS: '3' };
}

/** The environment of the stage step in CI: no npm token, only GitHub's OIDC variables (the registry's stand-in). */
export function ciStageEnv(reg: TestRegistry, tmp: string): NodeJS.ProcessEnv {
  privateTmp(tmp);
  return { ...reg.rules.oidcEnv, TMPDIR: tmp, XSNAP_RETRY_BASE_MS: '200', XSNAP_READBACK_ATTEMPTS: '3' };
}

/** The variables that carry credentials: never given to verify-artifacts, which runs binaries. */
const CREDENTIALS = /^(NPM_TOKEN|NODE_AUTH_TOKEN|GITHUB_TOKEN|GH_TOKEN|ACTIONS_ID_TOKEN_REQUEST_TOKEN)$/;

/**
 * Run publish-all stage against the test registry (`extra` may add --dry-run,
 * --tag...). With `verify`, as CI does: verify-artifacts --record first (about
 * 12 s), without credentials, then publish-all, which compares with the record
 * (the result's stderr holds both); without it, --skip-verify (tests of what
 * comes after).
 */
export async function stageAll(
  reg: TestRegistry,
  dist: string,
  env: NodeJS.ProcessEnv,
  extra: string[] = [],
  opts: { verify?: boolean; targets?: string } = {},
): Promise<ScriptResult> {
  const targets = opts.targets ?? LINUX_TARGETS.join(',');
  let verifyStderr = '';
  if (opts.verify) {
    const clean = Object.fromEntries(Object.entries(env).filter(([k]) => !CREDENTIALS.test(k)));
    const v = await runScript('verify-artifacts.ts', ['--record', '--dist', dist, '--targets', targets], {
      env: clean,
    });
    verifyStderr = v.stderr;
  }
  const r = await runScript(
    'publish-all.ts',
    [
      'stage',
      '--registry',
      reg.url,
      '--targets',
      opts.targets ?? LINUX_TARGETS.join(','),
      '--dist',
      dist,
      ...(opts.verify ? [] : ['--skip-verify']),
      ...extra,
    ],
    { env },
  );
  return { ...r, stderr: verifyStderr + r.stderr };
}

/** Run publish-all stage and SIGKILL it as soon as its output matches `when`. */
export function stageAllKilledWhen(
  reg: TestRegistry,
  dist: string,
  env: NodeJS.ProcessEnv,
  when: RegExp,
): Promise<ScriptResult & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const args = [
      'stage',
      '--registry',
      reg.url,
      '--targets',
      LINUX_TARGETS.join(','),
      '--dist',
      dist,
      '--skip-verify',
    ];
    const child = spawnScript('publish-all.ts', args, { env: { NO_COLOR: '1', GITHUB_STEP_SUMMARY: '', ...env } });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (!killed && when.test(stderr)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 137, stdout, stderr, killed }));
  });
}

/** publish-all reject <id> against the test registry, as the maintainer (`otp`: their code, if any). */
export function rejectStage(reg: TestRegistry, id: string, env: NodeJS.ProcessEnv, otp?: string) {
  return runScript('publish-all.ts', ['reject', id, '--registry', reg.url, ...(otp ? ['--otp', otp] : [])], { env });
}

/** A whole release as CI and a maintainer make it: stage (trusted publishing), then approve (token and code). */
export async function releaseAll(
  reg: TestRegistry,
  dist: string,
  tmp: string,
  extra: string[] = [],
): Promise<{ staged: ScriptResult; approved: ScriptResult }> {
  const staged = await stageAll(reg, dist, ciStageEnv(reg, tmp), extra);
  if (staged.code !== 0) return { staged, approved: staged };
  return { staged, approved: await approveAll(reg, dist, publishEnv(reg, tmp)) };
}
