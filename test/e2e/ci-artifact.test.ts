// ci-artifact.ts on the real linux builds: what a build leg uploads arrives
// with its execute bits and bytes, and every kind of bad artifact is refused
// with nothing placed in dist/.
import t from 'tap';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { sharedDist, LINUX_TARGETS } from '../helpers/shared-build.ts';
import { runScript } from '../helpers/run.ts';
import { sha256File } from '../../scripts/lib/core/hash.ts';

const shared = sharedDist();

/** A copy of the shared linux build in a fresh folder. */
function copyDist(dir: string): string {
  const dist = join(dir, 'dist');
  for (const target of LINUX_TARGETS) cpSync(join(shared, target), join(dist, target), { recursive: true });
  return dist;
}

async function pack(dist: string, out: string, what: string) {
  const r = await runScript('ci-artifact.ts', ['--pack', what, '--dist', dist, '--out', out, '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout).file as string;
}

t.test('pack then unpack keeps bytes and execute bits', async (t) => {
  const dir = t.testdir();
  const dist = copyDist(dir);
  const out = join(dir, 'artifacts');
  for (const target of LINUX_TARGETS) await pack(dist, out, target);
  t.same(readdirSync(out).sort(), LINUX_TARGETS.map((x) => `xsnap-build-${x}.tar`).sort());
  const fresh = join(dir, 'fresh');
  const r = await runScript('ci-artifact.ts', [
    '--unpack',
    out,
    '--dist',
    fresh,
    '--targets',
    LINUX_TARGETS.join(','),
    '--json',
  ]);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout).checkedTargets.sort(), [...LINUX_TARGETS].sort());
  for (const target of LINUX_TARGETS) {
    for (const goal of ['release', 'debug']) {
      const a = join(shared, target, goal, 'xsnap-worker');
      const b = join(fresh, target, goal, 'xsnap-worker');
      t.equal(await sha256File(b), await sha256File(a), `${target} ${goal} bytes`);
      t.equal(statSync(b).mode & 0o777, 0o755, `${target} ${goal} mode`);
    }
  }
  t.same(readdirSync(fresh).sort(), [...LINUX_TARGETS].sort(), 'no staging folder left behind');
  // a second unpack into the same dist refuses to overwrite, unless --replace
  const again = await runScript('ci-artifact.ts', [
    '--unpack',
    out,
    '--dist',
    fresh,
    '--targets',
    LINUX_TARGETS.join(','),
  ]);
  t.equal(again.code, 1);
  t.match(again.stderr, /artifact-overwrite/);
  const replaced = await runScript('ci-artifact.ts', [
    '--unpack',
    out,
    '--dist',
    fresh,
    '--targets',
    LINUX_TARGETS.join(','),
    '--replace',
  ]);
  t.equal(replaced.code, 0, replaced.stderr);
});

t.test('a whole dist round-trips for the publish job', async (t) => {
  const dir = t.testdir();
  const dist = copyDist(dir);
  mkdirSync(join(dist, 'release'));
  writeFileSync(join(dist, 'release', 'SHA256SUMS'), 'x\n');
  const file = await pack(dist, join(dir, 'out'), 'dist');
  t.match(file, /xsnap-dist\.tar$/);
  const fresh = join(dir, 'fresh');
  const r = await runScript('ci-artifact.ts', [
    '--unpack',
    join(dir, 'out'),
    '--dist',
    fresh,
    '--targets',
    LINUX_TARGETS.join(','),
  ]);
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(join(fresh, 'release', 'SHA256SUMS'), 'utf8'), 'x\n');
});

