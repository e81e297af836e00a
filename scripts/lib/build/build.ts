// Build one target's xsnap-worker (release and/or debug) with the upstream
// makefiles, reproducibly, then check it. Plan first (a plain object), then act.
//
// Toolchains (the target table says which a target may use; the first is its default):
//   pinned  linux targets, inside the Debian bullseye build root (releasable)
//   zig     darwin targets, cross-compiled on Linux x64 by the pinned zig (zig.ts),
//           beside the build root: a static binary needs no chroot (releasable)
//   host    this machine's compiler: quick local builds, never releasable (on
//           macOS, Apple clang: verify.yml compares its binaries with zig's)
import { existsSync } from 'node:fs';
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { cpus, hostname, platform, arch, release, tmpdir } from 'node:os';
import { basename, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, color } from '../core/cli.ts';
import { CheckFailed, OperationError, UsageError, type Failure } from '../core/errors.ts';
import { run, firstLine } from '../core/exec.ts';
import { canonicalJson, idOf, sha256File } from '../core/hash.ts';
import { cacheDir } from '../core/paths.ts';
import { buildInfoPath, targetDir, BINARY_NAME } from '../core/layout.ts';
import { buildRootWorkDir, compilerVersion, ensureBuildRoot, enterArgv, type BuildRoot } from './buildroot.ts';
import type { SourceIdentity } from './sources.ts';
import { checkBinary, hostRunner, type BinaryFacts } from './binary-checks.ts';
import { canBuildOn, glibcFloorOf, macosMinOf, TARGETS } from '../core/targets.ts';
import type { Goal, Target, ToolchainKind } from '../core/targets.ts';
import { MATH_PROFILES, type MathProfile, type Pin } from '../core/pin.ts';
import { mathInfo, prepareLibmBuild, type MathInfo } from './portable-libm.ts';
import { checkKey, isAsChecked, recordChecked, statKeys } from './checked-output.ts';
import type { ToolchainInfo } from '../core/manifest.ts';
export type { ToolchainInfo };

/** The code whose checks a record of dist/<target> vouches for (checked-output.ts): a change to it re-checks. */
const CHECKING_CODE = ['binary-checks.ts', 'elf.ts', 'macho.ts', 'build.ts'].map((f) =>
  fileURLToPath(new URL(f, import.meta.url)),
);

/** Bump when the way we build changes, so cached builds are not reused. */
export const BUILDER_REVISION = 3;
/** Fixed so nothing time-dependent can enter the binaries. */
export const SOURCE_DATE_EPOCH = '0';

export type { ToolchainKind };

export interface BuildPlan {
  target: Target['name'];
  version: string;
  goals: Goal[];
  toolchain: ToolchainKind;
  pinFile: string;
  sourceKind: Pin['source']['kind'];
  /** the math profile: the pin's, or --math for this build */
  math: MathProfile;
  dist: string;
  outDir: string;
  jobs: number;
  useCache: boolean;
  /**
   * check in full even if dist/<target> is as the last full check left it (checked-output.ts), and read the whole
   * build root, not only the entries whose stat key changed
   */
  fullCheck: boolean;
  /** only a pinned (or macOS) build of both goals from a registry/agoric-sdk source may ship */
  releasable: boolean;
}

export interface BinaryRecord {
  path: string;
  sha256: string;
  size: number;
  facts: BinaryFacts;
}

/** dist/<target>/build-info.json */
export interface BuildInfo {
  schemaVersion: 1;
  target: Target['name'];
  version: string;
  releasable: boolean;
  source: SourceIdentity;
  toolchain: ToolchainInfo;
  math: MathInfo;
  flags: { cc: string; make: string[]; env: Record<string, string> };
  buildRoot: string | null;
  host: { hostname: string; platform: string; arch: string; release: string; node: string; ci: boolean };
  binaries: Partial<Record<Goal, BinaryRecord>>;
  cache: { key: string; hit: boolean };
  durationSeconds: number;
}

