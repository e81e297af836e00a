// What publish-all says at the end of each of its modes: the closing lines on
// stdout, the JSON of --json, the Markdown step summary and the exit code, with
// the log line that goes with each outcome. Wording only: the decisions are
// made in publish.ts and the modules it calls.
import { log, type Result } from './cli.ts';
import { formatFailure, type Failure } from './errors.ts';
import type { ExecuteResult, PackageOutcome } from './publish-execute.ts';
import { describePlan, type Plan } from './publish-plan.ts';
import { describeStagePlan, type ApproveOutcome, type StagedLine, type StagePlan } from './staged-publish.ts';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const stillRunning = (registry: string) => `local registry still running at ${registry}`;
const fullyPublished = (version: string, registry: string) =>
  `nothing to do: ${version} is fully published on ${registry}`;

// ---------------------------------------------------------------- --via direct

/** Markdown table for $GITHUB_STEP_SUMMARY. */
export function summaryTable(plan: Plan, outcomes: PackageOutcome[] | undefined): string {
  const rows = plan.packages.map((p) => {
    const o = outcomes?.find((x) => x.package === p.package);
    const before = plan.dryRun ? 'dry run' : p.action === 'refuse' ? 'refused' : '-';
    const result = o ? `${o.publish}${o.verified ? ', verified' : ''}, tag ${o.tag}` : before;
    return `| \`${p.package}\` | ${p.remote} | ${p.action} | ${p.tag.current ?? 'unset'} | ${result} |`;
  });
  return [
    `### publish-all ${plan.version} to ${plan.registry}${plan.dryRun ? ' (dry run)' : ''}`,
    '',
    `| package | at ${plan.version} before | action | "${plan.tag}" before | outcome |`,
    '|---|---|---|---|---|',
    ...rows,
    '',
    ...plan.notes.map((n) => `> ${n}`),
  ].join('\n');
}

type Extra = Record<string, unknown>;

function directResult(plan: Plan, extra: Extra, exitCode: number, text: string[], outcomes?: PackageOutcome[]): Result {
  const json = { ok: exitCode === 0, plan, ...extra };
  return { json, text: text.join('\n'), summary: summaryTable(plan, outcomes), exitCode };
}

/** What a --via direct run that planned, and maybe executed, comes to. */
export type DirectOutcome =
  | { kind: 'refused' }
  | { kind: 'nothing-to-do' }
  | { kind: 'dry-run'; token: boolean }
  | { kind: 'executed'; result: ExecuteResult; keep: boolean };

export function directReport(plan: Plan, o: DirectOutcome): Result {
  const { version, registry, tag } = plan;
  if (o.kind === 'refused') {
    const refused = plan.packages.filter((p) => p.action === 'refuse');
    const fs: Failure[] = refused.map((p) => ({
      check: 'same-version-different-bytes',
      subject: `${p.package}@${version} on ${registry}`,
      expected: p.integrity,
      actual: p.remoteIntegrity ?? 'no integrity',
      hint: 'a published version can never change: nothing was written; release a new version',
    }));
    const names = refused.map((p) => p.package).join(', ');
    log.error(`refused: ${names} already hold other bytes at ${version}; nothing was written`);
    return directResult(plan, { failures: fs }, 1, [`refused: nothing was written`]);
  }
  if (o.kind === 'nothing-to-do') {
    log.ok(`nothing to do: every package is at ${version} with our bytes and "${tag}" points at it`);
    return directResult(plan, { nothingToDo: true }, 0, [fullyPublished(version, registry)]);
  }
  if (o.kind === 'dry-run') {
    const mayStart = `dry run: the real run may start${o.token ? '' : ' (once NPM_TOKEN is set)'}`;
    return directResult(plan, { dryRun: true }, 0, [...describePlan(plan), mayStart]);
  }
  const result = o.result;
  if (result.failures.length) {
    const names = [...new Set(result.outcomes.filter((x) => x.error).map((x) => x.package))];
    const moved = result.outcomes.filter((x) => x.tag === 'moved').map((x) => x.package);
    const next = result.resumable
      ? 'Re-run publish-all to continue.'
      : 'A re-run cannot finish it (see the failures above): nothing more will move; see RELEASING.md, "Incidents".';
    const where = moved.length ? `moved only on ${moved.join(', ')}` : 'was not moved on any package';
    const failed = names.length ? names.join(', ') : 'the set';
    const msg = `release ${version} not finished: ${failed} failed; "${tag}" ${where}. ${next}`;
    log.error(msg);
    for (const f of result.failures) log.error(`[${f.check}] ${f.subject}: ${f.actual ?? ''}`);
    return directResult(plan, { outcomes: result.outcomes, failures: result.failures }, 1, [msg], result.outcomes);
  }
  const lines = result.outcomes.map((x) => `${x.package}@${version}: ${x.publish}, verified, "${tag}" ${x.tag}`);
  if (o.keep) lines.push(stillRunning(registry));
  const extra = { outcomes: result.outcomes, warnings: result.warnings };
  return directResult(plan, extra, 0, [...lines, `released ${version} on ${registry}`], result.outcomes);
}

