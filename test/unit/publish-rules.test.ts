// The rules publish-all keeps before it writes anything (publish-rules.ts), and
// the stage plan and the approval's choice from plain objects (staged-publish.ts).
import t from 'tap';
import { UsageError } from '../../scripts/lib/core/errors.ts';
import { checkDistTag, isPublishConflict, latestMoveProblem } from '../../scripts/lib/publish/publish-rules.ts';
import { isPublicRegistry, normaliseRegistry } from '../../scripts/lib/core/npm-client.ts';

/** what a check throws: a UsageError (exit 2) or nothing */
function refusal(fn: () => unknown): UsageError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  return undefined;
}

t.test('latest only moves forward, and never onto a prerelease; other tags go anywhere', async (t) => {
  const at = (current: string | null) => [{ package: '@agoric/xsnap-linux-x64', current }];
  t.equal(latestMoveProblem('latest', '1.2.3', at('1.2.2')), null, 'forward');
  t.equal(latestMoveProblem('latest', '1.2.3', at(null)), null, 'unset');
  t.equal(latestMoveProblem('latest', '1.2.3', at('1.2.3')), null, 'already there');
  const back = latestMoveProblem('latest', '1.2.3', at('1.3.0'));
  t.match(back?.message, /refusing to move "latest" backwards to 1\.2\.3: @agoric\/xsnap-linux-x64 latest is 1\.3\.0/);
  t.match(back?.hint, /--tag backport-1\.2/);
  const pre = latestMoveProblem('latest', '1.3.0-rc.1', at('1.2.3'));
  t.match(pre?.message, /refusing to point "latest" at the prerelease 1\.3\.0-rc\.1/);
  t.match(pre?.hint, /--tag next/);
  t.equal(latestMoveProblem('backport-1.2', '1.2.3', at('1.3.0')), null, 'a backport tag may point anywhere');
  t.equal(latestMoveProblem('next', '1.3.0-rc.1', at('1.2.3')), null, 'a prerelease under next');
});

t.test('tags npm would refuse are refused before anything is written', async (t) => {
  for (const tag of ['x', 'X', 'v1', 'v2-compat', '1', '*', '-next', 'has space']) {
    t.ok(
      refusal(() => checkDistTag(tag)),
      `"${tag}" refused by checkDistTag`,
    );
  }
  t.match(refusal(() => checkDistTag('x'))?.message, /semver range/, 'the range case says why');
  for (const tag of ['latest', 'next', 'beta', 'backport-0.14', 'rc'])
    t.doesNotThrow(() => checkDistTag(tag), `"${tag}" accepted`);
});

t.test('the registry\'s "already published" answers are recognised, other errors are not', async (t) => {
  t.ok(
    isPublishConflict(
      'npm error code E409\nnpm error 409 Conflict - PUT http://127.0.0.1:4873/@agoric%2fxsnap-linux-x64 - this package is already present',
    ),
    'Verdaccio',
  );
  t.ok(
    isPublishConflict(
      'npm error code E403\nnpm error 403 403 Forbidden - PUT https://registry.npmjs.org/@agoric%2fxsnap-linux-x64 - You cannot publish over the previously published versions: 0.15.0.',
    ),
    'registry.npmjs.org',
  );
  t.notOk(
    isPublishConflict(
      'npm error code E403\nnpm error 403 403 Forbidden - PUT https://registry.npmjs.org/@agoric%2fxsnap-linux-x64 - You do not have permission to publish "@agoric/xsnap-linux-x64".',
    ),
    'a permission error is not a conflict',
  );
  t.notOk(
    isPublishConflict('npm error code ECONNRESET\nnpm error network request failed, reason: socket hang up'),
    'a lost answer is not a conflict',
  );
});

t.test('registry URLs', async (t) => {
  t.ok(isPublicRegistry('https://registry.npmjs.org/'));
  t.notOk(isPublicRegistry('http://127.0.0.1:4873/'));
  t.equal(normaliseRegistry('http://127.0.0.1:4873'), 'http://127.0.0.1:4873/');
  t.throws(() => normaliseRegistry('ftp://x/'), /http\(s\)/);
});

// ---------------------------------------------------------------- issue 10 / issue 9, without a registry

