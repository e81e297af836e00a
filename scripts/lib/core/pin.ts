// The source pin (native/pin.json): which @agoric/xsnap version to build and
// where its C sources come from, with integrity. See native/README.md.
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import valid from 'semver/functions/valid.js';
import { UsageError } from './errors.ts';
import { DEFAULT_PIN } from './paths.ts';
import type { Flags } from './cli.ts';

export interface NpmSource {
  kind: 'npm';
  package: string;
  /** SRI of the package tarball; must equal the registry's dist.integrity */
  integrity: string;
  /** optional: checked against the tarball's build.env */
  moddableCommit?: string;
  xsnapNativeCommit?: string;
}

export interface ArchivePin {
  /** GitHub owner/name */
  repo: string;
  /** full commit hash */
  commit: string;
  /** sha256 (hex) of the archive bytes */
  sha256: string;
}

export interface AgoricSdkSource {
  kind: 'agoric-sdk';
  /** agoric-sdk at a commit: packages/xsnap gives the version and build.env commits */
  agoricSdk: ArchivePin;
  moddable: ArchivePin;
  xsnapNative: ArchivePin;
}

export interface DirSource {
  kind: 'dir';
  /** a local folder holding moddable/ and xsnap-native/ (like packages/xsnap); never releasable */
  path: string;
}

export type Source = NpmSource | AgoricSdkSource | DirSource;

/** "system": the host's dynamic libm; "portable": the pinned musl libm, linked statically (docs/consensus.md). */
export type MathProfile = 'system' | 'portable';
export const MATH_PROFILES: readonly MathProfile[] = ['system', 'portable'];

export interface Pin {
  version: string;
  source: Source;
  /** the math profile releases of this version are built with (default "system") */
  math: MathProfile;
  /** the file it was read from */
  file: string;
}

/** X.Y.Z (optionally -prerelease), exactly as npm stores it: no "v", no build metadata. */
export function checkVersion(version: unknown, where: string): string {
  if (typeof version !== 'string' || valid(version) !== version || version.includes('+')) {
    throw new UsageError(`${where}: version ${JSON.stringify(version)} is not an exact npm version like 1.2.3`);
  }
  return version;
}

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;

function need(cond: unknown, file: string, msg: string): asserts cond {
  if (!cond) throw new UsageError(`pin ${file}: ${msg}`);
}

function checkArchive(a: unknown, file: string, field: string): ArchivePin {
  const x = a as Partial<ArchivePin> | undefined;
  need(x && typeof x === 'object', file, `source.${field} is missing`);
  need(
    typeof x.repo === 'string' && /^[\w.-]+\/[\w.-]+$/.test(x.repo),
    file,
    `source.${field}.repo must be "owner/name"`,
  );
  need(typeof x.commit === 'string' && HEX40.test(x.commit), file, `source.${field}.commit must be a 40-hex commit`);
  need(typeof x.sha256 === 'string' && HEX64.test(x.sha256), file, `source.${field}.sha256 must be 64 hex digits`);
  return { repo: x.repo, commit: x.commit, sha256: x.sha256 };
}

export function parsePin(raw: unknown, file: string): Pin {
  const p = raw as { version?: unknown; source?: Record<string, unknown> };
  need(p && typeof p === 'object', file, 'must be a JSON object');
  const version = checkVersion(p.version, `pin ${file}`);
  const s = p.source;
  need(s && typeof s === 'object', file, 'source is missing');
  const m = (p as { math?: unknown }).math ?? 'system';
  need(MATH_PROFILES.includes(m as MathProfile), file, `math must be "system" or "portable", not ${JSON.stringify(m)}`);
  const math = m as MathProfile;
  switch (s.kind) {
    case 'npm': {
      need(typeof s.package === 'string' && s.package.length > 0, file, 'source.package is missing');
      need(
        typeof s.integrity === 'string' && /^sha512-[A-Za-z0-9+/]+=*$/.test(s.integrity),
        file,
        'source.integrity must be a sha512 SRI string',
      );
      for (const k of ['moddableCommit', 'xsnapNativeCommit'] as const) {
        need(
          s[k] === undefined || (typeof s[k] === 'string' && HEX40.test(s[k] as string)),
          file,
          `source.${k} must be a 40-hex commit`,
        );
      }
      return { version, file, math, source: s as unknown as NpmSource };
    }
    case 'agoric-sdk':
      return {
        version,
        file,
        math,
        source: {
          kind: 'agoric-sdk',
          agoricSdk: checkArchive(s.agoricSdk, file, 'agoricSdk'),
          moddable: checkArchive(s.moddable, file, 'moddable'),
          xsnapNative: checkArchive(s.xsnapNative, file, 'xsnapNative'),
        },
      };
    case 'dir':
      need(typeof s.path === 'string' && s.path.length > 0, file, 'source.path is missing');
      return { version, file, math, source: { kind: 'dir', path: resolve(dirname(file), s.path) } };
    default:
      throw new UsageError(
        `pin ${file}: source.kind must be "npm", "agoric-sdk" or "dir", not ${JSON.stringify(s.kind)}`,
      );
  }
}

/** --pin, else $XSNAP_PIN, else native/pin.json */
export function pinPath(flags?: Flags): string {
  const v = flags?.pin;
  return resolve(typeof v === 'string' ? v : process.env.XSNAP_PIN || DEFAULT_PIN);
}

export function readPin(file: string): Pin {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`pin file ${file} cannot be read (pass --pin <file> or create native/pin.json)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`pin ${file}: not valid JSON (${(e as Error).message})`);
  }
  return parsePin(raw, file);
}
