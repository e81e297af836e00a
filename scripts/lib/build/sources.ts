// Fetch the C sources a pin names, check their integrity before unpacking,
// and cache the unpacked tree by content. The tree always has the layout of
// the @agoric/xsnap package: <tree>/moddable and <tree>/xsnap-native.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { pinnedDownload } from '../core/pinned-cache.ts';
import { retrying } from '../core/retry.ts';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as Tar from 'tar';
import { log } from '../core/cli.ts';
import { OperationError, CheckFailed } from '../core/errors.ts';
import { sha256Hex, matchesIntegrity, idOf, canonicalJson } from '../core/hash.ts';
import { cacheDir } from '../core/paths.ts';
import { tarEntryProblem } from '../core/tarball.ts';
import type { Pin, ArchivePin } from '../core/pin.ts';
import { lazy } from '../core/lazy.ts';
import type { SourceIdentity } from '../core/manifest.ts';
import { httpRequest, jsonOf, type HttpAnswer } from '../core/net.ts';
export type { SourceIdentity };

const tar = lazy<typeof Tar>('tar');

export interface SourceTree {
  dir: string;
  identity: SourceIdentity;
  releasable: boolean;
}

/** The npm registry the npm source kind reads: $XSNAP_SOURCE_REGISTRY, else the public one. */
export function sourceRegistry(): string {
  return (process.env.XSNAP_SOURCE_REGISTRY || 'https://registry.npmjs.org').replace(/\/+$/, '');
}

/** Where agoric-sdk/Moddable/xsnap-native archives come from: $XSNAP_ARCHIVE_BASE_URL, else GitHub. */
export function archiveBaseUrl(): string {
  return (process.env.XSNAP_ARCHIVE_BASE_URL || 'https://github.com').replace(/\/+$/, '');
}

export const archiveUrl = (a: ArchivePin) => `${archiveBaseUrl()}/${a.repo}/archive/${a.commit}.tar.gz`;

// ------------------------------------------------------------------ network

async function fetchWithRetry(url: string, what: string, tries = 3): Promise<HttpAnswer> {
  // a network error, a 5xx or a 429 is worth another try; any other answer is final
  type Outcome = { res: HttpAnswer } | { error: unknown; again: boolean };
  const out = await retrying<Outcome>(
    async () => {
      try {
        const res = await httpRequest(url);
        if (res.ok) return { res };
        const error = new OperationError(`${what}: GET ${url} answered HTTP ${res.status}`);
        return { error, again: res.status >= 500 || res.status === 429 };
      } catch (e) {
        return { error: e, again: true };
      }
    },
    { attempts: tries, baseMs: 500, retryable: (o) => 'error' in o && o.again },
  );
  if ('res' in out) return out.res;
  if (!out.again) throw out.error;
  throw new OperationError(
    `${what}: could not download ${url} after ${tries} tries: ${(out.error as Error)?.message ?? out.error}`,
  );
}

export async function download(url: string, what: string): Promise<Buffer> {
  return (await fetchWithRetry(url, what)).body!;
}

// ------------------------------------------------------------------ unpacking

/** What extraction writes: directories and regular files (old-style and contiguous ones are regular files too). */
const EXTRACTED_TYPES = ['File', 'Directory', 'OldFile', 'ContiguousFile'];

/**
 * Unpack a .tar.gz into `dest`, refusing anything but regular files and
 * directories, absolute paths and `..` (tar's own stripping would only warn).
 */
