#!/usr/bin/env -S npx tsx
// Stage 5: publish every platform package at X.Y.Z, all or nothing, with npm's
// staged publishing: `stage` (CI), `approve` / `reject` (a maintainer),
// `stop-registry`. Flags here; the subcommands in scripts/lib/publish/publish.ts.
import { runCommand, stringFlag, registerSecret, PIN_OPTION, distOption } from './lib/core/cli.ts';
import { UsageError } from './lib/core/errors.ts';
import {
  checkStageId,
  isPublicRegistry,
  normaliseRegistry,
  PUBLIC_REGISTRY,
  tokenFromEnv,
  tokenFromNpmLogin,
  withNpmClient,
} from './lib/core/npm-client.ts';
import { distDir } from './lib/core/paths.ts';
import { readPin, pinPath } from './lib/core/pin.ts';
import {
  approveStaged,
  lockPublish,
  openRegistry,
  publishStaged,
  rejectStaged,
  stopKeptRegistry,
} from './lib/publish/publish.ts';
import { checkDistTag, retryPolicyFromEnv } from './lib/publish/publish-rules.ts';
import {
  checkToken,
  checkWholeSet,
  preflightLocal,
  checkMeasuredSet,
  publishAuth,
  verifyFirstIfAllowed,
} from './lib/publish/publish-preflight.ts';
import { readManifestSet } from './lib/verify/published.ts';
import { TARGET_NAMES, parseTargetList } from './lib/core/targets.ts';

