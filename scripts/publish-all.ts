#!/usr/bin/env -S npx tsx
// Stage 5: publish every platform package at X.Y.Z, all or nothing.
// Flags here; the modes (direct, stage, approve, reject) in scripts/lib/publish.ts,
// which says how "all or nothing" is built.
import { runCommand, stringFlag, registerSecret, PIN_OPTION, distOption } from './lib/cli.ts';
import { UsageError } from './lib/errors.ts';
import {
  checkStageId,
  isPublicRegistry,
  normaliseRegistry,
  PUBLIC_REGISTRY,
  tokenFromEnv,
  tokenFromNpmLogin,
  withNpmClient,
} from './lib/npm-client.ts';
import { distDir } from './lib/paths.ts';
import { readPin, pinPath } from './lib/pin.ts';
import {
  approveStaged,
  lockPublish,
  openRegistry,
  publishDirect,
  publishStaged,
  rejectStaged,
  stopKeptRegistry,
} from './lib/publish.ts';
import { retryPolicyFromEnv } from './lib/publish-execute.ts';
import { checkDistTag } from './lib/publish-plan.ts';
import {
  checkToken,
  checkWholeSet,
  preflightLocal,
  checkMeasuredSet,
  publishAuth,
  verifyFirstIfAllowed,
} from './lib/publish-preflight.ts';
import { readManifestSet } from './lib/published.ts';
import { TARGET_NAMES, parseTargetList } from './lib/targets.ts';

