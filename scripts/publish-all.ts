#!/usr/bin/env -S npx tsx
// Stage 5: publish every platform package at X.Y.Z, all or nothing.
// See scripts/lib/publish.ts for how "all or nothing" is built from dist-tags.
import { runCommand, log, stringFlag, registerSecret, PIN_OPTION, distOption, type Result } from './lib/cli.ts';
import { CheckFailed, OperationError, UsageError, formatFailure, type Failure } from './lib/errors.ts';
import { acquirePublishLock } from './lib/publish-lock.ts';
import { checkStageId, tokenFromEnv, lastLines, withNpmClient, type NpmClient } from './lib/npm-client.ts';
import { distDir } from './lib/paths.ts';
import { readPin, pinPath } from './lib/pin.ts';
import { checkPublishedPackage, readManifestSet, verifyPublished, type ManifestSet } from './lib/published.ts';
import {
  checkDistTag, checkLocalTarballs, describePlan, executePlan, openRegistry, planRelease, retryPolicyFromEnv, summaryTable, verifiedBytes,
  type Plan, type PlanInput, type RegistryKind, type RetryPolicy, type SetMember,
} from './lib/publish.ts';
import { approveCommand, approveSet, describeStagePlan, executeStage, planStage, readStageState, writeStagedRecord } from './lib/staged-publish.ts';
import { TARGET_NAMES, TARGETS, parseTargetList, type Target } from './lib/targets.ts';
import { verifyArtifacts } from './lib/verify.ts';
import { LOCAL_REGISTRY_DIR, stopLocalRegistry } from './lib/local-registry.ts';

const spec = {
  name: 'publish-all.ts',
  summary: 'publish every @agoric/xsnap-<target> package at the pinned version, all or nothing, resumable',
  usage: 'npx tsx scripts/publish-all.ts [--via stage|direct] [--dry-run] [--registry <url>|local] [--tag <tag>] [--targets a,b] [options]\n       npx tsx scripts/publish-all.ts --approve [--otp <code>] [--registry <url>|local]   (a maintainer, after --via stage)\n       npx tsx scripts/publish-all.ts --reject <stage-id> [--otp <code>] [--registry <url>|local]',
  options: [
    { name: 'via', type: 'string' as const, valueName: 'stage|direct', description: 'stage: npm staged publishing (nothing visible until --approve); direct: publish under a staging dist-tag, then move --tag', default: 'stage for the public registry and local, direct for any other URL' },
    { name: 'approve', type: 'boolean' as const, description: 'approve the staged set: re-download and re-check every staged version, re-check latest, approve all (or nothing), read back, run the gate' },
    { name: 'reject', type: 'string' as const, valueName: 'stage-id', description: 'remove a staged version (e.g. one staged with other bytes), and do nothing else' },
    { name: 'otp', type: 'string' as const, valueName: 'code', description: 'one-time code (2FA) for --approve / --reject' },
    { name: 'dry-run', type: 'boolean' as const, description: 'run every check that does not write (npm publish --dry-run, whoami when a token is given) and print the plan' },
    { name: 'registry', type: 'string' as const, valueName: 'url|local', description: '"local" starts the embedded Verdaccio; any other URL is used as given', default: 'https://registry.npmjs.org/' },
    { name: 'tag', type: 'string' as const, valueName: 'tag', description: 'dist-tag to move to X.Y.Z once the whole set is verified', default: 'latest' },
    { name: 'targets', type: 'string' as const, valueName: 'a,b', description: `subset of ${TARGET_NAMES.join(',')} (not allowed on the public registry)`, default: 'all' },
    distOption('folder with the staged tarballs and dist/release/'),
    PIN_OPTION,
    { name: 'keep-registry', type: 'boolean' as const, description: 'with --registry local: leave the registry running afterwards (its URL is printed)' },
    { name: 'stop-registry', type: 'boolean' as const, description: 'stop a local registry left running by --keep-registry, and do nothing else' },
    { name: 'skip-verify', type: 'boolean' as const, description: 'do not run verify-artifacts.ts first (only when it has just passed in the same job)' },
  ],
  details: `
--via stage (default for the public registry and --registry local): the
preflight below, then \`npm stage publish\` of each package not yet published
or staged, under --tag; every staged version is downloaded and checked against
the manifest; one line per package (version, stage id, integrity) and the
command that approves the set are printed and written to dist/staged-X.Y.Z.json.
Nothing is installable until a maintainer runs --approve. A re-run with our bytes
staged has nothing to do; a version staged with other bytes is refused (reject
it with --reject <id>). On the public registry every package must exist already
(the one-time bootstrap is in RELEASING.md). In GitHub Actions without a token,
npm's trusted publishing (OIDC) authenticates the stage publish.

--via direct (any other registry URL), in order: preflight (verify-artifacts passes; pin, manifest and tarballs agree on
X.Y.Z; the token works; for each package what the registry holds at X.Y.Z:
absent -> publish, identical -> nothing, different -> refuse everything before
any write), then the plan, then: publish the absent packages in parallel under
the dist-tag "staging-X.Y.Z", read each back and check its integrity and the
binaries inside against the manifest, and only then point --tag at X.Y.Z on
every package. A re-run after any failure continues and ends in the same state.
Note: a registry sets "latest" on a package's very first publish, whatever the tag.

"latest" only moves forward and never onto a prerelease: publish-all refuses
(exit 2, before any write) to point it at a version lower than where it is, or
at X.Y.Z-pre; publish those under another --tag (backport-0.14, next). A tag
npm would refuse (one that reads as a semver range, e.g. "x") is refused too.

Environment: NPM_TOKEN or NODE_AUTH_TOKEN (the token; written only to a
temporary 0600 npm config that is removed afterwards; no other program gets it), GITHUB_ACTIONS=true
(publish to the public registry with --provenance), XSNAP_REGISTRY_DIR (storage
of --registry local, default .registry/), XSNAP_PUBLISH_ATTEMPTS (3),
XSNAP_READBACK_ATTEMPTS (8), XSNAP_RETRY_BASE_MS (500).

Exit codes: 0 published / staged / approved, nothing to do, or (--dry-run) the
real run may start; 1 a check or an operation failed (the message says whether
a re-run continues); 2 usage error.`,
};

