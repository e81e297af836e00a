#!/usr/bin/env -S npx tsx
// Stage 5: publish every platform package at X.Y.Z, all or nothing.
// See scripts/lib/publish.ts for how "all or nothing" is built from dist-tags.
import { runCommand, log, stringFlag, registerSecret, PIN_OPTION, distOption, type Result } from './lib/cli.ts';
import { CheckFailed, OperationError, UsageError, formatFailure, type Failure } from './lib/errors.ts';
import { acquirePublishLock } from './lib/publish-lock.ts';
import { NpmClient, tokenFromEnv, lastLines } from './lib/npm-client.ts';
import { distDir } from './lib/paths.ts';
import { readPin, pinPath } from './lib/pin.ts';
import { checkPublishedPackage, readManifestSet } from './lib/published.ts';
import {
  checkDistTag, checkLocalTarballs, describePlan, executePlan, openRegistry, planRelease, retryPolicyFromEnv, summaryTable, verifiedBytes,
  type Plan, type PlanInput,
} from './lib/publish.ts';
import { TARGET_NAMES, TARGETS, parseTargetList, type Target } from './lib/targets.ts';
import { verifyArtifacts } from './lib/verify.ts';
import { LOCAL_REGISTRY_DIR, stopLocalRegistry } from './lib/local-registry.ts';

const spec = {
  name: 'publish-all.ts',
  summary: 'publish every @agoric/xsnap-<target> package at the pinned version, all or nothing, resumable',
  usage: 'npx tsx scripts/publish-all.ts [--dry-run] [--registry <url>|local] [--tag <tag>] [--targets a,b] [options]',
  options: [
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
Order: preflight (verify-artifacts passes; pin, manifest and tarballs agree on
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
temporary 0600 npm config that is removed afterwards), GITHUB_ACTIONS=true
(publish to the public registry with --provenance), XSNAP_REGISTRY_DIR (storage
of --registry local, default .registry/), XSNAP_PUBLISH_ATTEMPTS (3),
XSNAP_READBACK_ATTEMPTS (8), XSNAP_RETRY_BASE_MS (500).

Exit codes: 0 published, nothing to do, or (--dry-run) the real run may start;
1 a check or a publish failed (re-run to continue); 2 usage error.`,
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
  const tag = stringFlag(flags, 'tag') ?? 'latest';
  checkDistTag(tag);
  const targetsFlag = stringFlag(flags, 'targets');
  const targets = parseTargetList(targetsFlag);
  const registryFlag = stringFlag(flags, 'registry');
  if (flags['keep-registry'] && registryFlag !== 'local') throw new UsageError('--keep-registry only applies to --registry local');
  const pinFile = pinPath(flags);
  const version = readPin(pinFile).version;
  const dist = distDir(flags);
  const policy = retryPolicyFromEnv();

  const registry = await openRegistry(registryFlag, { keep: Boolean(flags['keep-registry']) });
  try {
    if (registry.kind === 'public' && targets.length !== TARGETS.length) {
      throw new UsageError(`the public npm registry gets the whole set (${TARGET_NAMES.join(', ')}); --targets ${targetsFlag} is only allowed on another registry`);
    }
    const token = registry.token ?? tokenFromEnv();
    registerSecret(token);
    if (!token && !dryRun) throw new UsageError(`no token: set NPM_TOKEN (or NODE_AUTH_TOKEN) to a token that may publish to ${registry.url}`);
    const provenance = process.env.GITHUB_ACTIONS === 'true' && registry.kind === 'public';

    // one run at a time per registry and version, from before the preflight's
    // reads to the end: two runs would interleave their bytes
    const lock = dryRun ? undefined : acquirePublishLock(registry.kind === 'local' ? `local:${registry.dir}` : registry.url, version);
    try {
      log.step(`preflight: ${version} to ${registry.url} (${targets.map((t) => t.name).join(', ')})`);
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

      const client = new NpmClient({ registry: registry.url, token });
      try {
        if (token) {
          const who = await client.whoami();
          log.ok(`token works: npm whoami = ${who}`);
        } else log.warn('no NPM_TOKEN / NODE_AUTH_TOKEN: token check skipped (the real run needs one)');

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
          version, registry: registry.url, registryKind: registry.kind, tag, provenance, dryRun,
          members: local.members.map((m) => ({ target: m.entry.target, package: m.entry.package, tarball: m.tarball, integrity: m.entry.tarball.integrity })),
          remote,
        });
        log.step(`plan${dryRun ? ' (dry run)' : ''}`);
        for (const line of describePlan(plan)) log.info(line);

        if (plan.refused) {
          const refused = plan.packages.filter((p) => p.action === 'refuse');
          const fs: Failure[] = refused.map((p) => ({
            check: 'same-version-different-bytes', subject: `${p.package}@${version} on ${registry.url}`, expected: p.integrity, actual: p.remoteIntegrity ?? 'no integrity',
            hint: 'a published version can never change: nothing was written; release a new version',
          }));
          log.error(`refused: ${refused.map((p) => p.package).join(', ')} already hold other bytes at ${version}; nothing was written`);
          return report(plan, { failures: fs }, 1, [`refused: nothing was written`]);
        }
        if (plan.nothingToDo) {
          log.ok(`nothing to do: every package is at ${version} with our bytes and "${tag}" points at it`);
          return report(plan, { nothingToDo: true }, 0, [`nothing to do: ${version} is fully published on ${registry.url}`]);
        }
        if (dryRun) {
          const dryFailures: Failure[] = [];
          for (const p of plan.packages.filter((x) => x.action === 'publish')) {
            const member = local.members.find((m) => m.entry.package === p.package)!;
            const r = await client.publish(verifiedBytes(member), { tag: plan.stagingTag, dryRun: true, provenance: false });
            if (r.code === 0) log.ok(`npm publish --dry-run ${p.package}`);
            else dryFailures.push({ check: 'npm-publish-dry-run', subject: `${p.package} (${p.tarball})`, expected: 'exit 0', actual: `exit ${r.code}: ${lastLines(r.stderr)}` });
          }
          if (dryFailures.length) throw new CheckFailed(dryFailures);
          return report(plan, { dryRun: true }, 0, [...describePlan(plan), `dry run: the real run may start${token ? '' : ' (once NPM_TOKEN is set)'}`]);
        }

        const result = await executePlan(plan, local.members, client, policy);
        const ok = result.failures.length === 0;
        if (!ok) {
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
        if (registry.kind === 'local' && flags['keep-registry']) lines.push(`local registry still running at ${registry.url}`);
        return report(plan, { outcomes: result.outcomes, warnings: result.warnings }, 0, [...lines, `released ${version} on ${registry.url}`], result.outcomes);
      } finally {
        client.dispose();
      }
    } finally {
      lock?.release();
    }
  } finally {
    await registry.stop();
  }
});
