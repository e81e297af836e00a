// Publishing the set with npm's staged publishing (`publish-all --via stage`):
// nothing is visible until every package is staged with our bytes, checked,
// and approved by a person in one short burst.
//
//   stage    the preflight as for a direct publish; then `npm stage publish` of
//            each package not yet on the registry nor staged, under --tag; then
//            every staged version is downloaded (`npm stage download`) and
//            checked against the manifest. The stage ids and the command that
//            approves the set are printed and written to dist/staged-X.Y.Z.json.
//   approve  (`--approve`, a maintainer) every staged version is downloaded
//            again and re-checked (the file written at stage time is never
//            trusted), the latest-only-forward rule is re-checked against the
//            registry now; if anything is off nothing is approved. Otherwise
//            all are approved back to back, read back, and the gate runs.
//            A run stopped halfway (an expired one-time code) is finished by a re-run.
//   reject   (`--reject <id>`) removes a bad stage.
import { mkdirSync, writeFileSync } from 'node:fs';
import { log } from './cli.ts';
import { sriSha512 } from './hash.ts';
import { nextStep, scriptHint, UsageError, type Failure } from './errors.ts';
import { lastLines, type NpmClient, type StagedVersion } from './npm-client.ts';
import { checkPublishedPackage, checkTarballBytes, type ManifestEntry, type PublishedCheck } from './published.ts';
import { backoff, isPublishConflict, type RetryPolicy } from './publish-execute.ts';
import { latestMoveProblem, type RegistryKind } from './publish-plan.ts';
import { findMember, verifiedBytes, type SetMember } from './publish-preflight.ts';
import type { TargetName } from './targets.ts';
import { stagedRecordPath } from './layout.ts';

// ---------------------------------------------------------------- what the registry holds

export interface StagedCheck {
  stage: StagedVersion;
  /** the downloaded staged tarball matches the manifest */
  ours: boolean;
  integrity?: string;
  failures: Failure[];
}

export interface StageState {
  target: TargetName;
  package: string;
  entry: ManifestEntry;
  published: PublishedCheck;
  /** staged versions at X.Y.Z, each downloaded and checked now */
  staged: StagedCheck[];
}

/**
 * What the registry holds for one package at `version`: published (bytes checked) and staged (each downloaded and
 * checked).
 */
export async function readStageState(client: NpmClient, entry: ManifestEntry, version: string): Promise<StageState> {
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
        `these are not our bytes: ` +
          `reject it with ${scriptHint('publish-all.ts', '--reject', stage.id)} (or npm stage reject ${stage.id})`,
      );
      staged.push({ stage, ours: failures.length === 0, integrity: sriSha512(data), failures });
    }
  }
  return { target: entry.target, package: entry.package, entry, published, staged };
}

// ---------------------------------------------------------------- the plan

export type StageAction = 'stage' | 'staged' | 'published' | 'refuse';

