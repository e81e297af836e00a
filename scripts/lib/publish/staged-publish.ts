// Publishing the set with npm's staged publishing: nothing is visible until
// every package is staged with our bytes, checked, and approved by a person in
// one short burst. Each half does only what its credential may do on the
// public registry (RELEASING.md, "Who may write"):
//
//   stage    (CI: trusted publishing, which authorises `npm stage publish` and
//            nothing else) reads the public packuments anonymously, then runs
//            `npm stage publish` for each package not yet published, under
//            --tag, and reads each stage id from npm's output. No other stage
//            subcommand, no tag move. The ids, integrities and the command that
//            approves the set go to dist/release/staged-X.Y.Z.json and the step
//            summary. A re-run cannot list what it staged before: it stages
//            again, and where the registry answers "already staged" it says so;
//            the approval finds every stage and picks ours.
//   approve  (`approve`, a maintainer's own credentials and a one-time code)
//            lists the stages of every package, downloads and checks each one
//            (the record written at stage time is never trusted), picks ours
//            where several exist for the version and names the others to
//            reject, re-checks that latest only moves forward, and approves
//            the set back to back, or nothing. Without a code it approves
//            nothing and says how to pass one. A run stopped halfway (an
//            expired code) is finished by a re-run.
//   reject   (`reject <id>`) removes a stage.
import { mkdirSync } from 'node:fs';
import { writeFileAtomicSync } from '../core/fs.ts';
import { retrying } from '../core/retry.ts';
import { dirname } from 'node:path';
import { log } from '../core/cli.ts';
import { sriSha512 } from '../core/hash.ts';
import { nextStep, scriptHint, UsageError, type Failure } from '../core/errors.ts';
import { lastLines, type NpmClient, type RegistryReader, type StagedVersion } from '../core/npm-client.ts';
import {
  checkPublishedPackage,
  checkTarballBytes,
  type ManifestEntry,
  type PublishedCheck,
} from '../verify/published.ts';
import {
  backoffOf,
  isPublishConflict,
  latestMoveProblem,
  type RegistryKind,
  type RetryPolicy,
} from './publish-rules.ts';
import { findMember, verifiedBytes, type SetMember } from './publish-preflight.ts';
import type { TargetName } from '../core/targets.ts';
import { stagedRecordPath } from '../core/layout.ts';

// ---------------------------------------------------------------- the plan (stage)

export type StageAction = 'stage' | 'published' | 'refuse';

export interface StagePackagePlan {
  target: TargetName;
  package: string;
  integrity: string;
  action: StageAction;
  /** where the tag points now */
  tagNow: string | null;
  firstEverPublish: boolean;
  reason?: string;
}

export interface StagePlan {
  version: string;
  registry: string;
  tag: string;
  packages: StagePackagePlan[];
  failures: Failure[];
  notes: string[];
}

/** What the public packument says of a package at `version` (read anonymously: CI's identity may read nothing else). */
export interface StageState {
  target: TargetName;
  package: string;
  entry: ManifestEntry;
  published: PublishedCheck;
}

export async function readPublishedState(
  reader: RegistryReader,
  entry: ManifestEntry,
  version: string,
): Promise<StageState> {
  const published = await checkPublishedPackage(reader, entry, version);
  return { target: entry.target, package: entry.package, entry, published };
}

/** The one-time bootstrap of a package that has never been published (RELEASING.md, "Bootstrap"). */
export function bootstrapText(pkgs: string[], version: string): string {
  return [
    `${pkgs.join(', ')} ${pkgs.length === 1 ? 'has' : 'have'} never been published: staged publishing and trusted publishing need the package to exist.`,
    'One-time bootstrap, by a maintainer with 2FA (RELEASING.md, "Bootstrap a new platform package"):',
    ...pkgs.map(
      (p) =>
        `  npm publish <a placeholder ${p}@0.0.0-bootstrap.0 tarball> --tag bootstrap --access public   # then: npm trust github ${p} --file release.yml`,
    ),
    `then re-run publish-all stage for ${version}.`,
  ].join('\n');
}