const SUPPORTED_GOALS: Record<string, Goal[]> = { release: ['release'], debug: ['debug'], both: ['release', 'debug'] };

export function planBuild(opts: {
  target: Target;
  pin: Pin;
  goal?: string;
  toolchain?: string;
  /** overrides the pin's math profile for this build */
  math?: string;
  dist: string;
  jobs?: number;
  useCache?: boolean;
  fullCheck?: boolean;
}): BuildPlan {
  const { target, pin } = opts;
  const goals = SUPPORTED_GOALS[opts.goal ?? 'both'];
  if (!goals) throw new UsageError(`--goal must be release, debug or both, not "${opts.goal}"`);
  const allowed = target.toolchains; // the first is the default
  const toolchain = (opts.toolchain ?? allowed[0]) as ToolchainKind;
  if (!allowed.includes(toolchain))
    throw new UsageError(`--toolchain for ${target.name} must be ${allowed.join(' or ')}, not "${toolchain}"`);
  if (!canBuildOn(target, process.platform, toolchain)) {
    const where =
      toolchain === 'host'
        ? `a ${target.os === 'darwin' ? 'macOS' : target.os} host`
        : toolchain === 'zig'
          ? 'a Linux x64 host (the pinned zig is built for linux-x64)'
          : `a ${target.buildHost === 'darwin' ? 'macOS' : 'Linux'} host`;
    throw new UsageError(
      `${target.name} cannot be built with the ${toolchain} toolchain on ${process.platform}: it needs ${where}`,
    );
  }
  const math = (opts.math ?? pin.math) as MathProfile;
  if (!MATH_PROFILES.includes(math))
    throw new UsageError(`--math must be ${MATH_PROFILES.join(' or ')}, not "${opts.math}"`);
  if (!target.math.includes(math)) {
    const supported = target.math.join(' and ');
    throw new UsageError(`${target.name} cannot be built with the ${math} math profile: it supports ${supported}`);
  }
  return {
    target: target.name,
    version: pin.version,
    goals,
    toolchain,
    pinFile: pin.file,
    sourceKind: pin.source.kind,
    math,
    dist: opts.dist,
    outDir: targetDir(opts.dist, target.name),
    jobs: opts.jobs ?? Math.max(1, cpus().length),
    useCache: opts.useCache ?? true,
    fullCheck: opts.fullCheck ?? false,
    releasable: toolchain !== 'host' && pin.source.kind !== 'dir' && goals.length === 2,
  };
}

// ------------------------------------------------------------------ toolchain

interface Toolchain {
  info: ToolchainInfo;
  root: BuildRoot | null;
  /** run a command in the build environment */
  exec(
    argv: string[],
    opts: { env: Record<string, string>; onLine?: (l: string) => void; what: string },
  ): Promise<void>;
  /** a fresh work folder: its path on the host and as the compiler sees it */
  workDir(): Promise<{ host: string; inside: string }>;
}