export interface StagePackagePlan {
  target: TargetName;
  package: string;
  integrity: string;
  action: StageAction;
  /** the stage id, once staged */
  stageId?: string;
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

/** The one-time bootstrap of a package that has never been published (RELEASING.md, "Bootstrap"). */
export function bootstrapText(pkgs: string[], version: string): string {
  return [
    `${pkgs.join(', ')} ${pkgs.length === 1 ? 'has' : 'have'} never been published: staged ` +
      `publishing and trusted publishing need the package to exist.`,
    'One-time bootstrap, by a maintainer with 2FA (RELEASING.md, "Bootstrap a new platform package"):',
    ...pkgs.map(
      (p) =>
        `  npm publish <a placeholder ${p}@0.0.0-bootstrap.0 tarball> --tag bootstrap --access ` +
        `public   # then: npm trust github ${p} --file release.yml`,
    ),
    `then re-run publish-all --via stage for ${version}.`,
  ].join('\n');
}

/** Decide, from what the registry holds, what staging does; pure. */
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
    const others = s.staged.filter((x) => !x.ours);
    if (others.length) {
      for (const o of others) {
        failures.push({
          check: 'staged-other-bytes',
          subject: `${s.package}@${input.version} staged as ${o.stage.id}${
            o.stage.actor ? ` by ` + `${o.stage.actor}` : ''
          }`,
          expected: base.integrity,
          actual: o.integrity ?? 'unreadable',
          hint:
            `not our bytes: nothing was staged or approved; ` +
            `reject it with ${scriptHint('publish-all.ts', '--reject', o.stage.id, '--registry', input.registry)}` +
            ` (or npm stage reject ${o.stage.id}), then re-run`,
        });
      }
      return { ...base, action: 'refuse', reason: 'staged with other bytes' };
    }
    const mine = s.staged.find((x) => x.ours);
    if (mine)
      return {
        ...base,
        action: 'staged',
        stageId: mine.stage.id,
        reason: `already staged with our bytes (${mine.stage.id})`,
      };
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
        `${never.map((p) => p.package).join(', ')}: never published on this registry; on the public ` +
          `registry they would need the one-time bootstrap (RELEASING.md)`,
      );
    }
  }
  const moving = packages.filter(
    (p) => p.action !== 'published' && p.action !== 'refuse' && p.tagNow !== input.version,
  );
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
          ? `stage ${plan.version} under "${plan.tag}" (invisible until approved), download and check it`
          : p.action === 'staged'
            ? `${p.reason}; download and check it again`
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
  stageId: string | null;
  integrity: string;
  status: 'staged' | 'published';
}

export function approveCommand(registry: string, registryFlag: string, version: string): string {
  const command = scriptHint(
    'publish-all.ts',
    '--approve',
    '--registry',
    registryFlag === 'local' ? 'local' : registry,
    '[--otp <code>]',
  );
  return `${command}   # ${version}`;
}

/**
 * Stage what the plan says, then download every staged version of the set and check it; the result lines, or failures.
 */
export async function executeStage(
  plan: StagePlan,
  members: SetMember[],
  client: NpmClient,
  opts: { provenance: boolean; oidc: boolean; policy: RetryPolicy },
): Promise<{ lines: StagedLine[]; failures: Failure[] }> {
  const failures: Failure[] = [];
  const memberOf = (pkg: string) => findMember(members, pkg);
  const toStage = plan.packages.filter((p) => p.action === 'stage');
  if (toStage.length)
    log.step(
      `staging ${toStage.length} package${toStage.length === 1 ? '' : 's'} under "${plan.tag}" (invisible until ` +
        `approved)`,
    );
  await Promise.all(
    toStage.map(async (p) => {
      const r = await client.stagePublish(verifiedBytes(memberOf(p.package)), {
        tag: plan.tag,
        provenance: opts.provenance,
        oidc: opts.oidc,
      });
      if (r.code === 0) log.ok(`staged ${p.package}@${plan.version}${r.id ? ` as ${r.id}` : ''}`);
      else if (/already staged/i.test(r.stderr))
        log.warn(`${p.package}@${plan.version}: already staged (a concurrent or earlier run); checking what is staged`);
      else
        failures.push({
          check: 'stage-publish',
          subject: `${p.package}@${plan.version}`,
          actual: `npm stage publish exit ${r.code}: ${lastLines(r.stderr)}`,
          hint: 'fix the cause and re-run: packages already staged with our bytes are kept',
        });
    }),
  );

  log.step('downloading every staged version and checking it against the manifest');
  const lines: StagedLine[] = [];
  // every package at once (the local registry's crash under parallel staged downloads
  // was Verdaccio's, worked around in verdaccio-workarounds.mjs); reported in plan order
  const checked = plan.packages.filter((x) => x.action !== 'refuse');
  const states = await Promise.all(checked.map((p) => readStageState(client, memberOf(p.package).entry, plan.version)));
  for (const [i, p] of checked.entries()) {
    const state = states[i];
    if (state.published.status === 'ok') {
      lines.push({
        package: p.package,
        version: plan.version,
        stageId: null,
        integrity: p.integrity,
        status: 'published',
      });
      continue;
    }
    const bad = state.staged.filter((s) => !s.ours);
    failures.push(...bad.flatMap((s) => s.failures));
    const mine = state.staged.filter((s) => s.ours);
    if (!mine.length && !bad.length && !failures.some((f) => f.subject.startsWith(p.package))) {
      failures.push({
        check: 'staged',
        subject: `${p.package}@${plan.version}`,
        expected: 'staged with our bytes',
        actual: 'not staged',
        hint: 're-run publish-all --via stage',
      });
    }
    if (mine.length && !bad.length) {
      lines.push({
        package: p.package,
        version: plan.version,
        stageId: mine[0].stage.id,
        integrity: mine[0].integrity!,
        status: 'staged',
      });
      log.ok(`${p.package}@${plan.version}: staged as ${mine[0].stage.id} with our tarball and binaries`);
    }
  }
  const order = plan.packages.map((p) => p.package);
  lines.sort((a, b) => order.indexOf(a.package) - order.indexOf(b.package));
  return { lines, failures };
}

