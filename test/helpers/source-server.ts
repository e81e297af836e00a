// A loopback HTTP server that plays the npm registry and GitHub archives for
// the source-fetching tests, serving the REAL @agoric/xsnap tarball and
// archives rebuilt from its contents (GitHub layout: <repo>-<commit>/...).
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, readdir, mkdir, cp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressInfo } from 'node:net';
import * as tar from 'tar';
import { run } from '../../scripts/lib/core/exec.ts';
import { sriSha512, sha256Hex } from '../../scripts/lib/core/hash.ts';
import { parseBuildEnv } from '../../scripts/lib/build/sources.ts';

export interface RealSources {
  version: string;
  tarball: Buffer;
  integrity: string;
  moddableCommit: string;
  xsnapNativeCommit: string;
  /** unpacked package/ folder */
  unpacked: string;
}

/** The real @agoric/xsnap tarball of `version`, from the npm registry. */
export async function realXsnapTarball(version: string): Promise<RealSources> {
  const dir = await mkdtemp(join(tmpdir(), 'xsnap-src-'));
  await run(['npm', 'pack', `@agoric/xsnap@${version}`, '--pack-destination', dir, '--silent'], {
    what: 'npm pack @agoric/xsnap',
  });
  const file = (await readdir(dir)).find((f) => f.endsWith('.tgz'))!;
  const tarball = await readFile(join(dir, file));
  await tar.x({ file: join(dir, file), cwd: dir });
  const env = parseBuildEnv(await readFile(join(dir, 'package', 'build.env'), 'utf8'));
  return {
    version,
    tarball,
    integrity: sriSha512(tarball),
    moddableCommit: env.MODDABLE_COMMIT_HASH,
    xsnapNativeCommit: env.XSNAP_NATIVE_COMMIT_HASH,
    unpacked: join(dir, 'package'),
  };
}

/** A .tar.gz in GitHub's archive layout holding `files` (relative path -> source path or content). */
export async function githubStyleArchive(topDir: string, populate: (root: string) => Promise<void>): Promise<Buffer> {
  const work = await mkdtemp(join(tmpdir(), 'xsnap-archive-'));
  await mkdir(join(work, topDir), { recursive: true });
  await populate(join(work, topDir));
  const out = join(work, 'archive.tar.gz');
  await tar.c({ gzip: true, cwd: work, file: out, portable: true }, [topDir]);
  const data = await readFile(out);
  await rm(work, { recursive: true, force: true });
  return data;
}

export interface AgoricSdkArchives {
  sdkCommit: string;
  archives: Record<string, Buffer>;
  pinSource: Record<string, unknown>;
}

/** agoric-sdk, moddable and xsnap-native archives made from the real package contents. */
export async function agoricSdkArchives(src: RealSources, sdkCommit = 'a'.repeat(40)): Promise<AgoricSdkArchives> {
  const sdk = await githubStyleArchive(`agoric-sdk-${sdkCommit}`, async (root) => {
    await mkdir(join(root, 'packages/xsnap'), { recursive: true });
    await cp(join(src.unpacked, 'package.json'), join(root, 'packages/xsnap/package.json'));
    await cp(join(src.unpacked, 'build.env'), join(root, 'packages/xsnap/build.env'));
    await writeFile(join(root, 'README.md'), 'agoric-sdk (test archive)\n');
  });
  const moddable = await githubStyleArchive(`moddable-${src.moddableCommit}`, (root) =>
    cp(join(src.unpacked, 'moddable'), root, { recursive: true }),
  );
  const native = await githubStyleArchive(`xsnap-pub-${src.xsnapNativeCommit}`, (root) =>
    cp(join(src.unpacked, 'xsnap-native'), root, { recursive: true }),
  );
  const archives = {
    [`/Agoric/agoric-sdk/archive/${sdkCommit}.tar.gz`]: sdk,
    [`/agoric-labs/moddable/archive/${src.moddableCommit}.tar.gz`]: moddable,
    [`/agoric-labs/xsnap-pub/archive/${src.xsnapNativeCommit}.tar.gz`]: native,
  };
  return {
    sdkCommit,
    archives,
    pinSource: {
      kind: 'agoric-sdk',
      agoricSdk: { repo: 'Agoric/agoric-sdk', commit: sdkCommit, sha256: sha256Hex(sdk) },
      moddable: { repo: 'agoric-labs/moddable', commit: src.moddableCommit, sha256: sha256Hex(moddable) },
      xsnapNative: { repo: 'agoric-labs/xsnap-pub', commit: src.xsnapNativeCommit, sha256: sha256Hex(native) },
    },
  };
}

export interface FileServer {
  url: string;
  /** path -> body; change it between requests to simulate a registry or mirror */
  routes: Map<string, Buffer | string>;
  requests: string[];
  close(): Promise<void>;
}

export async function startFileServer(): Promise<FileServer> {
  const routes = new Map<string, Buffer | string>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = routes.get(req.url ?? '');
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, routes, requests, close: () => new Promise((r) => server.close(() => r())) };
}

/** Serve `src` as the npm registry would: version metadata + tarball. */
export function serveNpmPackage(
  server: FileServer,
  src: RealSources,
  overrides: { integrity?: string; tarball?: Buffer } = {},
): void {
  const tgzPath = `/@agoric/xsnap/-/xsnap-${src.version}.tgz`;
  server.routes.set(
    `/@agoric%2fxsnap/${src.version}`,
    JSON.stringify({
      name: '@agoric/xsnap',
      version: src.version,
      dist: { integrity: overrides.integrity ?? src.integrity, tarball: server.url + tgzPath },
    }),
  );
  server.routes.set(tgzPath, overrides.tarball ?? src.tarball);
}