t.test('registry URLs: credentials, http to the public registry, trailing dot, other schemes (exit 2)', async (t) => {
  const { displayRegistry } = await import('../../scripts/lib/core/npm-client.ts');
  for (const bad of [
    'http://u:secret-pw@127.0.0.1:1/',
    'https://:secret-pw@r.example/',
    'http://registry.npmjs.org/',
    'ftp://x/',
    'not a url',
    '',
  ]) {
    const err = refusal(() => normaliseRegistry(bad));
    t.equal(err?.exitCode, 2, `"${displayRegistry(bad)}" is a usage error`);
    t.notMatch(err?.message ?? '', /secret-pw/, 'never echoing a password');
  }
  t.ok(isPublicRegistry('https://registry.npmjs.org./'), 'a trailing dot is still the public registry');
  t.ok(isPublicRegistry('https://REGISTRY.npmjs.org/'));
  t.equal(displayRegistry('http://u:p@h/x'), 'http://***@h/x');
});

t.test('child processes get a minimal environment: no tokens, no npm settings', async (t) => {
  const { minimalEnv } = await import('../../scripts/lib/core/exec.ts');
  const { oidcEnv } = await import('../../scripts/lib/core/npm-client.ts');
  const env = minimalEnv(
    { NO_COLOR: '1' },
    {
      PATH: '/bin',
      HOME: '/root',
      NPM_TOKEN: 'a',
      NODE_AUTH_TOKEN: 'b',
      GITHUB_TOKEN: 'c',
      ACTIONS_ID_TOKEN_REQUEST_URL: 'd',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'e',
      'npm_config_@agoric:registry': 'http://elsewhere/',
      NPM_CONFIG_USERCONFIG: '/x',
      HTTPS_PROXY: 'http://proxy:3128',
      NODE_EXTRA_CA_CERTS: '/ca.pem',
    },
  );
  t.same(Object.keys(env).sort(), ['HOME', 'HTTPS_PROXY', 'NODE_EXTRA_CA_CERTS', 'NO_COLOR', 'PATH']);
  const oidc = oidcEnv({
    ACTIONS_ID_TOKEN_REQUEST_URL: 'u',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't',
    GITHUB_TOKEN: 'never',
    GITHUB_REPOSITORY: 'a/b',
    NPM_TOKEN: 'never',
  });
  t.same(
    Object.keys(oidc).sort(),
    ['ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_URL', 'GITHUB_REPOSITORY'],
    'only the publishing command gets the OIDC request variables, never GITHUB_TOKEN',
  );
});

t.test('tags are lower case; retry settings must make sense', async (t) => {
  const { retryPolicyFromEnv } = await import('../../scripts/lib/publish/publish-rules.ts');
  for (const tag of ['Latest', 'LATEST', 'Next'])
    t.match(refusal(() => checkDistTag(tag))?.message, /case-sensitive/, `"${tag}" refused`);
  for (const [k, v] of [
    ['XSNAP_READBACK_ATTEMPTS', '0'],
    ['XSNAP_READBACK_ATTEMPTS', '-1'],
    ['XSNAP_RETRY_BASE_MS', 'x'],
    ['XSNAP_READBACK_ATTEMPTS', '1.5'],
  ]) {
    t.equal(refusal(() => retryPolicyFromEnv({ [k]: v }))?.exitCode, 2, `${k}=${v} is a usage error`);
  }
  t.same(retryPolicyFromEnv({}), { readAttempts: 8, baseMs: 500 });
});