// ---------------------------------------------------------------- --via stage

/** What a --via stage run that planned, and maybe staged, comes to. */
export type StageOutcome =
  | { kind: 'refused' }
  | { kind: 'nothing-to-do' }
  | { kind: 'dry-run' }
  | { kind: 'not-finished'; lines: StagedLine[]; failures: Failure[] }
  | { kind: 'staged'; lines: StagedLine[]; approve: string; record: string; keep: boolean };

export function stageReport(plan: StagePlan, dryRun: boolean, o: StageOutcome): Result {
  const { version, registry } = plan;
  const head = `### publish-all ${version}: staged on ${registry}${dryRun ? ' (dry run)' : ''}`;
  const summary = (lines: string[]) => [head, '', '```', ...lines, '```'].join('\n');
  if (o.kind === 'refused') {
    for (const f of plan.failures) log.error(formatFailure(f));
    const json = { ok: false, via: 'stage', plan, failures: plan.failures };
    const text = 'refused: nothing was staged or approved';
    return { json, text, summary: summary(plan.failures.map((f) => formatFailure(f))), exitCode: 1 };
  }
  if (o.kind === 'nothing-to-do') {
    log.ok(`nothing to do: every package is published at ${version} with our bytes`);
    const json = { ok: true, via: 'stage', plan, nothingToDo: true };
    const text = fullyPublished(version, registry);
    return { json, text, summary: summary([`nothing to do: ${version} is published`]) };
  }
  if (o.kind === 'dry-run') {
    const text = [...describeStagePlan(plan), 'dry run: the real run may start'].join('\n');
    return { json: { ok: true, via: 'stage', plan, dryRun: true }, text, summary: summary(describeStagePlan(plan)) };
  }
  if (o.kind === 'not-finished') {
    const { failures } = o;
    for (const f of failures) log.error(formatFailure(f));
    const notOurs = (f: Failure) =>
      f.check === 'staged-other-bytes' || f.check === 'tarball-bytes' || f.check.startsWith('binary-');
    const next = failures.some(notOurs)
      ? 'A re-run cannot fix this: reject the stage that is not ours (publish-all --reject <id>), then re-run.'
      : 'Re-run publish-all --via stage to continue.';
    const problems = plural(failures.length, 'problem');
    const msg = `staging of ${version} not finished: ${problems}; nothing is approved or visible. ${next}`;
    log.error(msg);
    const json = { ok: false, via: 'stage', plan, staged: o.lines, failures };
    return { json, text: msg, summary: summary([msg, ...failures.map((f) => formatFailure(f))]), exitCode: 1 };
  }
  const { lines, approve } = o;
  const out = lines.map((l) => {
    const where = l.status === 'staged' ? `stage id ${l.stageId}` : 'published already';
    return `${l.package}@${l.version}  ${where}  ${l.integrity}`;
  });
  const waiting =
    'every package is staged (or published) with our bytes; ' +
    'nothing is installable until a maintainer approves the set:';
  const text = [...out, waiting, `  ${approve}`, `(written to ${o.record})`];
  if (o.keep) text.push(stillRunning(registry));
  for (const l of out) log.ok(l);
  log.step(`approve with: ${approve}`);
  return {
    json: { ok: true, via: 'stage', plan, staged: lines, approve, record: o.record },
    text: text.join('\n'),
    summary: [
      `### publish-all ${version}: staged on ${registry}, waiting for approval`,
      '',
      '| package | version | stage id | integrity |',
      '|---|---|---|---|',
      ...lines.map((l) => {
        const id = l.stageId ? `\`${l.stageId}\`` : 'published';
        return `| \`${l.package}\` | ${l.version} | ${id} | \`${l.integrity}\` |`;
      }),
      '',
      'Nothing is installable yet. A maintainer approves the whole set (2FA), ' +
        'which re-checks every staged version first:',
      '',
      '```sh',
      approve,
      '```',
      '',
      'Then run the `publish-release` workflow for this tag: it runs the gate and publishes the draft GitHub Release.',
    ].join('\n'),
  };
}

