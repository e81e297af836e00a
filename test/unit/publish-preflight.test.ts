// Who may write, decided before anything starts (publishAuth, checkWholeSet),
// and what publish-all stage says for a plan with nothing to do (publish-report.ts).
import t from 'tap';
import { UsageError } from '../../scripts/lib/core/errors.ts';
import { checkWholeSet, publishAuth, type AuthInput } from '../../scripts/lib/publish/publish-preflight.ts';
import { stageReport } from '../../scripts/lib/publish/publish-report.ts';
import { planStage } from '../../scripts/lib/publish/staged-publish.ts';
import { TARGETS } from '../../scripts/lib/core/targets.ts';

const pub = { url: 'https://registry.npmjs.org/', kind: 'public' as const };
const local = { url: 'http://127.0.0.1:1/', kind: 'local' as const };
const actions = { GITHUB_ACTIONS: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.example/' };

t.test('publishAuth: a token, trusted publishing for staging in Actions, or a usage error', async (t) => {
  const base = { token: undefined, command: 'stage', dryRun: false, registry: pub } as const;
  const auth = (o: Partial<AuthInput>, env: NodeJS.ProcessEnv) => publishAuth({ ...base, ...o }, env);
  t.same(auth({ token: 't', registry: local }, {}), { provenance: false });
  t.same(auth({ token: 't' }, actions), { provenance: true });
  // trusted publishing: the OIDC variables, for npm stage publish alone (never GITHUB_TOKEN)
  t.same(auth({}, { ...actions, GITHUB_TOKEN: 'ghs_x', NPM_TOKEN: '' }), {
    oidcEnv: { GITHUB_ACTIONS: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.example/' },
    provenance: true,
  });
  t.same(auth({ dryRun: true }, {}), { provenance: false }, 'a dry run needs no credential');
  // provenance is signed with the job's OIDC identity: not without id-token: write
  t.same(auth({ token: 't' }, { GITHUB_ACTIONS: 'true' }), { provenance: false });
  // the local staging registry's stand-in of GitHub's variables: the same path, as the CI identity
  const standIn = { GITHUB_ACTIONS: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/-/xsnap/oidc/id-token' };
  t.same(auth({ registry: { ...local, oidcEnv: standIn } }, {}), { oidcEnv: standIn, provenance: false });
  t.same(
    auth({ command: 'approve', token: 'maintainer', registry: { ...local, oidcEnv: standIn } }, {}),
    { provenance: false },
    'a maintainer approving never gets the CI identity',
  );
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return e;
    }
    return undefined;
  };
  const approving = refusal(() => auth({ command: 'approve' }, actions));
  t.ok(approving instanceof UsageError, 'trusted publishing never approves: a usage error');
  t.match(String(approving), /no token: npm login to https:\/\/registry\.npmjs\.org\/, or set NPM_TOKEN to a token/);
  t.match(String(refusal(() => auth({}, {}))), /may publish on https:\/\/registry\.npmjs\.org\/ \(in GitHub Actions/);
});

t.test("tokenFromNpmLogin: the maintainer's npm login session, for that registry only", async (t) => {
  const { tokenFromNpmLogin } = await import('../../scripts/lib/core/npm-client.ts');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'xsnap-npmrc-')), 'npmrc');
  writeFileSync(
    file,
    [
      '; npm login wrote this',
      '//registry.npmjs.org/:_authToken=session.of.the.maintainer', // a fixture, not a credential
      '//127.0.0.1:4873/:_authToken=${LOCAL_TOKEN}',
      '//other.example/:_authToken=other.session',
    ].join('\n'),
  );
  const env = { NPM_CONFIG_USERCONFIG: file };
  t.equal(tokenFromNpmLogin('https://registry.npmjs.org/', env), 'session.of.the.maintainer');
  t.equal(tokenFromNpmLogin('https://registry.npmjs.org', env), 'session.of.the.maintainer', 'the URL normalised');
  t.equal(tokenFromNpmLogin('http://127.0.0.1:4873/', env), undefined, 'a ${VAR} is not a session');
  t.equal(tokenFromNpmLogin('https://registry.example/', env), undefined, 'another registry: none');
  t.equal(tokenFromNpmLogin('https://registry.npmjs.org/', { NPM_CONFIG_USERCONFIG: file + '.none' }), undefined);
});

t.test('checkWholeSet: the public registry gets every target', async (t) => {
  t.doesNotThrow(() => checkWholeSet('public', [...TARGETS], undefined));
  t.doesNotThrow(() => checkWholeSet('custom', [TARGETS[0]], 'linux-x64'));
  t.throws(() => checkWholeSet('public', [TARGETS[0]], 'linux-x64'), /--targets linux-x64 is only allowed on another/);
});

t.test('stageReport: nothing to do', async (t) => {
  const entry = { target: 'linux-x64' as const, package: '@agoric/xsnap-linux-x64' };
  const plan = planStage({
    version: '1.2.3',
    registry: 'http://r/',
    registryKind: 'custom',
    tag: 'latest',
    integrityOf: () => 'sha512-A',
    states: [
      {
        ...entry,
        entry: { ...entry, binaries: {} as never, tarball: { name: 'a.tgz', integrity: 'sha512-A' } },
        published: { ...entry, status: 'ok', integrity: 'sha512-A', distTags: { latest: '1.2.3' }, failures: [] },
      },
    ],
  });
  const r = stageReport(plan, false, { kind: 'nothing-to-do' });
  t.equal(r.text, 'nothing to do: 1.2.3 is fully published on http://r/');
  t.equal(r.exitCode, undefined);
  t.match(r.json, { ok: true, nothingToDo: true });
  t.match(
    r.summary!,
    /### publish-all 1\.2\.3: staged on http:\/\/r\/\n\n```\nnothing to do: 1\.2\.3 is published\n```/,
  );
});