t.test(
  'stage plan: from the public packuments alone: stage, refuse other published bytes, bootstrap, latest forward',
  async (t) => {
    const { planStage } = await import('../../scripts/lib/publish/staged-publish.ts');
    const entry = (pkg: string) => ({
      target: 'linux-x64' as const,
      package: pkg,
      binaries: {} as never,
      tarball: { name: 'x.tgz', integrity: 'sha512-OURS' },
    });
    const state = (pkg: string, status: string, distTags: Record<string, string>) => ({
      target: 'linux-x64' as const,
      package: pkg,
      entry: entry(pkg),
      published: {
        target: 'linux-x64' as const,
        package: pkg,
        status: status as never,
        distTags,
        failures:
          status === 'different'
            ? [
                {
                  check: 'tarball-integrity' as const,
                  subject: `${pkg}@1.2.3`,
                  expected: 'sha512-OURS',
                  actual: 'sha512-X',
                },
              ]
            : [],
      },
    });
    const X = '@agoric/xsnap-linux-x64';
    const A = '@agoric/xsnap-linux-arm64';
    const base = {
      version: '1.2.3',
      registry: 'https://registry.npmjs.org/',
      registryKind: 'public' as const,
      tag: 'latest',
      integrityOf: () => 'sha512-OURS',
    };
    const plan = planStage({
      ...base,
      states: [state(X, 'absent', { latest: '1.2.2' }), state(A, 'ok', { latest: '1.2.3' })],
    });
    t.same(
      plan.packages.map((p) => p.action),
      ['stage', 'published'],
      'absent: stage it (a stage of ours from an earlier run cannot be seen: the approval picks it)',
    );
    t.same(plan.failures, []);

    const other = planStage({ ...base, states: [state(X, 'absent', {}), state(A, 'different', {})] });
    t.equal(other.packages[1].action, 'refuse');
    t.match(other.failures[0].hint ?? '', /never change|release a new version/, 'published other bytes: refused');

    const never = planStage({ ...base, states: [state(X, 'no-package', {}), state(A, 'absent', { latest: '1.2.2' })] });
    t.equal(
      never.failures[0].check,
      'package-exists',
      'the public registry: a never-published package needs the bootstrap',
    );
    t.match(never.failures[0].hint, /One-time bootstrap[\s\S]*@agoric\/xsnap-linux-x64[\s\S]*npm trust/);
    const local = planStage({
      ...base,
      registryKind: 'local',
      states: [state(X, 'no-package', {}), state(A, 'no-package', {})],
    });
    t.same(local.failures, [], 'elsewhere a note only');
    t.match(local.notes[0], /never published on this registry/);

    t.match(
      refusal(() =>
        planStage({
          ...base,
          states: [state(X, 'absent', { latest: '2.0.0' }), state(A, 'absent', { latest: '1.2.2' })],
        }),
      )?.message,
      /backwards to 1\.2\.3.*nothing was staged/,
    );
    const published = planStage({
      ...base,
      states: [state(X, 'ok', { latest: '1.2.3' }), state(A, 'ok', { latest: '1.2.3' })],
    });
    t.same(
      published.packages.map((p) => p.action),
      ['published', 'published'],
    );
  },
);

t.test('approval: ours is chosen among several stages, the others are to be rejected', async (t) => {
  const { chooseStage, eotpAuthUrl } = await import('../../scripts/lib/publish/staged-publish.ts');
  const stage = (id: string, ours: boolean, createdAt?: string) => ({
    stage: { id, packageName: '@agoric/xsnap-linux-x64', version: '1.2.3', tag: 'latest', createdAt },
    ours,
    integrity: ours ? 'sha512-OURS' : 'sha512-THEIRS',
    failures: [],
  });
  const theirs = stage('stage-aaaa', false, '2026-12-01T00:00:00Z');
  const ourLater = stage('stage-bbbb', true, '2026-12-03T00:00:00Z');
  const ourFirst = stage('stage-cccc', true, '2026-12-02T00:00:00Z');
  const c = chooseStage([theirs, ourLater, ourFirst]);
  t.equal(c.chosen?.stage.id, 'stage-cccc', 'ours, the oldest of ours (a re-run staged it again)');
  t.same(
    c.toReject.map((x) => x.stage.id).sort(),
    ['stage-aaaa', 'stage-bbbb'],
    'every other stage, ours or not, to reject',
  );
  const none = chooseStage([theirs]);
  t.equal(none.chosen, undefined, 'no stage of ours: nothing to approve');
  t.same(
    none.toReject.map((x) => x.stage.id),
    ['stage-aaaa'],
  );
  t.same(chooseStage([]), { chosen: undefined, toReject: [] });

  // what npm 11 prints for an EOTP carrying an authUrl (lib/utils/error-message.js), on a non-terminal
  const npmSays = [
    'npm error code EOTP',
    'npm error This operation requires a one-time password.',
    'npm error Open this URL in your browser to authenticate:',
    'npm error   https://www.npmjs.com/auth/cli/0f1e2d3c',
    'npm error',
    'npm error After authenticating, your token can be retrieved from:',
    'npm error   https://registry.npmjs.org/-/v1/done?authId=0f1e2d3c',
  ].join('\n');
  t.equal(eotpAuthUrl(npmSays), 'https://www.npmjs.com/auth/cli/0f1e2d3c');
  t.equal(eotpAuthUrl('npm error code EOTP\nnpm error This operation requires a one-time password'), undefined);
});