export async function extractSafely(
  data: Buffer,
  dest: string,
  opts: { strip?: number; keep?: (path: string) => boolean; what: string },
): Promise<void> {
  const problems: string[] = [];
  await mkdir(dest, { recursive: true });
  await pipeline(
    Readable.from(data),
    tar().x({
      cwd: dest,
      strip: opts.strip ?? 0,
      strict: true,
      preserveOwner: false,
      filter: (path, entry) => {
        const type = (entry as Tar.ReadEntry).type;
        if (
          type === 'GlobalExtendedHeader' ||
          type === 'ExtendedHeader' ||
          type === 'NextFileHasLongPath' ||
          type === 'NextFileHasLongLinkpath'
        )
          return false;
        const problem = tarEntryProblem(path, type, EXTRACTED_TYPES);
        if (problem && problem.kind !== 'type') {
          problems.push(`${path}: path escapes the archive`);
          return false;
        }
        if (problem) {
          // GitHub archives carry symlinks for some test fixtures; we only skip them if not kept
          if (opts.keep && !opts.keep(path)) return false;
          problems.push(`${path}: ${type} entries are not allowed`);
          return false;
        }
        return opts.keep ? opts.keep(path) : true;
      },
    }),
  );
  if (problems.length) {
    throw new CheckFailed(problems.map((p) => ({ check: 'archive-entries', subject: `${opts.what}: ${p}` })));
  }
}

/** sha256 over (path, executable bit, sha256 of content) of every file below `dir`, sorted. */
export async function treeDigest(dir: string): Promise<string> {
  const files: string[] = [];
  async function walk(d: string) {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) files.push(p);
      else throw new OperationError(`source tree ${dir}: ${relative(dir, p)} is not a regular file`);
    }
  }
  await walk(dir);
  files.sort();
  const h = createHash('sha256');
  for (const f of files) {
    const mode = (await stat(f)).mode & 0o111 ? 'x' : '-';
    h.update(`${relative(dir, f).split(sep).join('/')}\0${mode}\0${sha256Hex(await readFile(f))}\n`);
  }
  return h.digest('hex');
}

export function parseBuildEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2].trim();
  }
  return env;
}

// ------------------------------------------------------------------ kinds

/** A tar filter keeping, below the archive's top folder, only `prefixes` and the folders leading to them. */
function keepUnder(prefixes: string[]): (path: string) => boolean {
  return (path) => {
    const rest = path.split('/').slice(1).join('/').replace(/\/$/, '');
    return rest === '' || prefixes.some((p) => rest === p || rest.startsWith(p + '/') || p.startsWith(rest + '/'));
  };
}

interface Fetched {
  moddableCommit: string;
  xsnapNativeCommit: string;
  integrity: Record<string, string>;
}

function mismatch(subject: string, expected: string, actual: string, hint: string): CheckFailed {
  return new CheckFailed([{ check: 'source-integrity', subject, expected, actual, hint }]);
}

// Getting the sources is two steps: obtain the archives the pin names, each
// checked against the pin's own integrity (from the cache's kept copy, or
// downloaded), then unpack them. The cached tree is never its own witness: on
// reuse it is compared with a tree unpacked again from the kept, re-hashed
// archives (issue 10: a tree altered together with its source.json passed).

type Archives = Record<string, Buffer>;

/** The archive files a pin needs: name in the cache -> how to get and check it. */
function archiveSpecs(
  pin: Pin,
): Array<{ name: string; matches: (data: Buffer) => boolean; expected: string; download: () => Promise<Buffer> }> {
  const { source, version, file } = pin;
  if (source.kind === 'npm') {
    return [
      {
        name: 'npm-package.tgz',
        matches: (d) => matchesIntegrity(d, source.integrity),
        expected: source.integrity,
        download: () => downloadNpm(pin as Pin & { source: { kind: 'npm' } }),
      },
    ];
  }
  if (source.kind === 'agoric-sdk') {
    return (
      [
        ['agoric-sdk', source.agoricSdk],
        ['moddable', source.moddable],
        ['xsnap-native', source.xsnapNative],
      ] as const
    ).map(([name, a]) => ({
      name: `${name}.tar.gz`,
      matches: (d: Buffer) => sha256Hex(d) === a.sha256,
      expected: `sha256 ${a.sha256}`,
      download: () => fetchArchive(a, name, file),
    }));
  }
  throw new OperationError(`sources of kind ${source.kind} for ${version} have no archives`);
}