// ---------------------------------------------------------------- --approve, --reject

export interface ApproveReport {
  version: string;
  registry: string;
  outcomes: ApproveOutcome[];
  /** from the first approval returning to the last */
  windowMs: number;
}

/** What --approve comes to: approval failed (nothing, or halfway), the gate failed, or released. */
export type ApproveResult =
  | { kind: 'approval-failed'; failures: Failure[]; approvedNothing: boolean }
  | { kind: 'gate-failed'; failures: Failure[] }
  | { kind: 'released'; tag: string | null; keep: boolean };

export function approveReport(a: ApproveReport, o: ApproveResult): Result {
  const { version, registry, outcomes, windowMs } = a;
  const summaryOf = (head: string, failures: Failure[]) =>
    [
      `### publish-all --approve ${version} on ${registry}: ${head}`,
      '',
      '| package | stage id | result |',
      '|---|---|---|',
      ...outcomes.map((x) => `| \`${x.package}\` | ${x.stageId ?? '-'} | ${x.result} |`),
      ...(failures.length ? ['', ...failures.map((f) => `- ${formatFailure(f).replace(/\n\s+/g, '; ')}`)] : []),
    ].join('\n');
  if (o.kind === 'approval-failed') {
    for (const f of o.failures) log.error(formatFailure(f));
    const failed = outcomes.filter((x) => x.result === 'failed').map((x) => x.package);
    const msg = o.approvedNothing
      ? `approved nothing: ${plural(o.failures.length, 'problem')} (above); nothing of ${version} became visible`
      : `approval of ${version} stopped halfway: ${failed.join(', ')} not approved. ` +
        'Re-run publish-all --approve to approve the rest.';
    log.error(msg);
    const json = { ok: false, outcomes, failures: o.failures, windowMs };
    return { json, text: msg, summary: summaryOf('failed', o.failures), exitCode: 1 };
  }
  if (o.kind === 'gate-failed') {
    for (const f of o.failures) log.error(formatFailure(f));
    const json = { ok: false, outcomes, failures: o.failures, windowMs };
    const text = 'approved, but the gate fails: see above (RELEASING.md, "When something fails")';
    return { json, text, summary: summaryOf('gate failed', o.failures), exitCode: 1 };
  }
  const lines = outcomes.map((x) => `${x.package}@${version}: ${x.result}`);
  if (o.keep) lines.push(stillRunning(registry));
  const under = o.tag ? ` under "${o.tag}"` : '';
  log.ok(`the gate passes: every package of ${version} is installable with our bytes${under}`);
  const text = [...lines, `released ${version} on ${registry} (visibility window ${windowMs} ms)`].join('\n');
  return { json: { ok: true, outcomes, tag: o.tag, windowMs }, text, summary: summaryOf('released', []) };
}

export function rejectReport(stageId: string, registry: string): Result {
  log.ok(`rejected staged ${stageId} on ${registry}`);
  const summary = `### publish-all: rejected staged \`${stageId}\` on ${registry}`;
  return { json: { ok: true, rejected: stageId, registry }, text: `rejected ${stageId}`, summary };
}
