// Everything publish-all checks before it writes anything: our artifacts
// (verify-artifacts, and the tarballs against the manifest, keeping the bytes
// that get published), who may write (the token, or trusted publishing), and
// each write once with npm's --dry-run.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { log } from '../core/cli.ts';
import { CheckFailed, formatFailure, UsageError, type Failure } from '../core/errors.ts';
import { matchesIntegrity, sriSha512 } from '../core/hash.ts';
import { lastLines, oidcEnv, type NpmClient, type TarballBytes } from '../core/npm-client.ts';
import type { RegistryKind } from './publish-rules.ts';
import { readManifestSet, type ManifestEntry, type ManifestSet } from '../verify/published.ts';
import { readTarballFiles } from '../core/tarball.ts';
import { TARGET_NAMES, TARGETS, type Target } from '../core/targets.ts';
import { heldCredentials } from '../core/exec.ts';
import { verifiedRecordPath } from '../core/layout.ts';
import { spawnScript } from '../core/run-script.ts';
import { compareWithRecord, readVerifiedRecord, type VerifiedRecord } from '../verify/verified-record.ts';

// ---------------------------------------------------------------- our artifacts

export interface SetMember {
  entry: ManifestEntry;
  tarball: string;
  /**
   * the tarball's bytes as read and checked against the manifest in the
   * preflight; set only when they matched. These bytes, never the file in
   * dist/ (which could be swapped in the meantime), are what gets published.
   */
  bytes?: TarballBytes;
}

/** The member of the set for `pkg` (the set is the manifest's: every package has one). */
export function findMember(members: SetMember[], pkg: string): SetMember {
  const m = members.find((x) => x.entry.package === pkg);
  if (!m) throw new Error(`${pkg} is not a member of the set`);
  return m;
}

/** The verified bytes of a member; throws if the preflight did not verify them. */
export function verifiedBytes(m: SetMember): TarballBytes {
  if (!m.bytes) throw new Error(`${m.entry.package}: its tarball was not verified against the manifest`);
  return m.bytes;
}

/** Our tarballs, re-read: present, with the manifest's integrity and package.json name/version. */
export async function checkLocalTarballs(
  dist: string,
  set: ManifestSet,
): Promise<{ members: SetMember[]; failures: Failure[] }> {
  const failures: Failure[] = [];
  const members: SetMember[] = [];
  for (const entry of set.entries) {
    const tarball = join(dist, entry.tarball.name);
    members.push({ entry, tarball });
    if (!existsSync(tarball)) {
      failures.push({
        check: 'tarball-present',
        subject: `${entry.target}: ${tarball}`,
        expected: 'the staged npm tarball',
        actual: 'missing',
        hint: 'run scripts/stage-packages.ts',
      });
      continue;
    }
    const data = readFileSync(tarball);
    if (!matchesIntegrity(data, entry.tarball.integrity)) {
      failures.push({
        check: 'tarball-integrity',
        subject: `${entry.target}: ${tarball}`,
        expected: `${entry.tarball.integrity} (${set.file})`,
        actual: sriSha512(data),
        hint: 're-run generate-manifest.ts after stage-packages.ts',
      });
      continue;
    }
    const pj = (await readTarballFiles(data)).get('package/package.json');
    const meta = pj ? (JSON.parse(pj.data.toString()) as { name?: string; version?: string }) : {};
    if (meta.name !== entry.package || meta.version !== set.version) {
      failures.push({
        check: 'versions-align',
        subject: `${entry.target}: ${tarball} package/package.json`,
        expected: `${entry.package}@${set.version}`,
        actual: `${meta.name}@${meta.version}`,
      });
      continue;
    }
    members[members.length - 1].bytes = { name: basename(tarball), data };
  }
  return { members, failures };
}

export interface LocalPreflight {
  dist: string;
  version: string;
  targets: Target[];
  /** no verify record: the bytes are checked against the manifest only (tests of what comes after) */
  skipVerify: boolean;
  /** for the step line: where the run stages */
  registry: string;
  /** the record must come from this commit (the release run's, --expect-commit) */
  expectCommit?: string;
  /** how to make the record, for the hint: verify-artifacts' arguments */
  verifyArgs: string[];
}

/**
 * A dry run, started without any credential and before it opens a registry,
 * may make the verify record itself when there is none: verify-artifacts
 * --record, as a child. Anything else leaves a missing record to the preflight.
 */