async function prepareToolchain(plan: BuildPlan, target: Target): Promise<Toolchain> {
  if (plan.toolchain === 'pinned') {
    const root = await ensureBuildRoot({ full: plan.fullCheck });
    return {
      root,
      info: {
        kind: 'pinned',
        compiler: await compilerVersion(root, target.compiler),
        buildRootId: root.id,
        suite: root.suite,
        packages: root.packages,
        glibcFloor: glibcFloorOf(target),
      },
      exec: async (argv, o) => {
        await run(
          enterArgv(root.path, ['/usr/bin/env', '-i', ...Object.entries(o.env).map(([k, v]) => `${k}=${v}`), ...argv]),
          { what: o.what, onLine: o.onLine },
        );
      },
      workDir: async () => {
        // outside the tree, seen inside as /build (enterArgv binds it there)
        const work = buildRootWorkDir(root.path);
        await mkdir(work, { recursive: true });
        const host = await mkdtemp(join(work, 'w-'));
        return { host, inside: `/build/${basename(host)}` };
      },
    };
  }
  if (plan.toolchain === 'zig') return zigToolchain(target, plan.fullCheck);
  const compiler = compilerFor(plan, target).cc[0];
  const line = await firstLine([compiler, '--version']);
  if (!line) throw new OperationError(`compiler ${compiler} is not available on this host`);
  const info: ToolchainInfo = { kind: plan.toolchain, compiler: line };
  if (target.os === 'darwin') {
    info.macosMin = macosMinOf(target);
    info.sdk = (await firstLine(['xcrun', '--show-sdk-version'])) ?? 'unknown';
  }
  return {
    root: null,
    info,
    exec: async (argv, o) => {
      await run(
        [
          '/usr/bin/env',
          '-i',
          ...Object.entries({ ...o.env, PATH: process.env.PATH ?? '/usr/bin:/bin' }).map(([k, v]) => `${k}=${v}`),
          ...argv,
        ],
        { what: o.what, onLine: o.onLine },
      );
    },
    workDir: async () => {
      const host = await mkdtemp(join(tmpdir(), 'xsnap-build-'));
      return { host, inside: host };
    },
  };
}

/**
 * The pinned zig, run on this host beside the build root (no chroot: zig is one
 * static binary with its own headers, libSystem stubs and linker), in a fixed
 * environment: PATH puts zig first, then the host's make and sh, which do not
 * enter the bytes. zig's caches live in the work folder, so every build starts
 * cold and private, and nothing of this machine's cache state can enter it.
 */
async function zigToolchain(target: Target, fullCheck: boolean): Promise<Toolchain> {
  if (!target.zigTarget) throw new UsageError(`${target.name} has no zig target in scripts/lib/core/targets.ts`);
  const { ensureZig } = await import('./zig.ts'); // loaded only for the targets that need it
  const zig = await ensureZig(undefined, { full: fullCheck });
  const clang = await firstLine([zig.bin, 'cc', '--version']);
  return {
    root: null,
    info: {
      kind: 'zig',
      compiler: `zig ${zig.version} (${clang ?? 'clang'})`,
      zig: zig.identity,
      zigTarget: target.zigTarget,
      macosMin: macosMinOf(target),
    },
    exec: async (argv, o) => {
      await run(
        [
          '/usr/bin/env',
          '-i',
          ...Object.entries({ ...o.env, PATH: `${zig.dir}:/usr/bin:/bin` }).map(([k, v]) => `${k}=${v}`),
          ...argv,
        ],
        { what: o.what, onLine: o.onLine },
      );
    },
    workDir: async () => {
      const host = await mkdtemp(join(tmpdir(), 'xsnap-zig-'));
      return { host, inside: host };
    },
  };
}

/**
 * The compiler and archiver argv: the table's compiler (a host build for this
 * host's own CPU uses plain cc), or zig's (`zig` is on the build's PATH).
 */
function compilerFor(plan: BuildPlan, target: Target): { cc: string[]; ar: string[] } {
  if (plan.toolchain === 'zig') return { cc: ['zig', 'cc', '-target', target.zigTarget!], ar: ['zig', 'ar'] };
  const cc = plan.toolchain === 'host' && target.cpu === process.arch ? 'cc' : target.compiler;
  return { cc: [cc], ar: [cc.replace(/(gcc|cc)$/, 'ar')] };
}

/** The makefiles' own LIBRARIES, per platform dir: the portable profile puts its libm archive first. */
const MAKEFILE_LIBRARIES: Record<Target['platformDir'], string> = {
  lin: '-ldl -lm -lpthread',
  mac: '-framework CoreServices',
};
/** The stub CoreServices header (zig has no macOS frameworks; xsnap uses none of CoreServices). */
const STUB_CORESERVICES =
  '/* empty: xsnap includes <CoreServices/CoreServices.h> (xsString.c) but calls none of it; zig has no frameworks */\n';
