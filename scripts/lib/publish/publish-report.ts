// What publish-all says at the end of each of its modes: the closing lines on
// stdout, the JSON of --json, the Markdown step summary and the exit code, with
// the log line that goes with each outcome. Wording only: the decisions are
// made in publish.ts and the modules it calls.
import { log, type Result } from '../core/cli.ts';
import { formatFailure, scriptHint, type Failure } from '../core/errors.ts';
import { describeStagePlan, type ApproveOutcome, type StagedLine, type StagePlan } from './staged-publish.ts';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const stillRunning = (registry: string) => `local registry still running at ${registry}`;
const fullyPublished = (version: string, registry: string) =>
  `nothing to do: ${version} is fully published on ${registry}`;

// ---------------------------------------------------------------- stage

/** What a stage run that planned, and maybe staged, comes to. */
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
      ? 'A re-run cannot fix this: reject the stage that is not ours (publish-all reject <id>), then re-run.'
      : 'Re-run publish-all stage to continue.';
    const problems = plural(failures.length, 'problem');
    const msg = `staging of ${version} not finished: ${problems}; nothing is approved or visible. ${next}`;
    log.error(msg);
    const json = { ok: false, via: 'stage', plan, staged: o.lines, failures };
    return { json, text: msg, summary: summary([msg, ...failures.map((f) => formatFailure(f))]), exitCode: 1 };
  }
  const { lines, approve } = o;
  const out = lines.map((l) => {
    const where =
      l.status === 'staged'
        ? `stage id ${l.stageId}`
        : l.status === 'staged-before'
          ? 'staged before (the approval lists it)'
          : 'published already';
    return `${l.package}@${l.version}  ${where}  ${l.integrity}`;
  });
  const waiting =
    'every package is staged (or published) with our bytes; nothing is installable until a maintainer approves the set:';
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
        const id = l.stageId ? `\`${l.stageId}\`` : l.status === 'published' ? 'published' : 'staged before';
        return `| \`${l.package}\` | ${l.version} | ${id} | \`${l.integrity}\` |`;
      }),
      '',
      'Nothing is installable yet. A maintainer approves the whole set with their own login and a one-time code; the approval downloads and checks every staged version first:',
      '',
      '```sh',
      approve,
      '```',
      '',
      'Then run the `publish-release` workflow for this tag: it runs the gate and publishes the draft GitHub Release.',
    ].join('\n'),
  };
}

// ---------------------------------------------------------------- approve, reject

export interface ApproveReport {
  version: string;
  registry: string;
  outcomes: ApproveOutcome[];
  /** from the first approval returning to the last */
  windowMs: number;
}

/** Stages to reject, and how the commands name the registry. */
export interface ApproveHints {
  toReject: Array<{ package: string; stageId: string; why: string }>;
  registryArg: string;
}

/** What approve comes to: no code given, approval failed (nothing, or halfway), the gate failed, or released. */
export type ApproveResult =
  | ({ kind: 'needs-code' } & ApproveHints)
  | ({ kind: 'approval-failed'; failures: Failure[]; approvedNothing: boolean; authUrl?: string } & ApproveHints)
  | { kind: 'gate-failed'; failures: Failure[] }
  | ({ kind: 'released'; tag: string | null; keep: boolean } & ApproveHints);

/** The by-hand `npm stage approve <id>` of each stage we would approve (an account with only a security key). */
function byHand(outcomes: ApproveOutcome[], registry: string): string[] {
  return outcomes
    .filter((x) => x.stageId && (x.result === 'not-attempted' || x.result === 'failed'))
    .map((x) => `  npm stage approve ${x.stageId} --registry ${registry}   # ${x.package}`);
}