t.test('bad artifacts are refused and nothing lands in dist', async (t) => {
  const dir = t.testdir();
  const dist = copyDist(dir);
  const cases: Array<{ name: string; make: (src: string, out: string) => Promise<void>; expect: RegExp }> = [
    {
      name: 'a changed byte in a binary',
      make: async (src, out) => {
        const bin = join(src, 'linux-x64', 'release', 'xsnap-worker');
        const bytes = readFileSync(bin);
        bytes[bytes.length - 100] ^= 0xff;
        writeFileSync(bin, bytes);
        await tar.create({ file: join(out, 'xsnap-build-linux-x64.tar'), cwd: src, portable: true }, ['linux-x64']);
      },
      expect: /artifact-sha256\] artifact: linux-x64\/release\/xsnap-worker/,
    },
    {
      name: 'a lost execute bit',
      make: async (src, out) => {
        chmodSync(join(src, 'linux-x64', 'debug', 'xsnap-worker'), 0o644);
        await tar.create({ file: join(out, 'xsnap-build-linux-x64.tar'), cwd: src, portable: true }, ['linux-x64']);
      },
      expect: /artifact-mode\] artifact: linux-x64\/debug\/xsnap-worker[\s\S]*actual: +0644/,
    },
    {
      name: 'a symlink',
      make: async (src, out) => {
        const { symlinkSync } = await import('node:fs');
        symlinkSync('/etc/passwd', join(src, 'linux-x64', 'evil'));
        await tar.create({ file: join(out, 'xsnap-build-linux-x64.tar'), cwd: src, portable: true }, ['linux-x64']);
      },
      expect: /artifact-entry\] xsnap-build-linux-x64\.tar: linux-x64\/evil[\s\S]*SymbolicLink/,
    },
    {
      name: 'a ".." path',
      make: async (src, out) => {
        mkdirSync(join(src, 'a'));
        writeFileSync(join(src, 'escape'), 'x');
        await tar.create(
          { file: join(out, 'xsnap-build-linux-x64.tar'), cwd: join(src, 'a'), portable: true, preservePaths: true },
          ['../escape'],
        );
      },
      expect: /artifact-entry\][\s\S]*climbs out/,
    },
    {
      name: 'a missing target',
      make: async (src, out) => {
        await tar.create({ file: join(out, 'xsnap-build-linux-x64.tar'), cwd: src, portable: true }, ['linux-x64']);
      },
      expect: /artifact-present\] linux-arm64/,
    },
  ];
  for (const c of cases) {
    const src = join(dir, c.name.replace(/\W+/g, '-'), 'src');
    const out = join(dir, c.name.replace(/\W+/g, '-'), 'out');
    cpSync(dist, src, { recursive: true });
    mkdirSync(out, { recursive: true });
    await c.make(src, out);
    const target = join(dir, c.name.replace(/\W+/g, '-'), 'dist');
    const r = await runScript('ci-artifact.ts', [
      '--unpack',
      out,
      '--dist',
      target,
      '--targets',
      LINUX_TARGETS.join(','),
    ]);
    t.equal(r.code, 1, `${c.name}: exit 1`);
    t.match(r.stderr, c.expect, c.name);
    t.same(existsSync(target) ? readdirSync(target) : [], [], `${c.name}: nothing placed`);
  }
});

t.test('usage errors exit 2', async (t) => {
  const none = await runScript('ci-artifact.ts', []);
  t.equal(none.code, 2);
  t.match(none.stderr, /give exactly one of --pack, --unpack/);
  const two = await runScript('ci-artifact.ts', ['--pack', 'linux-x64', '--unpack', 'x']);
  t.equal(two.code, 2);
  const win = await runScript('ci-artifact.ts', ['--pack', 'win32-x64']);
  t.equal(win.code, 2);
  t.match(win.stderr, /Windows is not supported/);
});

