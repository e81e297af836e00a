// Publishing the set of platform packages all-or-nothing: publish-all's
// subcommands, once its flags are parsed. npm has no transactions; its staged
// publishing gives one (staged-publish.ts): `stage` puts every package up
// invisible, `approve` (a maintainer, 2FA) checks every staged version and
// approves the whole set back to back, or nothing; `reject` drops a stage. Before
// anything is written the preflight (publish-preflight.ts) checks our bytes
// against verify's record. A re-run recomputes everything from the registry,
// so it continues where an interrupted run stopped and ends in the same state.
// What each subcommand says at the end: publish-report.ts.
import { log, type Result } from '../core/cli.ts';
import { CheckFailed, OperationError, type Failure } from '../core/errors.ts';
import { isPublicRegistry, normaliseRegistry, PUBLIC_REGISTRY, type NpmClient } from '../core/npm-client.ts';
import { acquirePublishLock } from './publish-lock.ts';
import { readBack, type RegistryKind, type RetryPolicy } from './publish-rules.ts';
import { dryRunWrites, type SetMember } from './publish-preflight.ts';
import { approveReport, rejectReport, stageReport } from './publish-report.ts';
import { verifyPublished, type ManifestSet } from '../verify/published.ts';
import { LOCAL_REGISTRY_DIR, startLocalRegistry, stopLocalRegistry } from './local-registry.ts';
import {
  approveCommand,
  approveSet,
  describeStagePlan,
  executeStage,
  planStage,
  readPublishedState,
  writeStagedRecord,
} from './staged-publish.ts';
import { RegistryReader } from '../core/npm-client.ts';
import type { Target } from '../core/targets.ts';

// ---------------------------------------------------------------- registry

export interface OpenRegistry {
  url: string;
  kind: RegistryKind;
  /** --registry local: its storage folder */
  dir?: string;
  /** the local registry's maintainer token; for others, the caller reads NPM_TOKEN */
  token?: string;
  /** the local staging registry: its stand-in of GitHub's OIDC variables (trusted publishing, as in CI) */
  oidcEnv?: Record<string, string>;
  /** the local staging registry: the maintainer's current one-time code */
  otp?: () => string;
  stop(): Promise<void>;
}

/** Storage of `--registry local`: $XSNAP_REGISTRY_DIR, else .registry/. */
export const localRegistryDir = (env = process.env) => env.XSNAP_REGISTRY_DIR || LOCAL_REGISTRY_DIR;

/**
 * `--registry`: undefined -> the public npm registry; "local" -> the embedded
 * Verdaccio (started here, storage in localRegistryDir(); kept running after
 * we exit with `keep`); anything else is used as given.
 */
export async function openRegistry(flag: string | undefined, opts: { keep?: boolean } = {}): Promise<OpenRegistry> {
  if (flag === 'local') {
    const dir = localRegistryDir();
    const reg = await startLocalRegistry({ dir, detached: opts.keep });
    log.info(`local registry ${reg.url} (${reg.started ? 'started' : 'already running'}, storage ${dir})`);
    const rules = { oidcEnv: reg.rules.oidcEnv, otp: reg.rules.otp };
    return { url: reg.url, kind: 'local', dir, token: reg.token, ...rules, stop: () => reg.stop() };
  }
  const url = normaliseRegistry(flag ?? PUBLIC_REGISTRY);
  return { url, kind: isPublicRegistry(url) ? 'public' : 'custom', stop: async () => {} };
}

/** stop-registry: stop a local registry that --keep-registry left running. */
export async function stopKeptRegistry(): Promise<Result> {
  const dir = localRegistryDir();
  const stopped = await stopLocalRegistry(dir);
  if (stopped === 'not-ours') {
    throw new OperationError(
      `${dir}/server.json names a process that is not this folder's registry (or its URL does not answer): not stopping it. Remove ${dir}/server.json if no registry of ours runs there.`,
    );
  }
  const text =
    stopped === 'stopped' ? `stopped the local registry of ${dir}` : `no local registry was running for ${dir}`;
  return { json: { stopped: stopped === 'stopped', dir }, text };
}

/**
 * One run at a time per registry and version, from before the preflight's
 * reads to the end: two runs would interleave their bytes.
 */
export function lockPublish(registry: OpenRegistry, version: string): { release(): void } {
  return acquirePublishLock(registry.kind === 'local' ? `local:${registry.dir}` : registry.url, version);
}

// ---------------------------------------------------------------- stage

export interface StageContext {
  client: NpmClient;
  set: ManifestSet;
  /** the set's tarballs, verified against the manifest by the preflight */
  members: SetMember[];
  version: string;
  tag: string;
  dryRun: boolean;
  provenance: boolean;
  /** trusted publishing: the OIDC variables `npm stage publish` (alone) gets */
  oidcEnv?: Record<string, string>;
  registry: OpenRegistry;
  /** how the user named the registry ("local" or its URL), for the approve command */
  registryArg: string;
  dist: string;
  /** the local registry stays running afterwards */
  keep: boolean;
}