/** Decide, from what the registry holds, what staging does; pure. */
/** What to stage, from what the registry publishes; pure. */
export function planStage(input: {
  version: string;
  registry: string;
  registryKind: RegistryKind;
  tag: string;
  states: StageState[];
  integrityOf: (pkg: string) => string;
}): StagePlan {
  const failures: Failure[] = [];
  const notes: string[] = [];
  const packages = input.states.map((s): StagePackagePlan => {
    const base = {
      target: s.target,
      package: s.package,
      integrity: input.integrityOf(s.package),
      tagNow: s.published.distTags[input.tag] ?? null,
      firstEverPublish: s.published.status === 'no-package',
    };
    if (s.published.status === 'ok')
      return { ...base, action: 'published', reason: 'already published with our bytes' };
    if (s.published.status !== 'absent' && s.published.status !== 'no-package') {
      failures.push(
        ...s.published.failures.map((f) => ({
          ...f,
          hint: f.hint ?? 'a published version can never change: release a new version',
        })),
      );
      return {
        ...base,
        action: 'refuse',
        reason: `the registry holds ${s.published.status} bytes at ${input.version}`,
      };
    }
    return { ...base, action: 'stage' };
  });
  const never = packages.filter((p) => p.firstEverPublish);
  if (never.length) {
    if (input.registryKind === 'public') {
      failures.push({
        check: 'package-exists',
        subject: never.map((p) => p.package).join(', '),
        expected: 'published before (staged publishing needs the package to exist)',
        actual: 'never published',
        hint: bootstrapText(
          never.map((p) => p.package),
          input.version,
        ),
      });
    } else {
      notes.push(
        `${never.map((p) => p.package).join(', ')}: never published on this registry; on the public registry they would need the one-time bootstrap (RELEASING.md)`,
      );
    }
  }
  const moving = packages.filter((p) => p.action === 'stage' && p.tagNow !== input.version);
  const problem = latestMoveProblem(
    input.tag,
    input.version,
    moving.map((p) => ({ package: p.package, current: p.tagNow })),
  );
  if (problem) throw new UsageError(`${problem.message}; nothing was staged.${nextStep(problem.hint)}`);
  return { version: input.version, registry: input.registry, tag: input.tag, packages, failures, notes };
}

export function describeStagePlan(plan: StagePlan): string[] {
  return [
    ...plan.packages.map((p) => {
      const what =
        p.action === 'stage'
          ? `stage ${plan.version} under "${plan.tag}" (invisible until a maintainer approves it)`
          : p.action === 'published'
            ? 'already published with our bytes'
            : `REFUSE: ${p.reason}`;
      return `${p.package.padEnd(28)} ${what}`;
    }),
    ...plan.notes.map((n) => `note: ${n}`),
  ];
}

// ---------------------------------------------------------------- stage

export interface StagedLine {
  package: string;
  version: string;
  /** the id npm printed; null when the registry said it was staged before (the approval lists it) */
  stageId: string | null;
  integrity: string;
  status: 'staged' | 'staged-before' | 'published';
}

export function approveCommand(registry: string, registryFlag: string, version: string): string {
  const command = scriptHint(
    'publish-all.ts',
    'approve',
    '--registry',
    registryFlag === 'local' ? 'local' : registry,
    '--otp <code>',
  );
  return `${command}   # ${version}`;
}

/** npm's "already staged" (Verdaccio answers 409 to a second stage of a version; npm's registry may take it). */
const alreadyStaged = (npmOutput: string) => /already staged/i.test(npmOutput);

/**
 * `npm stage publish` for each package the plan stages, all at once, and
 * nothing else: the lines to record, or failures. `oidcEnv`: the trusted
 * publishing variables, given to these commands alone.
 */