/** Where the portable libm archive is built, below the work folder. */
const LIBM_SUBDIR = 'portable-libm';

/**
 * darwin with Apple clang: the CPU and minimum macOS (the target's floor), for the makefile and for the
 * portable libm's own compile. zig's -target triple carries both.
 */
const darwinFlags = (plan: BuildPlan, target: Target) =>
  target.binary.format === 'macho' && plan.toolchain !== 'zig'
    ? ['-arch', target.binary.cpuName, `-mmacosx-version-min=${macosMinOf(target)}`]
    : [];
/** Below the work folder: an empty CoreServices/CoreServices.h for zig (xsString.c includes it, calls nothing). */
const STUB_SUBDIR = 'stub-include';

/** CC and make arguments; `work` is the work folder as the compiler sees it (sources in <work>/src). */
function buildFlags(plan: BuildPlan, target: Target, work: string) {
  const compiler = compilerFor(plan, target).cc.join(' ');
  const src = `${work}/src`;
  const libm = plan.math === 'portable' ? `${work}/${LIBM_SUBDIR}/libxsnap-portable-m.a` : null;
  const env: Record<string, string> = { LC_ALL: 'C', TZ: 'UTC', SOURCE_DATE_EPOCH, HOME: '/nonexistent' };
  if (plan.toolchain === 'zig') {
    // upstream's mac makefile, with zig cc for Apple clang:
    // - the -target triple carries the CPU and the minimum macOS (MACOS_ARCH stays empty, MACOS_VERSION_MIN= drops
    //   the makefile's 10.7, which zig refuses);
    // - LIBRARIES= drops -framework CoreServices: xsnap calls no CoreServices function, xsString.c only includes
    //   the header, for which an empty one in the stub include folder stands in;
    // - LINK_OPTIONS=-Wl,-S: no debug map (STABS) in the executable. It would name every object file and zig's
    //   own cache by absolute path, and the objects it points to are never shipped, so it serves nobody;
    // - the whole work folder is mapped to "." and zig's caches are in it, so nothing depends on where we build;
    // - -fno-sanitize=undefined: zig cc turns on UBSan (trapping) for -O0, i.e. the debug goal. Neither upstream
    //   compiler does, XS was never built so, and clang 16 writes UBSan's source locations unmapped: the debug
    //   binary held absolute work-folder paths and differed between folders.
    const cc =
      `${compiler} -ffp-contract=off -fno-sanitize=undefined -ffile-prefix-map=${work}=. ` + `-I${work}/${STUB_SUBDIR}`;
    env.ZIG_GLOBAL_CACHE_DIR = `${work}/zig-cache`;
    env.ZIG_LOCAL_CACHE_DIR = `${work}/zig-cache`;
    const make = [
      `MODDABLE=${src}/moddable`,
      `XSNAP_VERSION=${plan.version}`,
      `CC=${cc}`,
      'MACOS_VERSION_MIN=',
      // -force_load: every member of the portable libm, so its strong definitions win over the weak ones of
      // zig's compiler-rt (which defines sin, cos, exp, log, floor, ... and was otherwise picked first)
      `LIBRARIES=${libm ? `-Wl,-force_load,${libm}` : ''}`,
      'LINK_OPTIONS=-Wl,-S',
    ];
    return { cc, make, env };
  }
  // -ffile-prefix-map keeps the build folder out of the binary (and its debug info).
  // -ffp-contract=off: never fuse a*b+c into one rounding (gcc does on aarch64 by
  // default, Apple clang too): x64 and arm64 must compute the same doubles.
  // -D__has_builtin(x)=1: upstream's lin makefiles' gcc flag; Apple clang has __has_builtin (upstream's mac makefile)
  const hasBuiltin = target.os === 'darwin' ? '' : ' "-D__has_builtin(x)=1"';
  const cc = `${compiler}${hasBuiltin} -ffile-prefix-map=${src}=. -ffp-contract=off`;
  const make = [`MODDABLE=${src}/moddable`, `XSNAP_VERSION=${plan.version}`, `CC=${cc}`];
  if (target.os === 'darwin') {
    const [, cpu, min] = darwinFlags(plan, target);
    make.push(`MACOS_ARCH=-arch ${cpu}`, `MACOS_VERSION_MIN=${min}`);
  }
  if (libm) make.push(`LIBRARIES=${libm} ${MAKEFILE_LIBRARIES[target.platformDir]}`);
  if (plan.toolchain === 'pinned') env.PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
  if (target.os === 'darwin') {
    env.MACOSX_DEPLOYMENT_TARGET = macosMinOf(target)!;
    env.ZERO_AR_DATE = '1'; // Apple ar and ld: no timestamps in archives and debug maps
  }
  return { cc, make, env };
}