/** verify-artifacts must pass before anything is written. */
async function verifyLocal(dist: string, version: string, targets: Target[]): Promise<Failure[]> {
  const report = await verifyArtifacts({ dist, version, targets });
  return report.failures;
}

function report(plan: Plan, extra: Record<string, unknown>, exitCode: number, text: string[], outcomes?: Parameters<typeof summaryTable>[1]): Result {
  return {
    json: { ok: exitCode === 0, plan, ...extra },
    text: text.join('\n'),
    summary: summaryTable(plan, outcomes),
    exitCode,
  };
}

interface RunContext {
  client: NpmClient;
  set: ManifestSet;
  members: SetMember[];
  version: string;
  tag: string;
  dryRun: boolean;
  provenance: boolean;
  policy: RetryPolicy;
  registry: string;
  registryKind: RegistryKind;
  keep: boolean;
}

/** --via direct: publish under the staging dist-tag, read back, move --tag (scripts/lib/publish.ts). */
async function directRun(ctx: RunContext & { token?: string }): Promise<Result> {
  const { client, set, members, version, tag, dryRun, registry } = ctx;
  const remote: PlanInput['remote'] = {};
  const remoteFailures: Failure[] = [];
  await Promise.all(
    set.entries.map(async (e) => {
      // a version already there is downloaded and checked now: "identical" means its bytes, not just its metadata
      const c = await checkPublishedPackage(client, e, version);
      if (c.status === 'error' || c.status === 'corrupt') remoteFailures.push(...c.failures);
      else remote[e.package] = { status: c.status, integrity: c.integrity, distTags: c.distTags };
    }),
  );
  if (remoteFailures.length) throw new CheckFailed(remoteFailures);
  const plan = planRelease({
    version, registry, registryKind: ctx.registryKind, tag, provenance: ctx.provenance, dryRun,
    members: members.map((m) => ({ target: m.entry.target, package: m.entry.package, tarball: m.tarball, integrity: m.entry.tarball.integrity })),
    remote,
  });
  log.step(`plan${dryRun ? ' (dry run)' : ''}`);
  for (const line of describePlan(plan)) log.info(line);

  if (plan.refused) {
    const refused = plan.packages.filter((p) => p.action === 'refuse');
    const fs: Failure[] = refused.map((p) => ({
      check: 'same-version-different-bytes', subject: `${p.package}@${version} on ${registry}`, expected: p.integrity, actual: p.remoteIntegrity ?? 'no integrity',
      hint: 'a published version can never change: nothing was written; release a new version',
    }));
    log.error(`refused: ${refused.map((p) => p.package).join(', ')} already hold other bytes at ${version}; nothing was written`);
    return report(plan, { failures: fs }, 1, [`refused: nothing was written`]);
  }
  if (plan.nothingToDo) {
    log.ok(`nothing to do: every package is at ${version} with our bytes and "${tag}" points at it`);
    return report(plan, { nothingToDo: true }, 0, [`nothing to do: ${version} is fully published on ${registry}`]);
  }
  if (dryRun) {
    const dryFailures: Failure[] = [];
    for (const p of plan.packages.filter((x) => x.action === 'publish')) {
      const member = members.find((m) => m.entry.package === p.package)!;
      const r = await client.publish(verifiedBytes(member), { tag: plan.stagingTag, dryRun: true, provenance: false });
      if (r.code === 0) log.ok(`npm publish --dry-run ${p.package}`);
      else dryFailures.push({ check: 'npm-publish-dry-run', subject: `${p.package} (${p.tarball})`, expected: 'exit 0', actual: `exit ${r.code}: ${lastLines(r.stderr)}` });
    }
    if (dryFailures.length) throw new CheckFailed(dryFailures);
    return report(plan, { dryRun: true }, 0, [...describePlan(plan), `dry run: the real run may start${ctx.token ? '' : ' (once NPM_TOKEN is set)'}`]);
  }

  const result = await executePlan(plan, members, client, ctx.policy);
  if (result.failures.length) {
    const names = [...new Set(result.outcomes.filter((o) => o.error).map((o) => o.package))];
    const moved = result.outcomes.filter((o) => o.tag === 'moved').map((o) => o.package);
    const next = result.resumable
      ? 'Re-run publish-all to continue.'
      : 'A re-run cannot finish it (see the failures above): nothing more will move; see RELEASING.md, "Incidents".';
    const msg = `release ${version} not finished: ${names.length ? names.join(', ') : 'the set'} failed; "${tag}" ${moved.length ? `moved only on ${moved.join(', ')}` : 'was not moved on any package'}. ${next}`;
    log.error(msg);
    for (const f of result.failures) log.error(`[${f.check}] ${f.subject}: ${f.actual ?? ''}`);
    return report(plan, { outcomes: result.outcomes, failures: result.failures }, 1, [msg], result.outcomes);
  }
  const lines = result.outcomes.map((o) => `${o.package}@${version}: ${o.publish}, verified, "${tag}" ${o.tag}`);
  if (ctx.keep) lines.push(`local registry still running at ${registry}`);
  return report(plan, { outcomes: result.outcomes, warnings: result.warnings }, 0, [...lines, `released ${version} on ${registry}`], result.outcomes);
}