/**
 * stage: what the public packuments say (read anonymously), then
 * `npm stage publish` of each package not yet published, and nothing else:
 * the CI identity (trusted publishing) may do no more. Records the stage ids.
 */
export async function publishStaged(ctx: StageContext): Promise<Result> {
  const { set, members, version, tag, dryRun, registry } = ctx;
  const reader = new RegistryReader({ registry: registry.url });
  const states = await Promise.all(set.entries.map((e) => readPublishedState(reader, e, version)));
  const readFailures = states.flatMap((s) => (s.published.status === 'error' ? s.published.failures : []));
  if (readFailures.length) throw new CheckFailed(readFailures);
  const integrityOf = (pkg: string) => set.entries.find((e) => e.package === pkg)!.tarball.integrity;
  const plan = planStage({ version, registry: registry.url, registryKind: registry.kind, tag, states, integrityOf });
  log.step(`plan (stage${dryRun ? ', dry run' : ''})`);
  for (const line of describeStagePlan(plan)) log.info(line);
  if (plan.failures.length) return stageReport(plan, dryRun, { kind: 'refused' });
  if (plan.packages.every((p) => p.action === 'published')) return stageReport(plan, dryRun, { kind: 'nothing-to-do' });
  if (dryRun) {
    const toStage = plan.packages
      .filter((p) => p.action === 'stage')
      .map((p) => ({ package: p.package, subject: p.package }));
    const what = { command: 'npm stage publish', check: 'npm-stage-publish-dry-run' } as const;
    await dryRunWrites(toStage, members, what, (bytes) =>
      ctx.client.stagePublish(bytes, { tag, dryRun: true, provenance: false }),
    );
    return stageReport(plan, dryRun, { kind: 'dry-run' });
  }
  const { lines, failures } = await executeStage(plan, members, ctx.client, {
    provenance: ctx.provenance,
    oidcEnv: ctx.oidcEnv,
  });
  if (failures.length) return stageReport(plan, dryRun, { kind: 'not-finished', lines, failures });
  const approve = approveCommand(registry.url, ctx.registryArg, version);
  const staged = { version, registry: registry.url, tag, packages: lines, approve };
  const record = writeStagedRecord(ctx.dist, version, staged);
  return stageReport(plan, dryRun, { kind: 'staged', lines, approve, record, keep: ctx.keep });
}

// ---------------------------------------------------------------- approve, reject

export interface ApproveContext {
  client: NpmClient;
  set: ManifestSet;
  version: string;
  /** --tag, when given: the staged set's tag must be it */
  tag?: string;
  otp?: string;
  policy: RetryPolicy;
  registry: string;
  targets: Target[];
  keep: boolean;
  /** for the gate's reads */
  token?: string;
  /** how the user named the registry ("local" or its URL), for the commands we print */
  registryArg: string;
}

/** approve: all or nothing, then read back and the gate. */
export async function approveStaged(ctx: ApproveContext): Promise<Result> {
  const { client, set, version, registry } = ctx;
  const r = await approveSet({ client, entries: set.entries, version, tag: ctx.tag, otp: ctx.otp, policy: ctx.policy });
  const hints = { toReject: r.toReject, registryArg: ctx.registryArg };
  if (r.needsCode)
    return approveReport({ version, registry, outcomes: r.outcomes, windowMs: 0 }, { kind: 'needs-code', ...hints });
  const times = r.outcomes.map((o) => o.approvedAt).filter((x): x is number => typeof x === 'number');
  const windowMs = times.length ? Math.max(...times) - Math.min(...times) : 0;
  const report = { version, registry, outcomes: r.outcomes, windowMs };
  if (r.failures.length) {
    return approveReport(report, {
      kind: 'approval-failed',
      failures: r.failures,
      approvedNothing: r.approvedNothing,
      authUrl: r.authUrl,
      ...hints,
    });
  }
  log.step('reading every package back and running the gate');
  const gateFailures: Failure[] = [];
  for (const e of set.entries) {
    // the registry may serve an approved version a moment later: read until it does
    const back = await readBack(client, e, version, ctx.policy, { retryCorrupt: true, quiet: true });
    gateFailures.push(...back.failures);
  }
  const gate = await verifyPublished({
    dist: '',
    version,
    targets: ctx.targets,
    registry,
    tag: r.tag ?? undefined,
    manifestFile: set.file,
    token: ctx.token,
  });
  gateFailures.push(...gate.failures);
  if (gateFailures.length) return approveReport(report, { kind: 'gate-failed', failures: gateFailures });
  return approveReport(report, { kind: 'released', tag: r.tag, keep: ctx.keep, ...hints });
}

/** reject <id>: remove a staged version, and do nothing else. */
export async function rejectStaged(client: NpmClient, stageId: string, otp: string | undefined): Promise<Result> {
  await client.stageReject(stageId, otp);
  return rejectReport(stageId, client.registry);
}