t.test("compare-checks: the check legs' fingerprints against each other and the set", async (t) => {
  const dir = t.testdir();
  const dist = copyDist(dir);
  const targets = LINUX_TARGETS.join(',');
  for (const script of ['stage-packages.ts', 'generate-manifest.ts']) {
    const r = await runScript(script, ['--dist', dist, '--targets', targets]);
    t.equal(r.code, 0, r.code ? `${script}: ${r.stderr}` : script);
  }
  const checks = join(dir, 'checks');
  for (const target of LINUX_TARGETS) {
    const r = await runScript('ci-artifact.ts', ['--save-check', target, '--dist', dist, '--out', checks]);
    t.equal(r.code, 0, r.stderr);
  }
  const ok = await runScript('ci-artifact.ts', [
    '--compare-checks',
    checks,
    '--dist',
    dist,
    '--targets',
    targets,
    '--json',
  ]);
  t.equal(ok.code, 0, ok.stderr);
  const digests = JSON.parse(ok.stdout).digests;
  t.match(digests['linux-x64'], /^[0-9a-f]{64}$/);
  t.equal(digests['linux-arm64'], digests['linux-x64']);
  t.ok(
    (JSON.parse(ok.stdout).reported as string[]).includes(
      'known divergence: nan-bits: linux-x64 vs linux-arm64: digests differ',
    ),
    'the NaN bits of x64 and arm64 differ: reported, not failed',
  );

  const armFile = join(checks, 'check-linux-arm64.json');
  const original = readFileSync(armFile, 'utf8');
  const edit = async (change: (m: any) => void) => {
    // eslint-disable-line @typescript-eslint/no-explicit-any
    const m = JSON.parse(original);
    change(m);
    writeFileSync(armFile, JSON.stringify(m, null, 2));
    return runScript('ci-artifact.ts', ['--compare-checks', checks, '--dist', dist, '--targets', targets]);
  };
  // one workload's meter count differs on one target: a consensus failure
  const meter = await edit((m) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const w = Object.values<any>(m.targets['linux-arm64'].fingerprint.workloads)[0];
    const k = Object.keys(w.meter)[0];
    w.meter[k] += 1;
  });
  t.equal(meter.code, 1);
  t.match(meter.stderr, /check-fingerprint\] linux-arm64/);
  // the check leg verified other bytes than the set holds
  const bytes = await edit((m) => (m.targets['linux-arm64'].release.sha256 = '0'.repeat(64)));
  t.equal(bytes.code, 1);
  t.match(bytes.stderr, /check-same-binary\] linux-arm64 release/);
  // a check leg that recorded no fingerprint
  const none = await edit((m) => delete m.targets['linux-arm64'].fingerprint);
  t.equal(none.code, 1);
  t.match(none.stderr, /check-fingerprint\] linux-arm64[\s\S]*none recorded/);
  // a check leg whose determinism digest of an XS family differs: gated in either profile
  const numbers = await edit((m) => (m.targets['linux-arm64'].determinism.families.parseInt.sha256 = 'f'.repeat(64)));
  t.equal(numbers.code, 1);
  t.match(
    numbers.stderr,
    /check-determinism\] linux-arm64 \(native runner\) vs linux-arm64 \(combined manifest\): family parseInt \(xs\)/,
  );
  t.match(numbers.stderr, /determinism-across-targets\] linux-x64 vs linux-arm64: family parseInt/);
  // a libm family under the system profile: reported, not failed
  const libm = await edit((m) => (m.targets['linux-arm64'].determinism.families['Math.tan'].sha256 = 'e'.repeat(64)));
  t.equal(libm.code, 0, libm.stderr);
  t.match(libm.stderr, /host-dependent \(system libm\): Math\.tan/);
  // nan-bits (issue 19): the known x64/arm64 difference is reported across targets, but never between the native
  // and the combined run of one binary, and never with another meter
  const nan = await edit((m) => (m.targets['linux-arm64'].determinism.families['nan-bits'].sha256 = 'd'.repeat(64)));
  t.equal(nan.code, 1);
  t.match(
    nan.stderr,
    /check-determinism\] linux-arm64 \(native runner\) vs linux-arm64 \(combined manifest\): family nan-bits/,
    'one binary, native and combined: not exempt',
  );
  t.notMatch(nan.stderr, /determinism-across-targets\] linux-x64 vs linux-arm64: family nan-bits/);
  const nanMeter = await edit((m) => {
    m.targets['linux-arm64'].determinism.families['nan-bits'].sha256 = 'd'.repeat(64);
    m.targets['linux-arm64'].determinism.families['nan-bits'].compute += 1;
  });
  t.equal(nanMeter.code, 1);
  t.match(
    nanMeter.stderr,
    /determinism-across-targets\] linux-x64 vs linux-arm64: family nan-bits[\s\S]*the compute meter differs/,
    'x64 against arm64 with another meter: fails',
  );
  // a libm family under the system profile with another meter: fails (the bits alone are reported)
  const libmMeter = await edit((m) => (m.targets['linux-arm64'].determinism.families['Math.tan'].compute += 1));
  t.equal(libmMeter.code, 1);
  t.match(libmMeter.stderr, /determinism-across-targets\] linux-x64 vs linux-arm64: family Math\.tan/);
  // a check leg built with another math profile
  const profile = await edit((m) => (m.targets['linux-arm64'].math = { profile: 'portable' }));
  t.equal(profile.code, 1);
  t.match(profile.stderr, /math-profile\]/);
  // a missing check leg
  writeFileSync(armFile, original);
  const { rmSync } = await import('node:fs');
  rmSync(join(checks, 'check-linux-x64.json'));
  const missing = await runScript('ci-artifact.ts', ['--compare-checks', checks, '--dist', dist, '--targets', targets]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /check-leg\] linux-x64/);
});