const SET = ['registry', 'tag', 'targets', 'dist', 'pin', 'keep-registry'];
const spec = {
  name: 'publish-all.ts',
  summary: 'publish every @agoric/xsnap-<target> package at the pinned version, all or nothing, resumable',
  usage:
    'npx tsx scripts/publish-all.ts stage [--dry-run] [--registry <url>|local] [--tag <tag>] [--targets a,b] [options]   (CI)\n       npx tsx scripts/publish-all.ts approve [--otp <code>] [--registry <url>|local]   (a maintainer)\n       npx tsx scripts/publish-all.ts reject <stage-id> [--otp <code>] [--registry <url>|local]\n       npx tsx scripts/publish-all.ts stop-registry',
  commands: [
    {
      name: 'stage',
      summary: '`npm stage publish` each package not yet published (nothing visible until approved)',
      options: [...SET, 'dry-run', 'expect-commit', 'skip-verify', 'allow-unmeasured'],
    },
    {
      name: 'approve',
      summary:
        'approve the staged set: re-download and re-check every staged version, re-check latest, approve all (or nothing), read back, run the gate',
      options: [...SET, 'otp', 'allow-unmeasured'],
    },
    {
      name: 'reject',
      operand: 'stage-id',
      summary: 'remove a staged version (e.g. one staged with other bytes), and do nothing else',
      options: ['registry', 'otp', 'keep-registry'],
    },
    {
      name: 'stop-registry',
      summary: 'stop a local registry left running by --keep-registry, and do nothing else',
      options: [],
    },
  ],
  retired: {
    '--via':
      'staged publishing is the only path (publish-all.ts stage); ' +
      "--via direct could not move dist-tags under npm's 2027 rules",
    '--approve': 'use publish-all.ts approve',
    '--reject': 'use publish-all.ts reject <stage-id>',
    '--stop-registry': 'use publish-all.ts stop-registry',
  },
  options: [
    {
      name: 'otp',
      type: 'string' as const,
      valueName: 'code',
      description: 'one-time code (2FA) for approve / reject',
    },
    {
      name: 'dry-run',
      type: 'boolean' as const,
      description:
        'run every check that does not write (npm stage publish --dry-run, whoami when a token is given) and print the plan',
    },
    {
      name: 'registry',
      type: 'string' as const,
      valueName: 'url|local',
      description: '"local" starts the embedded Verdaccio; any other URL is used as given',
      default: 'https://registry.npmjs.org/',
    },
    {
      name: 'tag',
      type: 'string' as const,
      valueName: 'tag',
      description: 'dist-tag the set is staged under (it moves to X.Y.Z on approval)',
      default: 'latest',
    },
    {
      name: 'targets',
      type: 'string' as const,
      valueName: 'a,b',
      description: `subset of ${TARGET_NAMES.join(',')} (not allowed on the public registry)`,
      default: 'all',
    },
    distOption('folder with the staged tarballs and dist/release/'),
    PIN_OPTION,
    {
      name: 'keep-registry',
      type: 'boolean' as const,
      description: 'with --registry local: leave the registry running afterwards (its URL is printed)',
    },
    {
      name: 'expect-commit',
      type: 'string' as const,
      valueName: 'sha',
      description: "refuse a verify record made at another commit (the release run's, in CI)",
    },
    {
      name: 'allow-unmeasured',
      type: 'boolean' as const,
      description:
        'a rehearsal: accept a manifest whose targets are recorded as unmeasured (darwin, made on Linux); only for stage --dry-run or a loopback registry (--registry local)',
    },
    {
      name: 'skip-verify',
      type: 'boolean' as const,
      description: 'use no verify record: the tarballs are checked against the manifest only (never for a release)',
    },
  ],
  details: `
This process may hold write credentials, so it runs no binary: what it
publishes must be the bytes verify-artifacts checked, which it reads from
dist/verified-X.Y.Z.json (verify-artifacts --record, run without credentials,
in CI in the verify job) and compares by sha256. A stage --dry-run started
without any credential runs verify-artifacts --record itself when the record is
missing.

stage is what trusted publishing allows and nothing more: the public
packuments are read anonymously, then \`npm stage publish\` runs for each
package not yet published, under --tag, and each stage id is read from npm's
output. No other stage command, no tag move. One line per package (stage id,
integrity) and the command that approves the set are printed and written to
dist/release/staged-X.Y.Z.json. Nothing is installable until a maintainer runs
approve. A re-run cannot list what it staged before: it stages again (a
registry that answers "already staged" is reported), and the approval picks
ours. On the public registry every package must exist already (the one-time
bootstrap is in RELEASING.md). In GitHub Actions without a token, npm's trusted
publishing (OIDC) authenticates the stage publish; --registry local stands in
for it the same way (the local registry refuses what npm refuses).

approve (a maintainer: their npm login session or a read-write token without
2FA bypass, in NPM_TOKEN; --registry local: its maintainer) lists the stages of
every package, downloads and checks each against the manifest, picks ours where
several exist and names the others to reject, re-checks that latest only moves
forward, then approves the set back to back with --otp, or nothing. Without
--otp it checks everything, approves nothing and says how to pass a code; an
account with only a security key gets the URL npm gives and the commands to
approve each by hand.

"latest" only moves forward and never onto a prerelease: publish-all refuses
(exit 2, before any write) to stage a set whose approval would point it at a
version lower than where it is, or at X.Y.Z-pre; stage those under another
--tag (backport-0.14, next). A tag npm would refuse (one that reads as a semver
range, e.g. "x") is refused too.

The flags --via, --approve, --reject and --stop-registry of earlier releases
are usage errors that name the subcommand replacing them (--via direct is gone:
a CI job can no longer move dist-tags on the public registry).

Environment: NPM_TOKEN or NODE_AUTH_TOKEN (the token; written only to a
temporary 0600 npm config that is removed afterwards; no other program gets it), GITHUB_ACTIONS=true
(stage on the public registry with --provenance), XSNAP_REGISTRY_DIR (storage
of --registry local, default .registry/), XSNAP_READBACK_ATTEMPTS (8),
XSNAP_RETRY_BASE_MS (500).

Exit codes: 0 staged / approved / rejected, nothing to do, or (--dry-run) the
real run may start; 1 a check or an operation failed (the message says whether
a re-run continues); 2 usage error.`,
};