// ------------------------------------------------------------------ cache

const buildCacheDir = (key: string) => join(cacheDir(), 'builds', key);

async function sourceKey(pin: Pin): Promise<unknown> {
  // registry and archive sources are content-addressed by their pinned integrity;
  // a local folder is addressed by its current content
  return pin.source.kind === 'dir'
    ? { version: pin.version, tree: await (await import('./sources.ts')).treeDigest(pin.source.path) }
    : { version: pin.version, source: pin.source };
}

interface CachedBuild {
  source: SourceIdentity;
  binaries: Partial<Record<Goal, { sha256: string; size: number }>>;
}

/** A cached build whose binaries still hash to what was recorded, or null. */
async function readCache(key: string, goals: Goal[]): Promise<CachedBuild | null> {
  const dir = buildCacheDir(key);
  const recordFile = join(dir, 'record.json');
  if (!existsSync(recordFile)) return null;
  const record = JSON.parse(await readFile(recordFile, 'utf8')) as CachedBuild;
  for (const goal of goals) {
    const want = record.binaries[goal]?.sha256;
    const file = join(dir, goal, BINARY_NAME);
    const got = existsSync(file) ? await sha256File(file) : 'missing';
    if (want !== got) {
      log.warn(`cached ${goal} binary ${file} does not match its record (${got} != ${want}); rebuilding`);
      return null;
    }
  }
  return record;
}

async function writeCache(key: string, staged: string, record: CachedBuild, goals: Goal[]): Promise<void> {
  const dir = buildCacheDir(key);
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  for (const goal of goals) {
    await mkdir(join(partial, goal), { recursive: true });
    await copyFile(join(staged, goal, BINARY_NAME), join(partial, goal, BINARY_NAME));
    await chmod(join(partial, goal, BINARY_NAME), 0o755);
  }
  await writeFile(join(partial, 'record.json'), canonicalJson(record) + '\n');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  await rename(partial, dir);
}

// ------------------------------------------------------------------ compile