/** --via stage: stage what is missing, download and check every staged version, say how to approve. */
async function stageRun(ctx: RunContext & { oidc: boolean; registryArg: string; dist: string }): Promise<Result> {
  const { client, set, members, version, tag, registry } = ctx;
  const states = await Promise.all(set.entries.map((e) => readStageState(client, e, version)));
  const readFailures = states.flatMap((s) => (s.published.status === 'error' ? s.published.failures : []));
  if (readFailures.length) throw new CheckFailed(readFailures);
  const plan = planStage({ version, registry, registryKind: ctx.registryKind, tag, states, integrityOf: (pkg) => set.entries.find((e) => e.package === pkg)!.tarball.integrity });
  log.step(`plan (stage${ctx.dryRun ? ', dry run' : ''})`);
  for (const line of describeStagePlan(plan)) log.info(line);
  const summary = (lines: string[]) => [`### publish-all ${version}: staged on ${registry}${ctx.dryRun ? ' (dry run)' : ''}`, '', '```', ...lines, '```'].join('\n');
  if (plan.failures.length) {
    for (const f of plan.failures) log.error(formatFailure(f));
    return { json: { ok: false, via: 'stage', plan, failures: plan.failures }, text: 'refused: nothing was staged or approved', summary: summary(plan.failures.map((f) => formatFailure(f))), exitCode: 1 };
  }
  if (plan.packages.every((p) => p.action === 'published')) {
    log.ok(`nothing to do: every package is published at ${version} with our bytes`);
    return { json: { ok: true, via: 'stage', plan, nothingToDo: true }, text: `nothing to do: ${version} is fully published on ${registry}`, summary: summary([`nothing to do: ${version} is published`]) };
  }
  const approve = approveCommand(registry, ctx.registryArg, version);
  if (ctx.dryRun) {
    const dryFailures: Failure[] = [];
    for (const p of plan.packages.filter((x) => x.action === 'stage')) {
      const r = await client.stagePublish(verifiedBytes(members.find((m) => m.entry.package === p.package)!), { tag, dryRun: true, provenance: false });
      if (r.code === 0) log.ok(`npm stage publish --dry-run ${p.package}`);
      else dryFailures.push({ check: 'npm-stage-publish-dry-run', subject: p.package, expected: 'exit 0', actual: `exit ${r.code}: ${lastLines(r.stderr)}` });
    }
    if (dryFailures.length) throw new CheckFailed(dryFailures);
    return { json: { ok: true, via: 'stage', plan, dryRun: true }, text: [...describeStagePlan(plan), 'dry run: the real run may start'].join('\n'), summary: summary(describeStagePlan(plan)) };
  }
  const { lines, failures } = await executeStage(plan, members, client, { provenance: ctx.provenance, oidc: ctx.oidc, policy: ctx.policy });
  if (failures.length) {
    for (const f of failures) log.error(formatFailure(f));
    const resumable = !failures.some((f) => f.check === 'staged-other-bytes' || f.check === 'tarball-bytes' || f.check.startsWith('binary-'));
    const msg = `staging of ${version} not finished: ${failures.length} problem${failures.length === 1 ? '' : 's'}; nothing is approved or visible. ${resumable ? 'Re-run publish-all --via stage to continue.' : 'A re-run cannot fix this: reject the stage that is not ours (publish-all --reject <id>), then re-run.'}`;
    log.error(msg);
    return { json: { ok: false, via: 'stage', plan, staged: lines, failures }, text: msg, summary: summary([msg, ...failures.map((f) => formatFailure(f))]), exitCode: 1 };
  }
  const out = lines.map((l) => `${l.package}@${l.version}  ${l.status === 'staged' ? `stage id ${l.stageId}` : 'published already'}  ${l.integrity}`);
  const record = { version, registry, tag, packages: lines, approve };
  const file = writeStagedRecord(ctx.dist, version, record);
  const text = [...out, `every package is staged (or published) with our bytes; nothing is installable until a maintainer approves the set:`, `  ${approve}`, `(written to ${file})`];
  if (ctx.keep) text.push(`local registry still running at ${registry}`);
  for (const l of out) log.ok(l);
  log.step(`approve with: ${approve}`);
  return {
    json: { ok: true, via: 'stage', plan, staged: lines, approve, record: file },
    text: text.join('\n'),
    summary: [
      `### publish-all ${version}: staged on ${registry}, waiting for approval`, '',
      '| package | version | stage id | integrity |', '|---|---|---|---|',
      ...lines.map((l) => `| \`${l.package}\` | ${l.version} | ${l.stageId ? `\`${l.stageId}\`` : 'published'} | \`${l.integrity}\` |`), '',
      `Nothing is installable yet. A maintainer approves the whole set (2FA), which re-checks every staged version first:`, '',
      '```sh', approve, '```', '',
      'Then run the `publish-release` workflow for this tag: it runs the gate and publishes the draft GitHub Release.',
    ].join('\n'),
  };
}