await runCommand(spec, async (flags) => {
  const command = flags.command as 'stage' | 'approve' | 'reject' | 'stop-registry';
  if (command === 'stop-registry') return stopKeptRegistry();
  const dryRun = Boolean(flags['dry-run']);
  const tagFlag = stringFlag(flags, 'tag');
  const tag = tagFlag ?? 'latest';
  checkDistTag(tag);
  const targetsFlag = stringFlag(flags, 'targets');
  const targets = parseTargetList(targetsFlag);
  const registryFlag = stringFlag(flags, 'registry');
  if (flags['keep-registry'] && registryFlag !== 'local')
    throw new UsageError('--keep-registry only applies to --registry local');
  const rejectId = command === 'reject' ? stringFlag(flags, 'operand')! : undefined;
  if (rejectId) checkStageId(rejectId);
  const otp = stringFlag(flags, 'otp');
  registerSecret(otp);
  const version = readPin(pinPath(flags)).version;
  const dist = distDir(flags);
  const policy = retryPolicyFromEnv();
  const expectCommit = stringFlag(flags, 'expect-commit');
  if (expectCommit !== undefined && !/^[0-9a-f]{40}$/.test(expectCommit))
    throw new UsageError(`--expect-commit takes a full commit sha (40 hex digits), not "${expectCommit}"`);
  if (expectCommit && flags['skip-verify'])
    throw new UsageError('--expect-commit needs the verify record: no --skip-verify');

  const skipVerify = Boolean(flags['skip-verify']);
  const allowUnmeasured = Boolean(flags['allow-unmeasured']);
  const pinFlag = stringFlag(flags, 'pin');
  const verifyArgs = [
    '--dist',
    dist,
    '--targets',
    targets.map((t) => t.name).join(','),
    ...(pinFlag ? ['--pin', pinFlag] : []),
    ...(allowUnmeasured ? ['--allow-unmeasured'] : []),
  ];
  // before any registry (and its credentials) is opened: a dry run may verify first, once
  // what is wrong with the command line (the registry URL, a missing manifest) has been said
  if (dryRun && !skipVerify) {
    if (registryFlag !== 'local') {
      const url = normaliseRegistry(registryFlag ?? PUBLIC_REGISTRY);
      checkWholeSet(isPublicRegistry(url) ? 'public' : 'custom', targets, targetsFlag);
    }
    readManifestSet(dist, version, targets, undefined, { options: '--dist <dir>' });
    await verifyFirstIfAllowed(dist, version, verifyArgs);
  }

  const registry = await openRegistry(registryFlag, { keep: Boolean(flags['keep-registry']) });
  try {
    checkWholeSet(registry.kind, targets, targetsFlag);
    // the token: read here, once, and handed to everything that talks to the registry. The
    // local registry's is its maintainer's: the stage step runs as the CI identity (trusted publishing)
    // A maintainer (approve, reject) may use their `npm login` session instead of a token.
    const token =
      registry.kind === 'local'
        ? command === 'stage'
          ? undefined
          : registry.token
        : (tokenFromEnv() ?? (command === 'stage' ? undefined : tokenFromNpmLogin(registry.url)));
    registerSecret(token);
    const { oidcEnv, provenance } = publishAuth({ token, command, dryRun, registry });
    const keep = registry.kind === 'local' && Boolean(flags['keep-registry']);
    const npm = { registry: registry.url, token };
    const registryArg = registryFlag === 'local' ? 'local' : registry.url;

    if (rejectId) return await withNpmClient(npm, (client) => rejectStaged(client, rejectId, otp));
    if (command === 'approve') {
      const set = readManifestSet(dist, version, targets, undefined, { options: '--dist <dir>' });
      checkMeasuredSet(set, { allowUnmeasured, dryRun, registry });
      const ctx = {
        set,
        version,
        tag: tagFlag,
        otp,
        policy,
        registry: registry.url,
        targets,
        keep,
        token,
        registryArg,
      };
      return await withNpmClient(npm, (client) => approveStaged({ client, ...ctx }));
    }
    const lock = dryRun ? undefined : lockPublish(registry, version);
    try {
      const preflight = { dist, version, targets, skipVerify, registry: registry.url, expectCommit, verifyArgs };
      const { set, members } = await preflightLocal(preflight);
      checkMeasuredSet(set, { allowUnmeasured, dryRun, registry });
      return await withNpmClient(npm, async (client) => {
        await checkToken(client, token, Boolean(oidcEnv));
        const ctx = { client, set, members, version, tag, dryRun, provenance, oidcEnv };
        return publishStaged({ ...ctx, registry, registryArg, dist, keep });
      });
    } finally {
      lock?.release();
    }
  } finally {
    await registry.stop();
  }
});