/** dist/staged-X.Y.Z.json: what was staged and how to approve it (a record for people; --approve never reads it). */
export function writeStagedRecord(dist: string, version: string, record: unknown): string {
  mkdirSync(dist, { recursive: true });
  const file = stagedRecordPath(dist, version);
  writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
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
  let last = await checkPublishedPackage(client, entry, version, { download: false });
  for (let attempt = 1; last.status !== 'ok' && last.status !== 'different' && attempt < attempts; attempt++) {
    const wait = backoff(policy, attempt);
    log.info(
      `${entry.package}@${version}: approval refused as already present, not readable yet; ` +
        `reading again in ${(wait / 1000).toFixed(1)} s`,
    );
    await new Promise((r) => setTimeout(r, wait));
    last = await checkPublishedPackage(client, entry, version, { download: false });
  }
  return last;
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
}): Promise<{ outcomes: ApproveOutcome[]; failures: Failure[]; approvedNothing: boolean; tag: string | null }> {
  const { client, entries, version } = opts;
  log.step(`re-checking every staged version of ${version} (downloaded now, never the record written at stage time)`);
  const states = await Promise.all(entries.map((e) => readStageState(client, e, version)));
  const failures: Failure[] = [];
  const todo: Array<{ state: StageState; stage: StagedVersion }> = [];
  const outcomes: ApproveOutcome[] = [];
  for (const s of states) {
    if (s.published.status === 'ok') {
      outcomes.push({ package: s.package, stageId: null, result: 'already-published' });
      continue;
    }
    if (s.published.status !== 'absent' && s.published.status !== 'no-package') {
      failures.push(...s.published.failures);
      continue;
    }
    for (const o of s.staged.filter((x) => !x.ours)) failures.push(...o.failures);
    const mine = s.staged.filter((x) => x.ours);
    if (!mine.length && !s.staged.length)
      failures.push({
        check: 'staged',
        subject: `${s.package}@${version} on ${client.registry}`,
        expected: 'staged with our bytes',
        actual: 'neither published nor staged',
        hint: `stage the set first: ${scriptHint('publish-all.ts', '--via', 'stage')}`,
      });
    if (mine.length) todo.push({ state: s, stage: mine[0].stage });
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
        hint:
          `approving would move it backwards: reject the stages (publish-all --reject <id>) and ` +
          `stage again with ${problem.hint.replace(/^publish .* under /, '')}`,
      });
  }
  if (failures.length) {
    log.error(`approving nothing: ${failures.length} problem${failures.length === 1 ? '' : 's'}`);
    return {
      outcomes: [
        ...outcomes,
        ...todo.map((x) => ({ package: x.state.package, stageId: x.stage.id, result: 'not-attempted' as const })),
      ],
      failures,
      approvedNothing: true,
      tag,
    };
  }
  if (todo.length) log.step(`approving ${todo.length} staged package${todo.length === 1 ? '' : 's'} back to back`);
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
          `${state.package}@${version}: approval answered exit ${r.code}, but the version is ` +
            `published with our integrity (approved elsewhere)`,
        );
        return { package: state.package, stageId: stage.id, result: 'approved-elsewhere' };
      }
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
      hint: 'fix the cause (a fresh one-time code, the network) and re-run publish-all --approve: it approves the rest',
    });
  }
  return { outcomes, failures, approvedNothing: approved.every((x) => x.result === 'failed'), tag };
}