/**
 * Every archive of the pin, each checked against the pin now: the cache's kept
 * copy when it still matches, else a fresh download (checked before it is kept).
 */
async function obtainArchives(pin: Pin, dir: string): Promise<Archives> {
  const out: Archives = {};
  for (const spec of archiveSpecs(pin)) {
    const { data } = await pinnedDownload({
      file: join(dir, spec.name),
      matches: spec.matches,
      expected: spec.expected,
      sources: [{ url: spec.name, get: spec.download }],
      refused: (_s, d) =>
        mismatch(
          `${spec.name} for ${pin.version}`,
          spec.expected,
          `bytes with sha256 ${sha256Hex(d)}`,
          'nothing was unpacked',
        ),
      missed: (tried) => new OperationError(`${spec.name} for ${pin.version}: ${tried.join('; ')}`),
    });
    out[spec.name] = data;
  }
  return out;
}

async function downloadNpm(pin: Pin & { source: { kind: 'npm' } }): Promise<Buffer> {
  return downloadNpmTarball({
    name: pin.source.package,
    version: pin.version,
    integrity: pin.source.integrity,
    pinFile: pin.file,
  });
}

/**
 * The tarball of `name@version` from the source registry, checked twice against
 * the pinned integrity: the registry's dist.integrity must be it, and so must the
 * downloaded bytes. Used for the C sources and for pinned toolchains (zig.ts).
 */
export async function downloadNpmTarball(p: {
  name: string;
  version: string;
  integrity: string;
  pinFile: string;
}): Promise<Buffer> {
  const registry = sourceRegistry();
  const metaUrl = `${registry}/${p.name.replace('/', '%2f')}/${p.version}`;
  log.info(`reading ${p.name}@${p.version} metadata from ${registry}`);
  const meta = jsonOf(await fetchWithRetry(metaUrl, `${p.name}@${p.version}`)) as {
    dist?: { integrity?: string; tarball?: string };
  };
  const registryIntegrity = meta.dist?.integrity;
  if (!registryIntegrity || !meta.dist?.tarball) {
    throw new OperationError(`${p.name}@${p.version}: the registry's metadata has no dist.integrity/tarball`);
  }
  if (registryIntegrity !== p.integrity) {
    throw mismatch(
      `${p.name}@${p.version} dist.integrity on ${registry} (pin ${p.pinFile})`,
      p.integrity,
      registryIntegrity,
      'the registry serves different bytes than the pin names: find out why before changing the pin',
    );
  }
  log.info(`downloading ${meta.dist.tarball}`);
  const data = await download(meta.dist.tarball, `${p.name}@${p.version}`);
  if (!matchesIntegrity(data, p.integrity)) {
    throw mismatch(
      `${p.name}@${p.version} tarball ${meta.dist.tarball}`,
      p.integrity,
      `bytes with sha256 ${sha256Hex(data)}`,
      'the download does not match the pinned integrity; nothing was unpacked',
    );
  }
  return data;
}

async function unpackNpm(pin: Pin & { source: { kind: 'npm' } }, archives: Archives, tree: string): Promise<Fetched> {
  const { source, version } = pin;
  await extractSafely(archives['npm-package.tgz'], tree, {
    strip: 1,
    what: `${source.package}@${version}`,
    keep: keepUnder(['moddable', 'xsnap-native', 'build.env', 'package.json']),
  });
  const pkg = JSON.parse(await readFile(join(tree, 'package.json'), 'utf8')) as { version?: string };
  if (pkg.version !== version) {
    throw mismatch(
      `${source.package} tarball package.json version`,
      version,
      String(pkg.version),
      `fix "version" in ${pin.file}`,
    );
  }
  const env = parseBuildEnv(await readFile(join(tree, 'build.env'), 'utf8'));
  const moddableCommit = env.MODDABLE_COMMIT_HASH;
  const xsnapNativeCommit = env.XSNAP_NATIVE_COMMIT_HASH;
  for (const [name, want, got] of [
    ['moddableCommit', source.moddableCommit, moddableCommit],
    ['xsnapNativeCommit', source.xsnapNativeCommit, xsnapNativeCommit],
  ] as const) {
    if (want && want !== got)
      throw mismatch(
        `${source.package}@${version} build.env ${name}`,
        want,
        String(got),
        `fix source.${name} in ${pin.file}`,
      );
  }
  await rm(join(tree, 'package.json'));
  await rm(join(tree, 'build.env'));
  return { moddableCommit, xsnapNativeCommit, integrity: { [`${source.package}@${version}`]: source.integrity } };
}