export async function verifyFirstIfAllowed(dist: string, version: string, verifyArgs: string[]): Promise<void> {
  const recordFile = verifiedRecordPath(dist, version);
  if (existsSync(recordFile) || heldCredentials().length) return;
  log.step(`no ${recordFile}: running verify-artifacts --record first (this process holds no credential)`);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawnScript('verify-artifacts.ts', ['--record', ...verifyArgs], { stdio: ['ignore', 2, 2] });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0)
    throw new CheckFailed(
      [{ check: 'verify-artifacts', subject: dist, expected: 'verify-artifacts passes', actual: `exit ${code}` }],
      `verify-artifacts failed (exit ${code}; its failures are above): nothing was written`,
    );
}

/**
 * The local half of the preflight. What gets published must be what
 * verify-artifacts checked, but this process (or its job) holds the write
 * credentials, so it runs no binary: it reads verify's record
 * (dist/verified-X.Y.Z.json), the manifest and our tarballs, keeps the bytes
 * it will publish, and compares their sha256 with the record. Throws
 * CheckFailed: nothing was written.
 */
export async function preflightLocal(o: LocalPreflight): Promise<{ set: ManifestSet; members: SetMember[] }> {
  log.step(`preflight: ${o.version} to ${o.registry} (${o.targets.map((t) => t.name).join(', ')})`);
  const failures: Failure[] = [];
  const recordFile = verifiedRecordPath(o.dist, o.version);
  let record: VerifiedRecord | null = null;
  if (o.skipVerify)
    log.warn('no verify record used (--skip-verify): the tarballs are checked against the manifest only');
  else {
    record = readVerifiedRecord(o.dist, o.version);
    const held = heldCredentials();
    if (!record)
      failures.push({
        check: 'verified-record',
        subject: recordFile,
        expected: 'the record of a passing verify-artifacts --record',
        actual: 'missing',
        hint:
          `run npx tsx scripts/verify-artifacts.ts --record ${o.verifyArgs.join(' ')}` +
          (held.length
            ? ` in a shell without ${held.join(', ')}: a process holding a write credential runs no binary`
            : ''),
      });
  }
  const set = readManifestSet(o.dist, o.version, o.targets, undefined, { options: '--dist <dir>' });
  const manifestText = readFileSync(set.file);
  const local = await checkLocalTarballs(o.dist, set);
  failures.push(...local.failures);
  if (record) {
    const held = [
      { file: set.file, data: manifestText },
      ...local.members.flatMap((m) => (m.bytes ? [{ file: m.tarball, data: m.bytes.data }] : [])),
    ];
    failures.push(...compareWithRecord(record, recordFile, o.dist, held, o.expectCommit));
  }
  if (failures.length) {
    const n = `${failures.length} check${failures.length === 1 ? '' : 's'}`;
    const listed = failures.map((f) => '  ' + formatFailure(f)).join('\n');
    throw new CheckFailed(failures, `preflight failed, nothing was written: ${n} failed:\n` + listed);
  }
  log.ok(
    record
      ? `the manifest and tarballs are the bytes verify-artifacts checked (${recordFile})`
      : 'tarballs match the manifest',
  );
  return { set, members: local.members };
}