/** --approve: all or nothing, then read back and the gate. */
async function approveRun(ctx: { client: NpmClient; set: ManifestSet; version: string; tag?: string; otp?: string; policy: RetryPolicy; registry: string; targets: Target[]; keep: boolean }): Promise<Result> {
  const { client, set, version, registry } = ctx;
  const r = await approveSet({ client, entries: set.entries, version, tag: ctx.tag, otp: ctx.otp, policy: ctx.policy });
  const times = r.outcomes.map((o) => o.approvedAt).filter((x): x is number => typeof x === 'number');
  const windowMs = times.length ? Math.max(...times) - Math.min(...times) : 0;
  const summaryOf = (head: string, failures: Failure[]) => [`### publish-all --approve ${version} on ${registry}: ${head}`, '', '| package | stage id | result |', '|---|---|---|', ...r.outcomes.map((o) => `| \`${o.package}\` | ${o.stageId ?? '-'} | ${o.result} |`), ...(failures.length ? ['', ...failures.map((f) => `- ${formatFailure(f).replace(/\n\s+/g, '; ')}`)] : [])].join('\n');
  if (r.failures.length) {
    for (const f of r.failures) log.error(formatFailure(f));
    const msg = r.approvedNothing
      ? `approved nothing: ${r.failures.length} problem${r.failures.length === 1 ? '' : 's'} (above); nothing of ${version} became visible`
      : `approval of ${version} stopped halfway: ${r.outcomes.filter((o) => o.result === 'failed').map((o) => o.package).join(', ')} not approved. Re-run publish-all --approve to approve the rest.`;
    log.error(msg);
    return { json: { ok: false, outcomes: r.outcomes, failures: r.failures, windowMs }, text: msg, summary: summaryOf('failed', r.failures), exitCode: 1 };
  }
  log.step('reading every package back and running the gate');
  const gateFailures: Failure[] = [];
  for (const e of set.entries) {
    let last = await checkPublishedPackage(client, e, version);
    for (let i = 1; last.status !== 'ok' && last.status !== 'different' && i < ctx.policy.readAttempts; i++) {
      await new Promise((res) => setTimeout(res, Math.min(ctx.policy.baseMs * 2 ** (i - 1), 15_000)));
      last = await checkPublishedPackage(client, e, version);
    }
    gateFailures.push(...last.failures);
  }
  const gate = await verifyPublished({ dist: '', version, targets: ctx.targets, registry, tag: r.tag ?? undefined, manifestFile: set.file });
  gateFailures.push(...gate.failures);
  if (gateFailures.length) {
    for (const f of gateFailures) log.error(formatFailure(f));
    return { json: { ok: false, outcomes: r.outcomes, failures: gateFailures, windowMs }, text: `approved, but the gate fails: see above (RELEASING.md, "When something fails")`, summary: summaryOf('gate failed', gateFailures), exitCode: 1 };
  }
  const lines = r.outcomes.map((o) => `${o.package}@${version}: ${o.result}`);
  if (ctx.keep) lines.push(`local registry still running at ${registry}`);
  log.ok(`the gate passes: every package of ${version} is installable with our bytes${r.tag ? ` under "${r.tag}"` : ''}`);
  return { json: { ok: true, outcomes: r.outcomes, tag: r.tag, windowMs }, text: [...lines, `released ${version} on ${registry} (visibility window ${windowMs} ms)`].join('\n'), summary: summaryOf('released', []) };
}