export async function executeStage(
  plan: StagePlan,
  members: SetMember[],
  client: NpmClient,
  opts: { provenance: boolean; oidcEnv?: Record<string, string> },
): Promise<{ lines: StagedLine[]; failures: Failure[] }> {
  const failures: Failure[] = [];
  const toStage = plan.packages.filter((p) => p.action === 'stage');
  if (toStage.length)
    log.step(`staging ${toStage.length} package${toStage.length === 1 ? '' : 's'} under "${plan.tag}" (invisible)`);
  const staged = await Promise.all(
    toStage.map(async (p): Promise<StagedLine | null> => {
      const r = await client.stagePublish(verifiedBytes(findMember(members, p.package)), {
        tag: plan.tag,
        provenance: opts.provenance,
        oidcEnv: opts.oidcEnv,
      });
      const line = { package: p.package, version: plan.version, integrity: p.integrity };
      if (r.code === 0 && r.id) {
        log.ok(`staged ${p.package}@${plan.version} as ${r.id}`);
        return { ...line, stageId: r.id, status: 'staged' };
      }
      if (r.code === 0)
        failures.push({
          check: 'stage-id',
          subject: `${p.package}@${plan.version}`,
          expected: 'npm stage publish prints "staged with id <id>"',
          actual: `no stage id in its output: ${lastLines(r.stdout + r.stderr, 2)}`,
          hint: 'staged, but this npm does not say as what: the approval lists the stages; check the npm version',
        });
      else if (alreadyStaged(r.stderr)) {
        log.warn(`${p.package}@${plan.version}: already staged (an earlier run); the approval lists and checks it`);
        return { ...line, stageId: null, status: 'staged-before' };
      } else
        failures.push({
          check: 'stage-publish',
          subject: `${p.package}@${plan.version}`,
          actual: `npm stage publish exit ${r.code}: ${lastLines(r.stderr)}`,
          hint: 'fix the cause and re-run: it stages what is not staged yet',
        });
      return null;
    }),
  );
  const lines: StagedLine[] = [];
  for (const p of plan.packages) {
    if (p.action === 'published')
      lines.push({
        package: p.package,
        version: plan.version,
        stageId: null,
        integrity: p.integrity,
        status: 'published',
      });
    const l = staged.find((x) => x?.package === p.package);
    if (l) lines.push(l);
  }
  return { lines, failures };
}

/**
 * dist/release/staged-X.Y.Z.json: what was staged and how to approve it, for
 * people (a release asset of the draft); approve never reads it.
 */
export function writeStagedRecord(dist: string, version: string, record: unknown): string {
  const file = stagedRecordPath(dist, version);
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomicSync(file, JSON.stringify(record, null, 2) + '\n');
  return file;
}

// ---------------------------------------------------------------- approve

export interface ApproveOutcome {
  package: string;
  stageId: string | null;
  result: 'approved' | 'already-published' | 'approved-elsewhere' | 'failed' | 'not-attempted';
  /** ms since the epoch when the approval returned (the version is installable from then on) */
  approvedAt?: number;
  error?: string;
}

/** Whether `version` is published with our integrity, read up to `attempts` times (with backoff) until it is. */
async function readApproved(
  client: NpmClient,
  entry: ManifestEntry,
  version: string,
  attempts: number,
  policy: RetryPolicy,
): Promise<PublishedCheck> {
  return retrying(() => checkPublishedPackage(client, entry, version, { download: false }), {
    attempts,
    ...backoffOf(policy),
    retryable: (r) => r.status !== 'ok' && r.status !== 'different',
    onRetry: (_r, wait) =>
      log.info(
        `${entry.package}@${version}: approval refused as already present, not readable yet; reading again in ${(wait / 1000).toFixed(1)} s`,
      ),
  });
}

/** One stage of a package at the version, downloaded and checked against the manifest now. */
export interface StagedCheck {
  stage: StagedVersion;
  /** the downloaded staged tarball matches the manifest */
  ours: boolean;
  integrity?: string;
  failures: Failure[];
}

/** A maintainer's view of one package: published (bytes checked), else every stage at `version`, each checked. */
export interface ApprovalState extends StageState {
  staged: StagedCheck[];
}

export async function readApprovalState(
  client: NpmClient,
  entry: ManifestEntry,
  version: string,
): Promise<ApprovalState> {
  const published = await checkPublishedPackage(client, entry, version);
  const staged: StagedCheck[] = [];
  if (published.status === 'absent' || published.status === 'no-package') {
    for (const stage of (await client.stageList(entry.package)).filter((s) => s.version === version)) {
      const data = await client.stageDownload(stage.id);
      const failures = await checkTarballBytes(
        data,
        entry,
        version,
        `${entry.package}@${version} staged as ${stage.id}${stage.actor ? ` by ${stage.actor}` : ''}`,
        `not our bytes: reject it with ${scriptHint('publish-all.ts', 'reject', stage.id, '--otp', '<code>')}`,
      );
      staged.push({ stage, ours: failures.length === 0, integrity: sriSha512(data), failures });
    }
  }
  return { target: entry.target, package: entry.package, entry, published, staged };
}

