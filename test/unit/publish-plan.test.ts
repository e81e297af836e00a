// The publish plan from plain objects: what publish-all decides for each
// registry state, before it writes anything.
import t from 'tap';
import { UsageError } from '../../scripts/lib/errors.ts';
import {
  planRelease,
  describePlan,
  stagingTagFor,
  checkDistTag,
  type PlanInput,
} from '../../scripts/lib/publish-plan.ts';
import { isPublishConflict } from '../../scripts/lib/publish-execute.ts';
import { isPublicRegistry, normaliseRegistry } from '../../scripts/lib/npm-client.ts';

const members: PlanInput['members'] = [
  { target: 'linux-x64', package: '@agoric/xsnap-linux-x64', tarball: '/d/a.tgz', integrity: 'sha512-AAA' },
  { target: 'linux-arm64', package: '@agoric/xsnap-linux-arm64', tarball: '/d/b.tgz', integrity: 'sha512-BBB' },
];
/** what planRelease throws: a UsageError (exit 2) or nothing */
function refusal(fn: () => unknown): UsageError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  return undefined;
}

const input = (remote: PlanInput['remote'], tag = 'latest', version = '1.2.3'): PlanInput => ({
  version,
  registry: 'http://r/',
  registryKind: 'custom',
  tag,
  provenance: false,
  dryRun: false,
  members,
  remote,
});

t.test('absent packages are published; the tag moves from the old version', async (t) => {
  const plan = planRelease(
    input({
      '@agoric/xsnap-linux-x64': { status: 'absent', distTags: { latest: '1.2.2' } },
      '@agoric/xsnap-linux-arm64': { status: 'absent', distTags: { latest: '1.2.2' } },
    }),
  );
  t.same(
    plan.packages.map((p) => [p.action, p.tag.action, p.tag.current, p.firstEverPublish]),
    [
      ['publish', 'move', '1.2.2', false],
      ['publish', 'move', '1.2.2', false],
    ],
  );
  t.equal(plan.stagingTag, stagingTagFor('1.2.3'));
  t.notOk(plan.refused);
  t.notOk(plan.nothingToDo);
  t.same(plan.notes, []);
});

t.test('one package with other bytes: the whole release is refused', async (t) => {
  const plan = planRelease(
    input({
      '@agoric/xsnap-linux-x64': { status: 'absent', distTags: {} },
      '@agoric/xsnap-linux-arm64': { status: 'different', integrity: 'sha512-ZZZ', distTags: { latest: '1.2.3' } },
    }),
  );
  t.ok(plan.refused);
  t.equal(plan.packages[1].action, 'refuse');
  t.match(describePlan(plan)[1], /REFUSE.*sha512-ZZZ.*sha512-BBB/);
});

t.test('first ever publish is called out: the registry sets latest itself', async (t) => {
  const plan = planRelease(
    input({
      '@agoric/xsnap-linux-x64': { status: 'no-package', distTags: {} },
      '@agoric/xsnap-linux-arm64': { status: 'absent', distTags: { latest: '1.0.0' } },
    }),
  );
  t.same(
    plan.packages.map((p) => p.firstEverPublish),
    [true, false],
  );
  t.match(plan.notes[0], /@agoric\/xsnap-linux-x64: first ever publish.*`latest`/);
});

t.test(
  'an interrupted run: one published under staging, nothing tagged; the re-run publishes the rest and tags all',
  async (t) => {
    const plan = planRelease(
      input({
        '@agoric/xsnap-linux-x64': {
          status: 'ok',
          integrity: 'sha512-AAA',
          distTags: { latest: '1.2.2', 'staging-1.2.3': '1.2.3' },
        },
        '@agoric/xsnap-linux-arm64': { status: 'absent', distTags: { latest: '1.2.2' } },
      }),
    );
    t.same(
      plan.packages.map((p) => [p.remote, p.action, p.tag.action, p.stagingTagLeft]),
      [
        ['identical', 'none', 'move', true],
        ['absent', 'publish', 'move', false],
      ],
    );
  },
);

t.test('everything identical and tagged: nothing to do', async (t) => {
  const done = { status: 'ok' as const, distTags: { latest: '1.2.3' } };
  const plan = planRelease(input({ '@agoric/xsnap-linux-x64': done, '@agoric/xsnap-linux-arm64': done }));
  t.ok(plan.nothingToDo);
  const otherTag = planRelease(input({ '@agoric/xsnap-linux-x64': done, '@agoric/xsnap-linux-arm64': done }, 'next'));
  t.notOk(otherTag.nothingToDo, 'a different requested tag still has to move');
  t.same(
    otherTag.packages.map((p) => p.tag.action),
    ['move', 'move'],
  );
});