async function compile(plan: BuildPlan, target: Target, toolchain: Toolchain, sourceDir: string, staged: string) {
  const work = await toolchain.workDir();
  try {
    await cp(sourceDir, join(work.host, 'src'), { recursive: true });
    const src = `${work.inside}/src`;
    const flags = buildFlags(plan, target, work.inside);
    if (plan.toolchain === 'zig') {
      await mkdir(join(work.host, STUB_SUBDIR, 'CoreServices'), { recursive: true });
      await writeFile(join(work.host, STUB_SUBDIR, 'CoreServices', 'CoreServices.h'), STUB_CORESERVICES);
    }
    if (plan.math === 'portable') {
      log.step(`${target.name}: compiling the portable libm`);
      const tools = compilerFor(plan, target);
      const libm = await prepareLibmBuild({
        hostDir: join(work.host, LIBM_SUBDIR),
        insideDir: `${work.inside}/${LIBM_SUBDIR}`,
        compiler: tools.cc,
        ar: tools.ar,
        target,
        extraFlags: darwinFlags(plan, target),
      });
      await toolchain.exec(['sh', libm.script], { env: flags.env, what: `portable libm for ${target.name}` });
    }
    const makeDir = `${src}/xsnap-native/xsnap/makefiles/${target.platformDir}`;
    const progress: Record<string, number> = {};
    const objects = 52; // objects per goal in xsnap-worker.mk, for progress only
    // release and debug build side by side, each with -j: the 2-core sweet spot measured in bench/
    await Promise.all(
      plan.goals.map((goal) =>
        toolchain.exec(
          ['make', '-C', makeDir, '-f', 'xsnap-worker.mk', `GOAL=${goal}`, ...flags.make, `-j${plan.jobs}`],
          {
            env: flags.env,
            what: `make ${goal} for ${target.name}`,
            onLine: (line) => {
              if (!/^# xsnap-worker \w+ : cc /.test(line)) return;
              const n = (progress[goal] = (progress[goal] ?? 0) + 1);
              if (n % 13 === 0 || n > objects)
                log.info(color.dim(`${target.name} ${goal}: ${Math.min(n, objects + 1)}/${objects + 1} steps`));
            },
          },
        ),
      ),
    );
    for (const goal of plan.goals) {
      const built = join(work.host, 'src/xsnap-native/xsnap/build/bin', target.platformDir, goal, BINARY_NAME);
      if (!existsSync(built))
        throw new OperationError(`make ${goal} for ${target.name} finished but ${built} is missing`);
      await mkdir(join(staged, goal), { recursive: true });
      await copyFile(built, join(staged, goal, BINARY_NAME));
      await chmod(join(staged, goal, BINARY_NAME), 0o755);
    }
    return flags;
  } finally {
    await rm(work.host, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ execute

export async function executeBuild(plan: BuildPlan, pin: Pin): Promise<BuildInfo> {
  const t0 = performance.now();
  const target = TARGETS.find((t) => t.name === plan.target)!;
  const toolchain = await prepareToolchain(plan, target);
  const flagsForKey = buildFlags(plan, target, '<work>');
  const math = await mathInfo(plan.math);
  const key = idOf({
    builder: BUILDER_REVISION,
    target: plan.target,
    goals: plan.goals,
    source: await sourceKey(pin),
    toolchain: toolchain.info,
    flags: flagsForKey,
    math,
  });

  // what the checks of the binaries depend on besides their bytes: the build, the options, the target's row, the
  // checking code, and how this host runs the binaries
  const runner = await hostRunner(target);
  const checkOpts = {
    version: plan.version,
    runner,
    glibcFloorIsWarning: plan.toolchain === 'host',
    math: plan.math,
  };
  const checksKey = checkKey({ build: key, goals: plan.goals, target, checkOpts }, CHECKING_CODE);
  if (plan.useCache && !plan.fullCheck && isAsChecked(plan.outDir, checksKey)) {
    // the same inputs (key) and dist/<target> unchanged since a full check of it passed: nothing to do
    const info = await readBuildInfo(plan.dist, plan.target);
    log.ok(`${plan.target}: inputs unchanged (cache ${key}) and ${plan.outDir} as its last full check left it`);
    return { ...info, cache: { key, hit: true }, durationSeconds: Math.round((performance.now() - t0) / 100) / 10 };
  }

  await mkdir(plan.dist, { recursive: true });
  const staged = await mkdtemp(join(plan.dist, `.${plan.target}.partial-`));
  try {
    let source: SourceIdentity;
    let hit = false;
    const cached = plan.useCache ? await readCache(key, plan.goals) : null;
    if (cached) {
      hit = true;
      source = cached.source;
      log.ok(`${plan.target}: inputs unchanged (cache ${key}), reusing the build`);
      for (const goal of plan.goals) {
        await mkdir(join(staged, goal), { recursive: true });
        await copyFile(join(buildCacheDir(key), goal, BINARY_NAME), join(staged, goal, BINARY_NAME));
        await chmod(join(staged, goal, BINARY_NAME), 0o755);
      }
    } else {
      log.step(`${plan.target}: fetching sources (${pin.source.kind}, ${pin.version})`);
      const { fetchSources } = await import('./sources.ts'); // only to compile
      const tree = await fetchSources(pin);
      source = tree.identity;
      log.step(
        `${plan.target}: compiling ${plan.goals.join(' + ')} with ${toolchain.info.compiler} (-j${plan.jobs}), math profile ${plan.math}`,
      );
      await compile(plan, target, toolchain, tree.dir, staged);
    }

    log.step(`${plan.target}: checking the binaries`);
    if (!runner)
      log.warn(`${plan.target} binaries cannot run on this host; their -v check happens where they can (CI)`);
    const failures: Failure[] = [];
    const binaries: BuildInfo['binaries'] = {};
    // the stat keys of what the checks read, before they read it: the record of this check vouches for these only
    const checkedKeys = statKeys(
      staged,
      plan.goals.map((g) => `${g}/${BINARY_NAME}`),
    );
    for (const goal of plan.goals) {
      const file = join(staged, goal, BINARY_NAME);
      const r = await checkBinary(file, target, `${plan.target} ${goal}`, checkOpts);
      r.warnings.forEach((w) => log.warn(w));
      failures.push(
        ...r.failures.map((f) => ({ ...f, subject: f.subject.replace(staged, targetDir(plan.dist, plan.target)) })),
      );
      binaries[goal] = {
        path: `${goal}/${BINARY_NAME}`,
        sha256: await sha256File(file),
        size: (await readFile(file)).length,
        facts: r.facts,
      };
      if (!r.failures.length)
        log.ok(
          `${goal}: ${r.facts.reportedVersion ?? 'not run here'}; ${
            r.facts.format === 'elf' ? `needs GLIBC ` + `${r.facts.maxGlibc}` : `min macOS ${r.facts.minMacos}`
          }`,
        );
    }
    if (failures.length) throw new CheckFailed(failures);
    if (!hit && plan.useCache) {
      await writeCache(
        key,
        staged,
        {
          source,
          binaries: Object.fromEntries(
            plan.goals.map((g) => [g, { sha256: binaries[g]!.sha256, size: binaries[g]!.size }]),
          ),
        },
        plan.goals,
      );
    }

    const info: BuildInfo = {
      schemaVersion: 1,
      target: plan.target,
      version: plan.version,
      releasable: plan.releasable,
      source,
      toolchain: toolchain.info,
      math,
      flags: flagsForKey,
      buildRoot: toolchain.root?.path ?? null,
      host: {
        hostname: hostname(),
        platform: platform(),
        arch: arch(),
        release: release(),
        node: process.version,
        ci: Boolean(process.env.CI),
      },
      binaries,
      cache: { key, hit },
      durationSeconds: Math.round((performance.now() - t0) / 100) / 10,
    };
    await writeFile(join(staged, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
    // replace dist/<target> in one step: never half old, half new
    await rm(plan.outDir, { recursive: true, force: true });
    await rename(staged, plan.outDir);
    await recordChecked(plan.outDir, checksKey, checkedKeys);
    return info;
  } finally {
    await rm(staged, { recursive: true, force: true });
  }
}

/** Read dist/<target>/build-info.json, or say which command makes it. */
export async function readBuildInfo(dist: string, target: Target['name']): Promise<BuildInfo> {
  const file = buildInfoPath(dist, target);
  if (!existsSync(file)) {
    throw new UsageError(
      `no build output for ${target} in ${dist} (${file} is missing): run npx tsx ` +
        `scripts/build-target.ts --target ${target}${dist.endsWith('/dist') ? '' : ` --dist ${dist}`}`,
    );
  }
  return JSON.parse(await readFile(file, 'utf8')) as BuildInfo;
}