/**
 * Which stage of a version to approve: ours (our exact bytes), the oldest if a
 * re-run staged it more than once; every other stage, ours or not, is to be
 * rejected (once ours is approved, none of them can be). Pure.
 */
export function chooseStage(staged: StagedCheck[]): { chosen?: StagedCheck; toReject: StagedCheck[] } {
  const when = (x: StagedCheck) => x.stage.createdAt ?? '';
  const ours = staged
    .filter((x) => x.ours)
    .sort((a, b) => when(a).localeCompare(when(b)) || a.stage.id.localeCompare(b.stage.id));
  const chosen = ours[0];
  return { chosen, toReject: staged.filter((x) => x !== chosen) };
}

/** The authentication URL of npm's EOTP for an account with only a security key (npm prints it), if any. */
export function eotpAuthUrl(npmOutput: string): string | undefined {
  return /Open this URL in your browser to authenticate:[\s\S]*?(https?:\/\/\S+)/.exec(npmOutput)?.[1];
}

export interface ApproveSetResult {
  outcomes: ApproveOutcome[];
  failures: Failure[];
  approvedNothing: boolean;
  tag: string | null;
  /** stages to reject (not ours, or ours staged twice) */
  toReject: Array<{ package: string; stageId: string; why: string }>;
  /** everything checked, nothing approved: no one-time code was given */
  needsCode?: boolean;
  /** an approval answered EOTP with an authentication URL (an account with only a security key) */
  authUrl?: string;
}

/**
 * Re-check everything from the registry, approve all or nothing, read back.
 * Returns failures before any approval (nothing approved) or after.
 */