const spec = {
  name: 'publish-all.ts',
  summary: 'publish every @agoric/xsnap-<target> package at the pinned version, all or nothing, resumable',
  usage:
    'npx tsx scripts/publish-all.ts [--via stage|direct] [--dry-run] [--registry <url>|local] ' +
    '[--tag <tag>] [--targets a,b] [options]\n       npx tsx scripts/publish-all.ts --approve ' +
    '[--otp <code>] [--registry <url>|local]   (a maintainer, after --via stage)\n       npx tsx ' +
    'scripts/publish-all.ts --reject <stage-id> [--otp <code>] [--registry <url>|local]',
  options: [
    {
      name: 'via',
      type: 'string' as const,
      valueName: 'stage|direct',
      description:
        'stage: npm staged publishing (nothing visible until --approve); direct: publish under a ' +
        'staging dist-tag, then move --tag',
      default: 'stage for the public registry and local, direct for any other URL',
    },
    {
      name: 'approve',
      type: 'boolean' as const,
      description:
        'approve the staged set: re-download and re-check every staged version, re-check latest, ' +
        'approve all (or nothing), read back, run the gate',
    },
    {
      name: 'reject',
      type: 'string' as const,
      valueName: 'stage-id',
      description: 'remove a staged version (e.g. one staged with other bytes), and do nothing else',
    },
    {
      name: 'otp',
      type: 'string' as const,
      valueName: 'code',
      description: 'one-time code (2FA) for --approve / --reject',
    },
    {
      name: 'dry-run',
      type: 'boolean' as const,
      description:
        'run every check that does not write (npm publish --dry-run, whoami when a token is given) and print the plan',
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
      description: 'dist-tag to move to X.Y.Z once the whole set is verified',
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
      name: 'stop-registry',
      type: 'boolean' as const,
      description: 'stop a local registry left running by --keep-registry, and do nothing else',
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
        'a rehearsal: accept a manifest whose targets are recorded as unmeasured (darwin, made on Linux); only ' +
        'for --dry-run or a loopback registry (--registry local)',
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
in CI in the verify job) and compares by sha256. A --dry-run started without
any credential runs verify-artifacts --record itself when the record is missing.

--via stage (default for the public registry and --registry local) is what
trusted publishing allows and nothing more: the public packuments are read
anonymously, then \`npm stage publish\` runs for each package not yet
published, under --tag, and each stage id is read from npm's output. No other
stage command, no tag move. One line per package (stage id, integrity) and the
command that approves the set are printed and written to
dist/release/staged-X.Y.Z.json. Nothing is installable until a maintainer runs
--approve. A re-run cannot list what it staged before: it stages again (a
registry that answers "already staged" is reported), and the approval picks
ours. On the public registry every package must exist already (the one-time
bootstrap is in RELEASING.md). In GitHub Actions without a token, npm's trusted
publishing (OIDC) authenticates the stage publish; --registry local stands in
for it the same way (the local registry refuses what npm refuses).

--approve (a maintainer: their npm login session or a read-write token without
2FA bypass, in NPM_TOKEN; --registry local: its maintainer) lists the stages of
every package, downloads and checks each against the manifest, picks ours where
several exist and names the others to reject, re-checks that latest only moves
forward, then approves the set back to back with --otp, or nothing. Without
--otp it checks everything, approves nothing and says how to pass a code; an
account with only a security key gets the URL npm gives and the commands to
approve each by hand.

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

await runCommand(spec, async (flags) => {
  if (flags['stop-registry']) return stopKeptRegistry();
  const dryRun = Boolean(flags['dry-run']);
  const tagFlag = stringFlag(flags, 'tag');
  const tag = tagFlag ?? 'latest';
  checkDistTag(tag);
  const targetsFlag = stringFlag(flags, 'targets');
  const targets = parseTargetList(targetsFlag);
  const registryFlag = stringFlag(flags, 'registry');
  if (flags['keep-registry'] && registryFlag !== 'local')
    throw new UsageError('--keep-registry only applies to --registry local');
  const approve = Boolean(flags.approve);
  const rejectId = stringFlag(flags, 'reject');
  if (approve && rejectId) throw new UsageError('--approve and --reject go alone, not together');
  if ((approve || rejectId) && dryRun)
    throw new UsageError('--approve and --reject have no --dry-run: run --via stage --dry-run to check');
  if (rejectId) checkStageId(rejectId);
  const otp = stringFlag(flags, 'otp');
  registerSecret(otp);
  if (otp && !approve && !rejectId) throw new UsageError('--otp goes with --approve or --reject');
  const viaFlag = stringFlag(flags, 'via');
  if (viaFlag !== undefined && viaFlag !== 'stage' && viaFlag !== 'direct')
    throw new UsageError(`--via must be stage or direct, not "${viaFlag}"`);
  if ((approve || rejectId) && viaFlag === 'direct')
    throw new UsageError('--approve and --reject belong to --via stage');
  const version = readPin(pinPath(flags)).version;
  const dist = distDir(flags);
  const policy = retryPolicyFromEnv();

  if (registryFlag === 'local' && viaFlag === 'direct')
    throw new UsageError("--registry local keeps npm's rules: staged publishing only (--via stage)");
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
  if (dryRun && !skipVerify && !approve && !rejectId) {
    if (registryFlag !== 'local') {
      const url = normaliseRegistry(registryFlag ?? PUBLIC_REGISTRY);
      checkWholeSet(isPublicRegistry(url) ? 'public' : 'custom', targets, targetsFlag);
    }
    readManifestSet(dist, version, targets, undefined, { options: '--dist <dir>' });
    await verifyFirstIfAllowed(dist, version, verifyArgs);
  }

  const registry = await openRegistry(registryFlag, { keep: Boolean(flags['keep-registry']) });
  try {
    const defaultVia = registry.kind === 'custom' ? 'direct' : 'stage';
    const via = approve || rejectId ? 'stage' : ((viaFlag as 'stage' | 'direct' | undefined) ?? defaultVia);
    checkWholeSet(registry.kind, targets, targetsFlag);
    const mode = approve ? 'approve' : rejectId ? 'reject' : 'publish';
    // the token: read here, once, and handed to everything that talks to the registry. The
    // local registry's is its maintainer's: the stage step runs as the CI identity (trusted publishing)
    // A maintainer (--approve, --reject) may use their `npm login` session instead of a token.
    const token =
      registry.kind === 'local'
        ? mode === 'publish'
          ? undefined
          : registry.token
        : (tokenFromEnv() ?? (mode === 'publish' ? undefined : tokenFromNpmLogin(registry.url)));
    registerSecret(token);
    const { oidcEnv, provenance } = publishAuth({ token, via, mode, dryRun, registry });
    const keep = registry.kind === 'local' && Boolean(flags['keep-registry']);
    const npm = { registry: registry.url, token };

    if (rejectId) return await withNpmClient(npm, (client) => rejectStaged(client, rejectId, otp));
    if (approve) {
      const set = readManifestSet(dist, version, targets, undefined, { options: '--dist <dir>' });
      checkMeasuredSet(set, { allowUnmeasured, dryRun, registry });
      const registryArg = registryFlag === 'local' ? 'local' : registry.url;
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
      const preflight = { dist, version, targets, skipVerify, via, registry: registry.url, expectCommit, verifyArgs };
      const { set, members } = await preflightLocal(preflight);
      checkMeasuredSet(set, { allowUnmeasured, dryRun, registry });
      return await withNpmClient(npm, async (client) => {
        await checkToken(client, token, Boolean(oidcEnv));
        const registryArg = registryFlag === 'local' ? 'local' : registry.url;
        const ctx = { client, set, members, version, tag, dryRun, provenance, oidcEnv, policy };
        const where = { registry, registryArg, dist, keep, token };
        return via === 'stage' ? publishStaged({ ...ctx, ...where }) : publishDirect({ ...ctx, ...where });
      });
    } finally {
      lock?.release();
    }
  } finally {
    await registry.stop();
  }
});