function rejectLines(h: ApproveHints): string[] {
  if (!h.toReject.length) return [];
  const where = h.registryArg === 'local' ? 'local' : h.registryArg;
  return [
    `${plural(h.toReject.length, 'other stage')} of this version to reject (none can be approved once ours is):`,
    ...h.toReject.map(
      (r) =>
        `  ${scriptHint('publish-all.ts', 'reject', r.stageId, '--registry', where, '--otp', '<code>')}   # ${r.package}: ${r.why}`,
    ),
  ];
}

export function approveReport(a: ApproveReport, o: ApproveResult): Result {
  const { version, registry, outcomes, windowMs } = a;
  const summaryOf = (head: string, failures: Failure[], extra: string[] = []) =>
    [
      `### publish-all approve ${version} on ${registry}: ${head}`,
      '',
      '| package | stage id | result |',
      '|---|---|---|',
      ...outcomes.map((x) => `| \`${x.package}\` | ${x.stageId ?? '-'} | ${x.result} |`),
      ...(failures.length ? ['', ...failures.map((f) => `- ${formatFailure(f).replace(/\n\s+/g, '; ')}`)] : []),
      ...(extra.length ? ['', '```', ...extra, '```'] : []),
    ].join('\n');
  if (o.kind === 'needs-code') {
    const ready = outcomes.filter((x) => x.result === 'not-attempted');
    const again = scriptHint('publish-all.ts', 'approve', '--registry', o.registryArg, '--otp', '<code>');
    const lines = [
      `checked: ${plural(ready.length, 'staged package')} of ${version} hold our bytes and are ready; ` +
        'approved nothing: approving needs a one-time code (2FA)',
      `  ${again}   # the code from your authenticator app`,
      ...(o.registryArg === 'local'
        ? ["  (the local registry's authenticator: node scripts/lib/publish/registry-rules.mjs --otp .registry)"]
        : []),
      'An account with only a security key: approve each by hand in a terminal, one after the other (npm opens the browser for each):',
      ...byHand(outcomes, registry),
      ...rejectLines(o),
    ];
    for (const l of lines) log.warn(l);
    const json = { ok: false, needsCode: true, outcomes, toReject: o.toReject, windowMs };
    return { json, text: lines.join('\n'), summary: summaryOf('waiting for a one-time code', [], lines), exitCode: 1 };
  }
  if (o.kind === 'approval-failed') {
    for (const f of o.failures) log.error(formatFailure(f));
    const failed = outcomes.filter((x) => x.result === 'failed').map((x) => x.package);
    const msg = o.approvedNothing
      ? `approved nothing: ${plural(o.failures.length, 'problem')} (above); nothing of ${version} became visible`
      : `approval of ${version} stopped halfway: ${failed.join(', ')} not approved. ` +
        'Re-run publish-all approve to approve the rest.';
    log.error(msg);
    const extra = o.authUrl
      ? [
          `the registry asks for a security key, not a code: open ${o.authUrl} to authenticate,`,
          'or approve each by hand in a terminal (each approval is challenged separately):',
          ...byHand(outcomes, registry),
        ]
      : [];
    extra.push(...rejectLines(o));
    for (const l of extra) log.error(l);
    const json = { ok: false, outcomes, failures: o.failures, windowMs, toReject: o.toReject, authUrl: o.authUrl };
    return { json, text: [msg, ...extra].join('\n'), summary: summaryOf('failed', o.failures, extra), exitCode: 1 };
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
  const reject = rejectLines(o);
  for (const l of reject) log.warn(l);
  const text = [...lines, ...reject, `released ${version} on ${registry} (visibility window ${windowMs} ms)`].join(
    '\n',
  );
  const json = { ok: true, outcomes, tag: o.tag, windowMs, toReject: o.toReject };
  return { json, text, summary: summaryOf('released', [], reject) };
}

export function rejectReport(stageId: string, registry: string): Result {
  log.ok(`rejected staged ${stageId} on ${registry}`);
  const summary = `### publish-all: rejected staged \`${stageId}\` on ${registry}`;
  return { json: { ok: true, rejected: stageId, registry }, text: `rejected ${stageId}`, summary };
}