/** A registry that only ever holds a rehearsal: the embedded one, or any on a loopback address. */
export function isRehearsalRegistry(registry: { url: string; kind: RegistryKind }): boolean {
  if (registry.kind === 'local') return true;
  const host = new URL(registry.url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * A manifest with targets recorded as unmeasured (generate-manifest --allow-unmeasured) is a rehearsal's: it
 * goes to a rehearsal registry when asked (--allow-unmeasured), a dry run may go over it, and nothing else.
 */
export function checkMeasuredSet(
  set: ManifestSet,
  o: { allowUnmeasured: boolean; dryRun: boolean; registry: { url: string; kind: RegistryKind } },
): void {
  if (!set.unmeasured.length) return;
  const names = set.unmeasured.join(', ');
  const rehearsal = isRehearsalRegistry(o.registry);
  if (o.allowUnmeasured && (rehearsal || o.dryRun)) {
    log.warn(
      `${names}: behaviour not measured (the manifest says unmeasured): a rehearsal` +
        (rehearsal ? '' : `; the real publish to ${o.registry.url} refuses this manifest`),
    );
    return;
  }
  throw new CheckFailed([
    {
      check: 'manifest-measured',
      subject: `${set.file}: ${names}`,
      expected: 'every target with its behaviour measured where it runs (fingerprint, determinism)',
      actual: 'unmeasured (made with generate-manifest --allow-unmeasured): a rehearsal manifest',
      hint: rehearsal
        ? 'pass --allow-unmeasured to rehearse with it'
        : `a release to ${o.registry.url} needs the manifest made with the macOS legs' measurements ` +
          '(verify.yml, generate-manifest --fingerprints-from)',
    },
  ]);
}

// ---------------------------------------------------------------- who may write

/** The public registry gets the whole set, always: a subset is for other registries. */
export function checkWholeSet(kind: RegistryKind, targets: Target[], targetsFlag: string | undefined): void {
  if (kind === 'public' && targets.length !== TARGETS.length) {
    throw new UsageError(
      `the public npm registry gets the whole set (${TARGET_NAMES.join(', ')}); --targets ${targetsFlag} is only allowed on another registry`,
    );
  }
}

export interface AuthInput {
  /** the token the script read (NPM_TOKEN, NODE_AUTH_TOKEN, or the local registry's maintainer's) */
  token: string | undefined;
  command: 'stage' | 'approve' | 'reject';
  dryRun: boolean;
  registry: { url: string; kind: RegistryKind; oidcEnv?: Record<string, string> };
}

export interface PublishAuth {
  /**
   * trusted publishing: the OIDC variables to hand to `npm stage publish` (and
   * to nothing else); npm exchanges them for a token inside that one command
   */
  oidcEnv?: Record<string, string>;
  /** publish with --provenance */
  provenance: boolean;
}

/**
 * How this run may write, from the token the script read: trusted publishing
 * (no npm token; GitHub Actions' OIDC request variables, or the local
 * registry's stand-in of them) for staging, and provenance on the public
 * registry whenever the job may request an OIDC token. A run that would write
 * and cannot is a usage error before anything starts.
 */
export function publishAuth(o: AuthInput, env = process.env): PublishAuth {
  const actions = env.GITHUB_ACTIONS === 'true';
  const requestsOidc = actions && Boolean(env.ACTIONS_ID_TOKEN_REQUEST_URL);
  const staging = o.command === 'stage' && !o.token;
  const oidc = staging ? (requestsOidc ? oidcEnv(env) : o.registry.oidcEnv) : undefined;
  if (!o.token && !o.dryRun && !oidc) {
    const may = o.command === 'stage' ? 'publish' : 'approve staged versions';
    const trusted = o.command === 'stage' ? ' (in GitHub Actions, trusted publishing needs id-token: write)' : '';
    const set =
      o.command === 'stage' ? 'set NPM_TOKEN (or NODE_AUTH_TOKEN)' : `npm login to ${o.registry.url}, or set NPM_TOKEN`;
    throw new UsageError(`no token: ${set} to a token that may ${may} on ${o.registry.url}${trusted}`);
  }
  // provenance is signed with the job's OIDC identity: only where the job may request one (id-token: write)
  return { ...(oidc ? { oidcEnv: oidc } : {}), provenance: requestsOidc && o.registry.kind === 'public' };
}

/** The token works (npm whoami), or why it is not checked. */
export async function checkToken(client: NpmClient, token: string | undefined, oidc: boolean): Promise<void> {
  // under trusted publishing there is no token to check: npm whoami would be refused
  if (token) {
    const who = await client.whoami();
    log.ok(`token works: npm whoami = ${who}`);
  } else if (oidc) log.info('no npm token: trusted publishing (OIDC) authenticates npm stage publish');
  else log.warn('no NPM_TOKEN / NODE_AUTH_TOKEN: token check skipped (the real run needs one)');
}

// ---------------------------------------------------------------- each write, dry

/** Each write a real run would make, with npm's --dry-run, one package at a time; any failure: CheckFailed. */
export async function dryRunWrites(
  packages: Array<{ package: string; subject: string }>,
  members: SetMember[],
  what: { command: 'npm stage publish'; check: string },
  write: (bytes: TarballBytes) => Promise<{ code: number; stderr: string }>,
): Promise<void> {
  const failures: Failure[] = [];
  for (const p of packages) {
    const r = await write(verifiedBytes(findMember(members, p.package)));
    if (r.code === 0) log.ok(`${what.command} --dry-run ${p.package}`);
    else {
      const actual = `exit ${r.code}: ${lastLines(r.stderr)}`;
      failures.push({ check: what.check, subject: p.subject, expected: 'exit 0', actual });
    }
  }
  if (failures.length) throw new CheckFailed(failures);
}