async function fetchArchive(a: ArchivePin, name: string, pinFile: string): Promise<Buffer> {
  const url = archiveUrl(a);
  log.info(`downloading ${name} archive ${url}`);
  const data = await download(url, `${name} archive`);
  const actual = sha256Hex(data);
  if (actual !== a.sha256) {
    throw mismatch(
      `${name} archive ${url} (pin ${pinFile})`,
      `sha256 ${a.sha256}`,
      `sha256 ${actual}`,
      'the archive does not match the pinned sha256; nothing was unpacked',
    );
  }
  return data;
}

async function unpackAgoricSdk(
  pin: Pin & { source: { kind: 'agoric-sdk' } },
  archives: Archives,
  tree: string,
): Promise<Fetched> {
  const { source, version, file } = pin;
  const meta = join(tree, '.agoric-sdk');
  await extractSafely(archives['agoric-sdk.tar.gz'], meta, {
    strip: 1,
    what: 'agoric-sdk archive',
    keep: keepUnder(['packages/xsnap/package.json', 'packages/xsnap/build.env']),
  });
  const pkgFile = join(meta, 'packages/xsnap/package.json');
  if (!existsSync(pkgFile))
    throw new OperationError(`agoric-sdk archive at ${source.agoricSdk.commit} has no packages/xsnap/package.json`);
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { version?: string };
  if (pkg.version !== version) {
    throw mismatch(
      `agoric-sdk ${source.agoricSdk.commit} packages/xsnap/package.json version`,
      version,
      String(pkg.version),
      `fix "version" in ${file}`,
    );
  }
  const env = parseBuildEnv(await readFile(join(meta, 'packages/xsnap/build.env'), 'utf8'));
  if (env.MODDABLE_COMMIT_HASH !== source.moddable.commit) {
    throw mismatch(
      'agoric-sdk packages/xsnap/build.env MODDABLE_COMMIT_HASH',
      source.moddable.commit,
      String(env.MODDABLE_COMMIT_HASH),
      `fix source.moddable.commit in ${file}`,
    );
  }
  if (env.XSNAP_NATIVE_COMMIT_HASH !== source.xsnapNative.commit) {
    throw mismatch(
      'agoric-sdk packages/xsnap/build.env XSNAP_NATIVE_COMMIT_HASH',
      source.xsnapNative.commit,
      String(env.XSNAP_NATIVE_COMMIT_HASH),
      `fix source.xsnapNative.commit in ${file}`,
    );
  }
  await rm(meta, { recursive: true, force: true });
  // only what the worker build reads; GitHub archives also carry symlinked examples we never need
  await extractSafely(archives['moddable.tar.gz'], join(tree, 'moddable'), {
    strip: 1,
    what: 'moddable archive',
    keep: keepUnder(['xs', 'modules/data']),
  });
  await extractSafely(archives['xsnap-native.tar.gz'], join(tree, 'xsnap-native'), {
    strip: 1,
    what: 'xsnap-native archive',
    keep: keepUnder(['xsnap']),
  });
  return {
    moddableCommit: source.moddable.commit,
    xsnapNativeCommit: source.xsnapNative.commit,
    integrity: {
      [`agoric-sdk@${source.agoricSdk.commit}`]: `sha256:${source.agoricSdk.sha256}`,
      [`moddable@${source.moddable.commit}`]: `sha256:${source.moddable.sha256}`,
      [`xsnap-native@${source.xsnapNative.commit}`]: `sha256:${source.xsnapNative.sha256}`,
    },
  };
}

