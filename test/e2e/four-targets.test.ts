// The four-target set on this Linux host, with the real binaries (darwin cross-built by zig): stage, manifest,
// bundle, verify and publish-all --dry-run go over all four. The darwin binaries cannot run here, so their
// behaviour corpora are not run: only a rehearsal (--allow-unmeasured) takes a manifest that says so, and each
// script refuses it without being asked, or for a release.
import t from 'tap';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../../scripts/lib/core/hash.ts';
import { binaryPath, bundlePath, manifestPath, verifiedRecordPath } from '../../scripts/lib/core/layout.ts';
import type { Manifest } from '../../scripts/lib/core/manifest.ts';
import { TARGETS } from '../../scripts/lib/core/targets.ts';
import { execFileSync } from 'node:child_process';
import { sharedDist, DARWIN_TARGETS, LINUX_TARGETS } from '../helpers/shared-build.ts';
import { ciStageEnv, startTestRegistry, VERSION } from '../helpers/registry.ts';
import { runScript } from '../helpers/run.ts';

const ALL = TARGETS.map((x) => x.name).join(',');

t.test('the four-target set: manifest, bundle, verify and a dry run over the real binaries', async (t) => {
  const dist = await mkdtemp(join(tmpdir(), 'xsnap-four-'));
  t.teardown(() => rm(dist, { recursive: true, force: true }));
  for (const name of TARGETS.map((x) => x.name))
    await cp(join(sharedDist(), name), join(dist, name), { recursive: true });
  const common = ['--dist', dist, '--targets', ALL];
  const staged = await runScript('stage-packages.ts', common);
  t.equal(staged.code, 0, staged.stderr);

  // without being asked, a target nobody measured is refused, naming it and what to do
  const refused = await runScript('generate-manifest.ts', common);
  t.equal(refused.code, 1, 'generate-manifest refuses darwin with nothing measured');
  t.match(refused.stderr, /darwin-x64 cannot run on linux-x64/);
  t.match(refused.stderr, /--fingerprint-only/);
  const save = await runScript('generate-manifest.ts', [...common, '--allow-unmeasured', '--save']);
  t.equal(save.code, 2, '--save never keeps a rehearsal manifest');

  const made = await runScript('generate-manifest.ts', [...common, '--allow-unmeasured']);
  t.equal(made.code, 0, made.stderr);
  t.match(made.stderr, /darwin-arm64 cannot run on linux-x64: its behaviour corpora .* were not run/);
  const m = JSON.parse(await readFile(manifestPath(dist, VERSION), 'utf8')) as Manifest;
  t.same(Object.keys(m.targets).sort(), ALL.split(',').sort());
  for (const name of DARWIN_TARGETS) {
    const e = m.targets[name]!;
    t.match(e.unmeasured, /binaries run only on macOS/, `${name}: unmeasured, and why`);
    t.equal(e.fingerprint, undefined);
    t.equal(e.determinism, undefined);
    t.equal(e.release.sha256, await sha256File(binaryPath(dist, name, 'release')), `${name}: the real binary`);
    t.match(e.toolchain, { kind: 'zig' });
  }
  for (const name of LINUX_TARGETS) {
    t.equal(m.targets[name]!.unmeasured, undefined, `${name}: measured here`);
    t.ok(m.targets[name]!.determinism);
  }
  const bundled = execFileSync('tar', ['-tzf', bundlePath(dist, VERSION)], { encoding: 'utf8' }).split('\n');
  for (const name of DARWIN_TARGETS)
    t.ok(bundled.includes(`dist/${name}/release/xsnap-worker`), `the bundle holds ${name}'s release binary`);

  // verify: refused without --allow-unmeasured (naming the check), never for a release tag, passes when asked
  const strict = await runScript('verify-artifacts.ts', [...common, '--skip-install', '--skip-fingerprint', '--json']);
  t.equal(strict.code, 1);
  const failures = JSON.parse(strict.stdout).failures as Array<{ check: string; subject: string }>;
  t.same(
    failures.map((f) => f.check),
    ['manifest-measured', 'manifest-measured'],
    'the only failures: the two unmeasured targets',
  );
  t.match(failures[0].subject, /targets\.darwin-x64/);
  const tagged = await runScript('verify-artifacts.ts', [...common, '--allow-unmeasured', '--tag', `v${VERSION}`]);
  t.equal(tagged.code, 2, 'a release tag has every target measured');
  const ok = await runScript('verify-artifacts.ts', [...common, '--allow-unmeasured', '--record', '--json']);
  t.equal(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  t.equal(report.checks['binary-header'], 8, 'the header checks of all eight binaries ran (darwin: the Mach-O ones)');
  t.match(report.notes.join('\n'), /targets\.darwin-arm64: the behaviour corpora .* were not run/);
  t.same(Object.keys(report.fingerprints).sort(), [...LINUX_TARGETS].sort(), 'the corpora ran where they can');
  const record = JSON.parse(await readFile(verifiedRecordPath(dist, VERSION), 'utf8'));
  t.ok(record.files[`agoric-xsnap-darwin-arm64-${VERSION}.tgz`], 'the record holds the darwin tarballs');

  // publish-all --dry-run over the four, as CI's stage step (no token) on a loopback registry
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const env = ciStageEnv(reg, join(dist, 'tmp'));
  const dry = (extra: string[]) =>
    runScript('publish-all.ts', ['stage', '--registry', reg.url, '--dry-run', ...common, ...extra], { env });
  const no = await dry([]);
  t.equal(no.code, 1, 'a dry run over an unmeasured manifest fails unless asked');
  t.match(no.stderr, /\[manifest-measured\]/);
  const yes = await dry(['--allow-unmeasured']);
  t.equal(yes.code, 0, yes.stderr);
  for (const name of ALL.split(','))
    t.match(yes.stderr, new RegExp(`npm stage publish --dry-run @agoric/xsnap-${name}`), `${name} planned`);
  t.match(yes.stderr, /darwin-x64, darwin-arm64: behaviour not measured/);
});