export async function approveSet(opts: {
  client: NpmClient;
  entries: ManifestEntry[];
  version: string;
  tag?: string;
  otp?: string;
  policy: RetryPolicy;
}): Promise<ApproveSetResult> {
  const { client, entries, version } = opts;
  log.step(`checking every staged version of ${version} (downloaded now, never the record written at stage time)`);
  const states = await Promise.all(entries.map((e) => readApprovalState(client, e, version)));
  const failures: Failure[] = [];
  const todo: Array<{ state: ApprovalState; stage: StagedVersion }> = [];
  const outcomes: ApproveOutcome[] = [];
  const toReject: ApproveSetResult['toReject'] = [];
  for (const s of states) {
    if (s.published.status === 'ok') {
      outcomes.push({ package: s.package, stageId: null, result: 'already-published' });
      continue;
    }
    if (s.published.status !== 'absent' && s.published.status !== 'no-package') {
      failures.push(...s.published.failures);
      continue;
    }
    const { chosen, toReject: others } = chooseStage(s.staged);
    for (const o of others)
      toReject.push({
        package: s.package,
        stageId: o.stage.id,
        why: o.ours ? 'our bytes, staged again by a re-run' : `other bytes (${o.integrity ?? 'unreadable'})`,
      });
    if (chosen) {
      todo.push({ state: s, stage: chosen.stage });
      continue;
    }
    failures.push(...s.staged.flatMap((o) => o.failures));
    if (!s.staged.length)
      failures.push({
        check: 'staged',
        subject: `${s.package}@${version} on ${client.registry}`,
        expected: 'staged with our bytes',
        actual: 'neither published nor staged',
        hint: `stage the set first: ${scriptHint('publish-all.ts', 'stage')}`,
      });
    else
      failures.push({
        check: 'staged',
        subject: `${s.package}@${version} on ${client.registry}`,
        expected: 'a stage with our bytes',
        actual: `${s.staged.length} stage${s.staged.length === 1 ? '' : 's'}, none with our bytes`,
        hint: 'reject them (above), then stage the set again',
      });
  }
  // every version of the set goes out under one tag, the one given at stage time
  const tags = [...new Set(todo.map((x) => x.stage.tag))];
  if (tags.length > 1)
    failures.push({
      check: 'staged-tag',
      subject: `the staged set of ${version}`,
      expected: 'one tag for the whole set',
      actual: todo.map((x) => `${x.state.package}: "${x.stage.tag}"`).join(', '),
      hint: 'reject the odd one and stage it again with the same --tag',
    });
  const tag = tags[0] ?? opts.tag ?? null;
  if (opts.tag && tag && tag !== opts.tag)
    failures.push({
      check: 'staged-tag',
      subject: `the staged set of ${version}`,
      expected: `"${opts.tag}" (--tag)`,
      actual: `"${tag}"`,
    });
  if (tag) {
    const problem = latestMoveProblem(
      tag,
      version,
      todo.map((x) => ({ package: x.state.package, current: x.state.published.distTags[tag] ?? null })),
    );
    if (problem)
      failures.push({
        check: 'latest-forward',
        subject: `"${tag}" on ${todo.map((x) => x.state.package).join(', ')} (read just now)`,
        expected: `at most ${version}`,
        actual: problem.message,
        hint: `approving would move it backwards: reject the stages (publish-all reject <id>) and stage again with ${problem.hint.replace(/^publish .* under /, '')}`,
      });
  }
  const notAttempted = () => [
    ...outcomes,
    ...todo.map((x) => ({ package: x.state.package, stageId: x.stage.id, result: 'not-attempted' as const })),
  ];
  if (failures.length) {
    log.error(`approving nothing: ${failures.length} problem${failures.length === 1 ? '' : 's'}`);
    return { outcomes: notAttempted(), failures, approvedNothing: true, tag, toReject };
  }
  // every write but a stage publish needs a one-time code (RELEASING.md): without
  // one, approving would fail on the first package; everything is checked, so say so
  if (todo.length && !opts.otp) {
    log.warn(`every staged version of ${version} checked; approving needs a one-time code: nothing approved`);
    return { outcomes: notAttempted(), failures: [], approvedNothing: true, tag, toReject, needsCode: true };
  }
  if (todo.length) log.step(`approving ${todo.length} staged package${todo.length === 1 ? '' : 's'} back to back`);
  let authUrl: string | undefined;
  // back to back: all approvals in flight at once, so the set becomes installable within moments
  const approved = await Promise.all(
    todo.map(async ({ state, stage }): Promise<ApproveOutcome> => {
      const r = await client.stageApprove(stage.id, opts.otp);
      const at = Date.now();
      if (r.code === 0) {
        log.ok(`approved ${state.package}@${version} (${stage.id})`);
        return { package: state.package, stageId: stage.id, result: 'approved', approvedAt: at };
      }
      // a concurrent approval (another maintainer, another run) may have won: the
      // registry decides. Its "already present" can come while the winner is still
      // writing the version (Verdaccio stores the tarball first), so a conflict is
      // read back with backoff; any other failure is looked at once.
      const now = await readApproved(
        client,
        state.entry,
        version,
        isPublishConflict(r.stderr) ? opts.policy.readAttempts : 1,
        opts.policy,
      );
      if (now.status === 'ok') {
        log.warn(
          `${state.package}@${version}: approval answered exit ${r.code}, but the version is published with our integrity (approved elsewhere)`,
        );
        return { package: state.package, stageId: stage.id, result: 'approved-elsewhere' };
      }
      authUrl ??= eotpAuthUrl(r.stderr);
      return {
        package: state.package,
        stageId: stage.id,
        result: 'failed',
        error: `npm stage approve ${stage.id} exit ${r.code}: ${lastLines(r.stderr)}`,
      };
    }),
  );
  outcomes.push(...approved);
  for (const o of approved.filter((x) => x.result === 'failed')) {
    failures.push({
      check: 'approve',
      subject: `${o.package}@${version} (${o.stageId})`,
      actual: o.error,
      hint: 'fix the cause (a fresh one-time code, the network) and re-run publish-all approve: it approves the rest',
    });
  }
  const approvedNothing = approved.every((x) => x.result === 'failed');
  return { outcomes, failures, approvedNothing, tag, toReject, ...(authUrl ? { authUrl } : {}) };
}
