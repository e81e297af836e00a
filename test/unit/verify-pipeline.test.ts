// scripts/lib/verify/: the pipeline list is what --help prints, check names are
// declared by their step (a typed union the tests import), and a check name no
// step declares is refused at run time and by the type checker.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runScript } from '../helpers/run.ts';
import { describePipeline, VERIFY_PIPELINE, type CheckName } from '../../scripts/lib/verify/index.ts';
import { Checks, newRecord } from '../../scripts/lib/verify/context.ts';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import { runRaw } from '../../scripts/lib/core/exec.ts';

t.test('verify-artifacts --help prints the pipeline, in order', async (t) => {
  const r = await runScript('verify-artifacts.ts', ['--help']);
  t.equal(r.code, 0, r.stderr);
  t.ok(r.stdout.includes(describePipeline()), 'the help holds the pipeline as index.ts describes it');
  const order = VERIFY_PIPELINE.map(({ step }) => r.stdout.indexOf(`. ${step.name}: `));
  t.ok(
    order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1])),
    'every step is listed, in order',
  );
});

t.test('each step declares its check names once, and names are plain', async (t) => {
  const names = new Set<string>();
  for (const { step, about } of VERIFY_PIPELINE) {
    t.ok(about.length > 0 && about.length <= 100, `${step.name}: one short line`);
    t.equal(new Set(step.checks).size, step.checks.length, `${step.name}: no name twice`);
    for (const c of step.checks) {
      t.match(c, /^[a-z0-9]+(-[a-z0-9]+)*$/, `${step.name}: ${c}`);
      names.add(c);
    }
  }
  // names the e2e tests plant defects for, from five different steps
  const some: CheckName[] = ['sums-digest', 'tarball-binary-mode', 'bundle-reproducible', 'determinism', 'yanked'];
  for (const c of some) t.ok(names.has(c), c);
});

t.test('a check a step does not declare is refused when it is recorded', async (t) => {
  const record = newRecord();
  const c = new Checks(record, ['tarball-present'], 'tarballs');
  c.fail({ check: 'tarball-present', subject: 's', expected: 'a', actual: 'b' });
  t.equal(record.failures.length, 1);
  t.throws(() => c.add([{ check: 'tarbal-present', subject: 's' }]), /does not declare/);
  t.throws(() => c.equal('other' as 'tarball-present', 's', 1, 1), /"other", which it does not declare/);
  t.equal(record.failures.length, 1, 'nothing recorded from the refused calls');
});

t.test('the type checker refuses a check name no step declares', async (t) => {
  // the same compiler and settings as `npm run typecheck`, on one planted file beside the tests
  const dir = await mkdtemp(join(REPO_ROOT, 'test', 'unit', '.typecheck-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'planted.ts');
  // one run over both: a declared name and one no step declares, each on a line of its own
  const planted = [
    `import type { CheckName } from '../../../scripts/lib/verify/index.ts';`,
    `export const declared: CheckName = 'sums-digest';`,
    `export const undeclared: CheckName = 'sums-digests';`,
  ];
  await writeFile(file, planted.join('\n') + '\n');
  const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
  const flags = [
    '--noEmit',
    '--strict',
    '--module',
    'NodeNext',
    '--moduleResolution',
    'NodeNext',
    '--target',
    'ES2022',
  ];
  // incremental: what the compiler learnt of the unchanged files the planted one imports is kept (the diagnostics of
  // every file included), so only the planted file is checked again
  const more = [
    ...['--allowImportingTsExtensions', '--skipLibCheck', '--types', 'node'],
    ...['--incremental', '--tsBuildInfoFile', join(REPO_ROOT, '.cache', 'tsc-planted.tsbuildinfo')],
  ];
  const r = await runRaw([tsc, ...flags, ...more, file], { cwd: REPO_ROOT });
  t.not(r.code, 0, 'refused');
  const errors = r.stdout.split('\n').filter((l) => / error TS\d+:/.test(l));
  t.equal(errors.length, 1, `one error, the undeclared name's:\n${r.stdout}`);
  t.match(errors[0], /planted\.ts\(3,\d+\): error TS\d+: Type '"sums-digests"' is not assignable to type/);
});

t.test('the whole project type-checks (npm run typecheck), so the union holds everywhere', async (t) => {
  // incremental (.cache/tsc.tsbuildinfo keeps each file's version and diagnostics): a file changed since the last run
  // and what depends on it are checked again, the rest is taken from the last run, errors included
  const info = join(REPO_ROOT, '.cache', 'tsc.tsbuildinfo');
  const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
  const r = await runRaw([tsc, '--noEmit', '-p', REPO_ROOT, '--incremental', '--tsBuildInfoFile', info], {
    cwd: REPO_ROOT,
  });
  t.equal(r.code, 0, r.stdout + r.stderr);
});