t.test('latest never moves backwards: a backport needs its own tag', async (t) => {
  const remote = {
    '@agoric/xsnap-linux-x64': { status: 'absent' as const, distTags: { latest: '1.3.0' } },
    '@agoric/xsnap-linux-arm64': { status: 'absent' as const, distTags: { latest: '1.2.2' } },
  };
  const err = refusal(() => planRelease(input(remote)));
  t.equal(err?.exitCode, 2, 'moving latest 1.3.0 -> 1.2.3 is a usage error (exit 2)');
  t.match(
    err?.message,
    /backwards to 1\.2\.3: @agoric\/xsnap-linux-x64 latest is 1\.3\.0; nothing was written/,
    'names the package and where latest is',
  );
  t.notMatch(err?.message, /xsnap-linux-arm64 latest/, 'only the package that is ahead is named');
  t.match(err?.message, /--tag backport-1\.2/, 'says what to do');
  const backport = planRelease(input(remote, 'backport-1.2'));
  t.same(
    backport.packages.map((p) => [p.action, p.tag.name, p.tag.action]),
    [
      ['publish', 'backport-1.2', 'move'],
      ['publish', 'backport-1.2', 'move'],
    ],
    'an explicit other tag is planned',
  );
  t.ok(
    refusal(() =>
      planRelease(
        input({
          '@agoric/xsnap-linux-x64': { status: 'ok' as const, distTags: { latest: '2.0.0' } },
          '@agoric/xsnap-linux-arm64': { status: 'ok' as const, distTags: { latest: '2.0.0' } },
        }),
      ),
    ),
    'also when the version is already published: the move itself is refused',
  );
  const forward = planRelease(
    input({
      '@agoric/xsnap-linux-x64': { status: 'absent' as const, distTags: { latest: '1.2.3-rc.1' } },
      '@agoric/xsnap-linux-arm64': { status: 'absent' as const, distTags: {} },
    }),
  );
  t.same(
    forward.packages.map((p) => p.tag.action),
    ['move', 'move'],
    'forward from a prerelease, or from unset, is fine',
  );
});

t.test('latest never points at a prerelease unless another tag is asked for', async (t) => {
  const remote = {
    '@agoric/xsnap-linux-x64': { status: 'absent' as const, distTags: { latest: '1.2.2' } },
    '@agoric/xsnap-linux-arm64': { status: 'no-package' as const, distTags: {} },
  };
  const err = refusal(() => planRelease(input(remote, 'latest', '2.0.0-rc.1')));
  t.equal(err?.exitCode, 2, 'a usage error (exit 2)');
  t.match(
    err?.message,
    /prerelease 2\.0\.0-rc\.1.*nothing was written[\s\S]*--tag next/,
    'refused, naming the way out',
  );
  const next = planRelease(input(remote, 'next', '2.0.0-rc.1'));
  t.same(
    next.packages.map((p) => p.action),
    ['publish', 'publish'],
    '--tag next is planned',
  );
  t.match(next.notes[0], /first ever publish/, 'still warns that a first publish sets latest by itself');
});

t.test('tags npm would refuse at dist-tag add are refused before the plan', async (t) => {
  const remote = {
    '@agoric/xsnap-linux-x64': { status: 'absent' as const, distTags: {} },
    '@agoric/xsnap-linux-arm64': { status: 'absent' as const, distTags: {} },
  };
  for (const tag of ['x', 'X', 'v1', 'v2-compat', '1', '*', 'staging-1.2.3', '-next', 'has space']) {
    t.ok(
      refusal(() => planRelease(input(remote, tag))),
      `"${tag}" refused by the plan`,
    );
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
      'npm error code E409\n' +
        'npm error 409 Conflict - PUT http://127.0.0.1:4873/@agoric%2fxsnap-linux-x64 - ' +
        'this package is already present',
    ),
    'Verdaccio',
  );
  t.ok(
    isPublishConflict(
      'npm error code E403\n' +
        'npm error 403 403 Forbidden - PUT https://registry.npmjs.org/@agoric%2fxsnap-linux-x64 - ' +
        'You cannot publish over the previously published versions: 0.15.0.',
    ),
    'registry.npmjs.org',
  );
  t.notOk(
    isPublishConflict(
      'npm error code E403\n' +
        'npm error 403 403 Forbidden - PUT https://registry.npmjs.org/@agoric%2fxsnap-linux-x64 - ' +
        'You do not have permission to publish "@agoric/xsnap-linux-x64".',
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
  const { displayRegistry } = await import('../../scripts/lib/npm-client.ts');
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
  const { minimalEnv } = await import('../../scripts/lib/exec.ts');
  const { oidcEnv } = await import('../../scripts/lib/npm-client.ts');
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
  const { retryPolicyFromEnv } = await import('../../scripts/lib/publish-execute.ts');
  for (const tag of ['Latest', 'LATEST', 'Next'])
    t.match(refusal(() => checkDistTag(tag))?.message, /case-sensitive/, `"${tag}" refused`);
  for (const [k, v] of [
    ['XSNAP_PUBLISH_ATTEMPTS', '0'],
    ['XSNAP_READBACK_ATTEMPTS', '-1'],
    ['XSNAP_RETRY_BASE_MS', 'x'],
    ['XSNAP_PUBLISH_ATTEMPTS', '1.5'],
  ]) {
    t.equal(refusal(() => retryPolicyFromEnv({ [k]: v }))?.exitCode, 2, `${k}=${v} is a usage error`);
  }
  t.same(retryPolicyFromEnv({}), { publishAttempts: 3, readAttempts: 8, baseMs: 500 });
});

t.test(
  'stage plan: from the public packuments alone: stage, refuse other published bytes, bootstrap, latest forward',
  async (t) => {
    const { planStage } = await import('../../scripts/lib/staged-publish.ts');
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
  const { chooseStage, eotpAuthUrl } = await import('../../scripts/lib/staged-publish.ts');
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
