#!/usr/bin/env -S npx tsx
// Yank a released version: deprecate it on every package of the set and move
// `latest` back to the newest earlier release that is not yanked; read back;
// resumable; --undo reverses it. See scripts/lib/publish/yank.ts and RELEASING.md.
import { runCommand, log, stringFlag, registerSecret } from './lib/core/cli.ts';
import { CheckFailed, UsageError } from './lib/core/errors.ts';
import { checkVersion } from './lib/core/pin.ts';
import {
  isPublicRegistry,
  normaliseRegistry,
  PUBLIC_REGISTRY,
  tokenFromEnv,
  tokenFromNpmLogin,
  withNpmClient,
} from './lib/core/npm-client.ts';
import { parseTargetList, TARGET_NAMES, TARGETS } from './lib/core/targets.ts';
import { describeAction, executeYank, planYank, readBack, yankTable } from './lib/publish/yank.ts';

await runCommand(
  {
    name: 'yank.ts',
    summary: 'yank a released version: deprecate it on every package, move latest back, read back (resumable, --undo)',
    usage:
      'npx tsx scripts/yank.ts --version X.Y.Z --reason "<why>" [--registry url] [--otp code] [--dry-run] | --version X.Y.Z --undo',
    options: [
      { name: 'version', type: 'string', valueName: 'X.Y.Z', description: 'the released version to yank' },
      {
        name: 'reason',
        type: 'string',
        valueName: 'text',
        description: "one line users see when they install it (npm deprecate's message)",
      },
      {
        name: 'undo',
        type: 'boolean',
        description:
          'reverse a yank: remove the deprecation and, if the yank moved latest, move it forward to X.Y.Z again',
      },
      { name: 'registry', type: 'string', valueName: 'url', description: 'the registry', default: PUBLIC_REGISTRY },
      {
        name: 'targets',
        type: 'string',
        valueName: 'a,b',
        description: `the packages of the set (${TARGET_NAMES.join(', ')})`,
        default: 'all',
      },
      {
        name: 'otp',
        type: 'string',
        valueName: 'code',
        description: 'one-time code for an account with 2FA on writes',
      },
      { name: 'dry-run', type: 'boolean', description: 'print what would be done (read-only) and stop' },
    ],
    details: `
A yank, from what the registry holds now:
  1. every package that has X.Y.Z gets it deprecated with the reason and a
     marker recording what happens to latest ("[yanked; latest was X.Y.Z,
     moved to A.B.C]"); the agoric-sdk gate then refuses X.Y.Z;
  2. if latest points at X.Y.Z on any package, latest moves back on every
     package to the newest version below X.Y.Z that all packages have, not a
     prerelease and not yanked (latest moves forward only, so backwards never
     past the yanked version); none: refused before any write;
  3. everything is read back.
Interrupted (an expired --otp, a network error): re-run the same command; it
carries on. --undo removes the deprecation and moves latest forward to X.Y.Z
again where the marker says the yank moved it (never past a newer release).
Credentials: the maintainer's npm login session for the registry (~/.npmrc),
or NPM_TOKEN / NODE_AUTH_TOKEN, a maintainer's read-write token; deprecating and moving dist-tags are writes
that ask for a one-time code (--otp) unless the token bypasses 2FA, which
RELEASING.md advises against; trusted publishing (OIDC) cannot do either.
Never printed.`,
  },
  async (flags) => {
    const v = stringFlag(flags, 'version');
    if (!v) throw new UsageError('--version X.Y.Z is required');
    const version = checkVersion(v, '--version');
    const undo = Boolean(flags.undo);
    const reason = stringFlag(flags, 'reason');
    if (undo && reason !== undefined) throw new UsageError('--undo takes no --reason');
    if (!undo && reason === undefined) throw new UsageError('--reason "<why>" is required');
    const registry = normaliseRegistry(stringFlag(flags, 'registry') ?? PUBLIC_REGISTRY);
    const targets = parseTargetList(stringFlag(flags, 'targets'));
    // a set is yanked whole on the public registry, as it is published whole
    if (isPublicRegistry(registry) && targets.length !== TARGETS.length)
      throw new UsageError(
        `on the public registry a yank covers the whole set (${TARGETS.map((t) => t.name).join(', ')}): drop --targets`,
      );
    const otp = stringFlag(flags, 'otp');
    registerSecret(otp);
    const opts = { registry, version, targets, reason, undo };
    const plan = await planYank(opts);
    plan.notes.forEach((n) => log.warn(n));
    const what = undo ? `undo the yank of ${version}` : `yank ${version}`;
    if (plan.actions.length === 0) log.ok(`${what}: nothing left to do on ${registry}`);
    else log.step(`${what} on ${registry}: ${plan.actions.length} change(s)`);
    plan.actions.forEach((a) => log.info(describeAction(a)));
    const table = yankTable(plan, version);
    if (flags['dry-run']) {
      return {
        json: { dryRun: true, plan },
        text: plan.actions.length
          ? `would ${what}:\n${plan.actions.map((a) => '  ' + describeAction(a)).join('\n')}`
          : `${what}: nothing to do`,
        summary: `### yank.ts --dry-run: ${what}\n\n${table}`,
      };
    }
    if (plan.actions.length) {
      const token = tokenFromEnv() ?? tokenFromNpmLogin(registry);
      if (!token)
        throw new UsageError(
          'deprecating and moving dist-tags needs a maintainer: npm login to ' +
            `${registry}, or NPM_TOKEN (or NODE_AUTH_TOKEN)`,
        );
      await withNpmClient({ registry, token }, (client) =>
        executeYank(plan, client, { otp, onAction: (a) => log.info(`→ ${describeAction(a)}`) }),
      );
    }
    const back = await readBack(opts);
    if (back.failures.length) throw new CheckFailed(back.failures);
    log.ok(`read back: ${what} holds on every package`);
    return {
      json: { ok: true, version, undo, latest: plan.latest, done: plan.actions, packages: back.plan.packages },
      text: `${undo ? 'un-yanked' : 'yanked'} ${version} on ${targets.length} package(s)${
        plan.latest ? `; latest ` + `${plan.latest.from} -> ${plan.latest.to}` : ''
      }`,
      summary: `### yank.ts: ${what}\n\n${yankTable(back.plan, version)}`,
    };
  },
);