/** Unpack verified archives into `tree` and check what they hold against the pin. */
async function unpackSources(pin: Pin, archives: Archives, tree: string): Promise<Fetched> {
  const fetched =
    pin.source.kind === 'npm'
      ? await unpackNpm(pin as Pin & { source: { kind: 'npm' } }, archives, tree)
      : await unpackAgoricSdk(pin as Pin & { source: { kind: 'agoric-sdk' } }, archives, tree);
  for (const sub of ['moddable/xs/sources', 'xsnap-native/xsnap/makefiles']) {
    if (!existsSync(join(tree, sub))) throw new OperationError(`sources for ${pin.version} have no ${sub}/`);
  }
  return fetched;
}

// ------------------------------------------------------------------ entry

/** The cache folder for a pin's sources: keyed by the pinned integrity, so by content. */
export function sourceCacheDir(pin: Pin): string {
  return join(cacheDir(), 'sources', idOf({ version: pin.version, source: pin.source }));
}

/** Fetch (or reuse from the cache) the sources a pin names, checked at every step. */
export async function fetchSources(pin: Pin): Promise<SourceTree> {
  if (pin.source.kind === 'dir') {
    const dir = pin.source.path;
    for (const sub of ['moddable', 'xsnap-native']) {
      if (!existsSync(join(dir, sub)))
        throw new OperationError(`dir source ${dir} has no ${sub}/ folder (expected the layout of packages/xsnap)`);
    }
    return {
      dir,
      releasable: false,
      identity: {
        kind: 'dir',
        version: pin.version,
        moddableCommit: 'unknown',
        xsnapNativeCommit: 'unknown',
        integrity: {},
        treeDigest: await treeDigest(dir),
      },
    };
  }
  const root = sourceCacheDir(pin);
  const tree = join(root, 'tree');
  const recordFile = join(root, 'source.json');
  const archivesDir = join(root, 'archives');
  if (existsSync(recordFile) && existsSync(tree)) {
    // Reuse only what the pin itself vouches for: the kept archives re-hashed
    // against the pin, unpacked again, and the cached tree compared with that.
    const check = `${root}.check-${process.pid}`;
    await rm(check, { recursive: true, force: true });
    try {
      const archives = await obtainArchives(pin, archivesDir);
      const fetched = await unpackSources(pin, archives, join(check, 'tree'));
      const derived = await treeDigest(join(check, 'tree'));
      const identity: SourceIdentity = { kind: pin.source.kind, version: pin.version, ...fetched, treeDigest: derived };
      const cached = await treeDigest(tree);
      if (cached !== derived) {
        log.warn(
          `cached sources in ${root} differ from the pinned archives (tree digest ${cached}, pinned ${derived}); replacing them`,
        );
        await rm(tree, { recursive: true, force: true });
        await rename(join(check, 'tree'), tree);
        await writeFile(recordFile, canonicalJson(identity) + '\n');
      }
      return { dir: tree, identity, releasable: true };
    } finally {
      await rm(check, { recursive: true, force: true });
    }
  }
  const partial = `${root}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  try {
    const archives = await obtainArchives(pin, join(partial, 'archives'));
    const fetched = await unpackSources(pin, archives, join(partial, 'tree'));
    const identity: SourceIdentity = {
      kind: pin.source.kind,
      version: pin.version,
      ...fetched,
      treeDigest: await treeDigest(join(partial, 'tree')),
    };
    await writeFile(join(partial, 'source.json'), canonicalJson(identity) + '\n');
    await rm(root, { recursive: true, force: true });
    await rename(partial, root);
    return { dir: tree, identity, releasable: true };
  } finally {
    if (existsSync(partial)) await rm(partial, { recursive: true, force: true });
  }
}