await runCommand(spec, async (flags) => {
  if (flags['stop-registry']) {
    const dir = process.env.XSNAP_REGISTRY_DIR || LOCAL_REGISTRY_DIR;
    const stopped = await stopLocalRegistry(dir);
    if (stopped === 'not-ours') {
      throw new OperationError(`${dir}/server.json names a process that is not this folder's registry (or its URL does not answer): not stopping it. Remove ${dir}/server.json if no registry of ours runs there.`);
    }
    return { json: { stopped: stopped === 'stopped', dir }, text: stopped === 'stopped' ? `stopped the local registry of ${dir}` : `no local registry was running for ${dir}` };
  }
  const dryRun = Boolean(flags['dry-run']);
  const tagFlag = stringFlag(flags, 'tag');
  const tag = tagFlag ?? 'latest';
  checkDistTag(tag);
  const targetsFlag = stringFlag(flags, 'targets');
  const targets = parseTargetList(targetsFlag);
  const registryFlag = stringFlag(flags, 'registry');
  if (flags['keep-registry'] && registryFlag !== 'local') throw new UsageError('--keep-registry only applies to --registry local');
  const approve = Boolean(flags.approve);
  const rejectId = stringFlag(flags, 'reject');
  if (approve && rejectId) throw new UsageError('--approve and --reject go alone, not together');
  if ((approve || rejectId) && dryRun) throw new UsageError('--approve and --reject have no --dry-run: run --via stage --dry-run to check');
  if (rejectId) checkStageId(rejectId);
  const otp = stringFlag(flags, 'otp');
  registerSecret(otp);
  if (otp && !approve && !rejectId) throw new UsageError('--otp goes with --approve or --reject');
  const viaFlag = stringFlag(flags, 'via');
  if (viaFlag !== undefined && viaFlag !== 'stage' && viaFlag !== 'direct') throw new UsageError(`--via must be stage or direct, not "${viaFlag}"`);
  if ((approve || rejectId) && viaFlag === 'direct') throw new UsageError('--approve and --reject belong to --via stage');
  const pinFile = pinPath(flags);
  const version = readPin(pinFile).version;
  const dist = distDir(flags);
  const policy = retryPolicyFromEnv();

  const registry = await openRegistry(registryFlag, { keep: Boolean(flags['keep-registry']) });
  try {
    const via: 'stage' | 'direct' = approve || rejectId ? 'stage' : (viaFlag as 'stage' | 'direct' | undefined) ?? (registry.kind === 'custom' ? 'direct' : 'stage');
    if (registry.kind === 'public' && targets.length !== TARGETS.length) {
      throw new UsageError(`the public npm registry gets the whole set (${TARGET_NAMES.join(', ')}); --targets ${targetsFlag} is only allowed on another registry`);
    }
    const token = registry.token ?? tokenFromEnv();
    registerSecret(token);
    // trusted publishing: in GitHub Actions with an OIDC token request and no npm
    // token, npm authenticates `npm stage publish` by itself (and nothing else)
    const oidc = via === 'stage' && !approve && !rejectId && !token && process.env.GITHUB_ACTIONS === 'true' && Boolean(process.env.ACTIONS_ID_TOKEN_REQUEST_URL);
    if (!token && !dryRun && !oidc) {
      throw new UsageError(`no token: set NPM_TOKEN (or NODE_AUTH_TOKEN) to a token that may ${approve || rejectId ? 'approve staged versions' : 'publish'} on ${registry.url}${via === 'stage' ? ' (in GitHub Actions, trusted publishing needs id-token: write)' : ''}`);
    }
    const provenance = process.env.GITHUB_ACTIONS === 'true' && registry.kind === 'public';
    const registryArg = registryFlag === 'local' ? 'local' : registry.url;

    if (rejectId) {
      return await withNpmClient({ registry: registry.url, token }, async (client) => {
        await client.stageReject(rejectId, otp);
        log.ok(`rejected staged ${rejectId} on ${registry.url}`);
        return { json: { ok: true, rejected: rejectId, registry: registry.url }, text: `rejected ${rejectId}`, summary: `### publish-all: rejected staged \`${rejectId}\` on ${registry.url}` };
      });
    }
    if (approve) {
      const set = readManifestSet(dist, version, targets, undefined, { options: '--dist <dir>' });
      return await withNpmClient({ registry: registry.url, token }, (client) => approveRun({ client, set, version, tag: tagFlag, otp, policy, registry: registry.url, targets, keep: registry.kind === 'local' && Boolean(flags['keep-registry']) }));
    }

    // one run at a time per registry and version, from before the preflight's
    // reads to the end: two runs would interleave their bytes
    const lock = dryRun ? undefined : acquirePublishLock(registry.kind === 'local' ? `local:${registry.dir}` : registry.url, version);
    try {
      log.step(`preflight (--via ${via}): ${version} to ${registry.url} (${targets.map((t) => t.name).join(', ')})`);
      const failures: Failure[] = [];
      const set = readManifestSet(dist, version, targets, undefined, { options: '--dist <dir>' });
      const local = await checkLocalTarballs(dist, set);
      failures.push(...local.failures);
      if (flags['skip-verify']) log.warn('verify-artifacts skipped (--skip-verify)');
      else {
        log.info('running verify-artifacts.ts');
        failures.push(...(await verifyLocal(dist, version, targets)));
      }
      if (failures.length) {
        throw new CheckFailed(failures, `preflight failed, nothing was written: ${failures.length} check${failures.length === 1 ? '' : 's'} failed:\n` + failures.map((f) => '  ' + formatFailure(f)).join('\n'));
      }
      log.ok('local artifacts verified; tarballs match the manifest');

      return await withNpmClient({ registry: registry.url, token }, async (client) => {
        if (token) {
          const who = await client.whoami();
          log.ok(`token works: npm whoami = ${who}`);
        } else if (oidc) log.info('no npm token: trusted publishing (OIDC) authenticates npm stage publish');
        else log.warn('no NPM_TOKEN / NODE_AUTH_TOKEN: token check skipped (the real run needs one)');
        if (via === 'stage') {
          return stageRun({ client, set, members: local.members, version, tag, dryRun, provenance, oidc, policy, registry: registry.url, registryKind: registry.kind, registryArg, dist, keep: registry.kind === 'local' && Boolean(flags['keep-registry']) });
        }
        return directRun({ client, set, members: local.members, version, tag, dryRun, provenance, policy, registry: registry.url, registryKind: registry.kind, token, keep: registry.kind === 'local' && Boolean(flags['keep-registry']) });
      });
    } finally {
      lock?.release();
    }
  } finally {
    await registry.stop();
  }
});
