// Issue 10, release-path hardening: each attack an adversarial review
// reproduced against publish-all and the gate, reproduced here against a real
// Verdaccio (behind the fault proxy, which stages the races) and shown fixed.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, sha256Hex, sriSha512 } from '../../scripts/lib/core/hash.ts';
import { getTarget } from '../../scripts/lib/core/targets.ts';
import { runScript, spawnScript } from '../../scripts/lib/core/run-script.ts';
import { LINUX } from '../helpers/staged.ts';
import {
  VERSION,
  PACKAGES,
  startTestRegistry,
  releaseDist,
  stageAll,
  approveAll,
  publishEnv,
  latestOf,
  packuments,
  variantTarball,
  ciStageEnv,
} from '../helpers/registry.ts';

const X64 = getTarget('linux-x64').packageName;
const ARM64 = getTarget('linux-arm64').packageName;
const tgz = (target: string) => `agoric-xsnap-${target}-${VERSION}.tgz`;
const MANIFEST = `xsnap-worker-manifest-${VERSION}.json`;
const SECRET_NAMES = /^(NPM_TOKEN|NODE_AUTH_TOKEN|ACTIONS_ID_TOKEN_REQUEST_TOKEN|GITHUB_TOKEN|GH_TOKEN)=/m;

/**
 * A copy of the release dist whose linux-x64 release binary is a stand-in: a
 * static ELF (no GLIBC needs, passes the header checks) that does `before`
 * (C statements), then runs the real worker; restaged and re-manifested so that
 * every record agrees with it.
 */
async function standInDist(t: Test, dir: string, before: string): Promise<string> {
  const dist = join(dir, 'dist');
  await releaseDist(dist);
  const real = join(dir, 'real-xsnap-worker');
  const bin = join(dist, 'linux-x64', 'release', 'xsnap-worker');
  renameSync(bin, real);
  writeFileSync(
    join(dir, 'standin.c'),
    `#include <stdio.h>
#include <string.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
  ${before}
  argv[0] = ${JSON.stringify(real)};
  execv(argv[0], argv);
  return 127;
}
`,
  );
  const cc = spawnSync('cc', ['-static', '-O2', '-o', bin, join(dir, 'standin.c')], { encoding: 'utf8' });
  t.equal(cc.status, 0, `the stand-in compiles: ${cc.stderr}`);
  const info = JSON.parse(readFileSync(join(dist, 'linux-x64', 'build-info.json'), 'utf8'));
  info.binaries.release.sha256 = sha256Hex(readFileSync(bin));
  info.binaries.release.size = readFileSync(bin).length;
  writeFileSync(join(dist, 'linux-x64', 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
  for (const [script, args] of [
    ['stage-packages.ts', ['--dist', dist, '--targets', LINUX]],
    ['generate-manifest.ts', ['--dist', dist, '--targets', LINUX]],
  ] as const) {
    const r = await runScript(script, [...args]);
    t.equal(r.code, 0, `${script} with the stand-in: ${r.stderr}`);
  }
  return dist;
}

// Issue 17 item 4: on Linux a child reads /proc/<ancestor>/environ, so a minimal
// environment does not hide its parents' credentials: a command that holds one
// must run no binary at all. The stand-in records its own environment and every
// ancestor's, then runs the real worker.
const ANCESTORS_ENVIRON = (file: string) => `FILE *f = fopen(${JSON.stringify(file)}, "a");
  if (f) {
    fprintf(f, "--- run\\n");
    for (int pid = getpid(); pid > 1;) {
      char path[64]; snprintf(path, sizeof path, "/proc/%d/environ", pid);
      FILE *e = fopen(path, "r");
      if (e) { int ch; while ((ch = fgetc(e)) != EOF) fputc(ch ? ch : '\\n', f); fclose(e); }
      snprintf(path, sizeof path, "/proc/%d/stat", pid);
      FILE *st = fopen(path, "r"); int ppid = 0;
      if (st) { if (fscanf(st, "%*d (%*[^)]) %*c %d", &ppid) != 1) ppid = 0; fclose(st); }
      pid = ppid;
    }
    fclose(f);
  }`;

t.test(
  'issue 17 item 4: no command holding a credential runs a binary; without credentials the check does',
  async (t) => {
    const reg = await startTestRegistry();
    t.teardown(() => reg.stop());
    const dir = t.testdir();
    const envFile = join(dir, 'recorded-env.txt');
    const dist = await standInDist(t, dir, ANCESTORS_ENVIRON(envFile));
    writeFileSync(envFile, '');
    const runs = () => (readFileSync(envFile, 'utf8').match(/^--- run$/gm) ?? []).length;
    // credentials a job or a person may hold besides the one the command uses (a CI job has no npm token)
    const sentinels = { GITHUB_TOKEN: 'sentinel-github-token', GH_TOKEN: 'sentinel-gh-token' };
    const npmTokens = { NPM_TOKEN: reg.token, NODE_AUTH_TOKEN: 'sentinel-node-auth-token' };
    const tmp = join(dir, 'tmp');
    const common = ['--registry', reg.url, '--targets', LINUX, '--dist', dist];

    // the control: a dry run started without any credential verifies first, and runs the stand-in
    const control = await runScript('publish-all.ts', ['stage', ...common, '--dry-run'], {
      env: { TMPDIR: tmp },
    });
    t.equal(control.code, 0, `the credential-free dry run verifies and passes\n${control.stderr}`);
    const afterControl = runs();
    t.ok(afterControl >= 3, `the control ran the stand-in (${afterControl} runs: -v, fingerprint, determinism)`);
    t.match(readFileSync(envFile, 'utf8'), /^PATH=/m, "and it read its ancestors' environments (the probe works)");

    const credentialed: Array<[string, string, string[], NodeJS.ProcessEnv]> = [
      [
        'a dry run holding a token (no record: refused, not verified here)',
        'publish-all.ts',
        ['stage', ...common, '--dry-run'],
        { ...npmTokens, ...sentinels, TMPDIR: tmp },
      ],
      [
        'the stage step as CI runs it (trusted publishing)',
        'publish-all.ts',
        ['stage', ...common],
        { ...ciStageEnv(reg, tmp), ...sentinels },
      ],
      [
        'the approval (a maintainer token and a code)',
        'publish-all.ts',
        ['approve', ...common],
        { ...npmTokens, ...sentinels, TMPDIR: tmp },
      ],
      [
        'the gate (publish-release.yml)',
        'verify-artifacts.ts',
        ['--published', '--manifest', join(dist, 'release', MANIFEST), '--registry', reg.direct, '--targets', LINUX],
        { ...npmTokens, ...sentinels },
      ],
      [
        'the hand-off (the publish job)',
        'generate-manifest.ts',
        ['--handoff', '--dist', dist, '--targets', LINUX],
        { ...npmTokens, ...sentinels },
      ],
    ];
    // the record of the control run is removed for the first credentialed run: it must not verify itself
    const { rmSync, renameSync: mv } = await import('node:fs');
    const recordFile = join(dist, `verified-${VERSION}.json`);
    mv(recordFile, recordFile + '.kept');
    for (const [what, script, args, env] of credentialed) {
      const before = runs();
      // a one-time code, fresh, for each write that needs one
      const code = args[0] === 'approve' ? ['--otp', reg.rules.otp()] : [];
      const r = await runScript(script, [...args, ...code], { env });
      if (what.startsWith('a dry run holding')) {
        t.equal(r.code, 1, `${what}: refused`);
        t.match(
          r.stderr,
          /\[verified-record\][\s\S]*in a shell without [A-Z_, ]*NPM_TOKEN/,
          'says how to verify first',
        );
        mv(recordFile + '.kept', recordFile);
      } else t.equal(r.code, 0, `${what}\n${r.stderr}`);
      t.equal(runs(), before, `${what}: ran no binary`);
    }
    rmSync(recordFile + '.kept', { force: true });
    const recorded = readFileSync(envFile, 'utf8');
    t.notMatch(recorded, SECRET_NAMES, 'no credential variable in any environment the stand-in could read');
    const secrets = [...Object.values(npmTokens), ...Object.values(sentinels)];
    for (const v of [...secrets, reg.rules.oidcEnv.ACTIONS_ID_TOKEN_REQUEST_TOKEN])
      t.notOk(recorded.includes(v), 'no secret value either');
  },
);

t.test('item 2: a registry URL with credentials is refused (exit 2) without echoing them', async (t) => {
  const dir = t.testdir({ 'summary.md': '' });
  const summary = join(dir, 'summary.md');
  const dist = await releaseDist();
  for (const url of ['http://someone:pa55w0rd-in-url@127.0.0.1:9/', 'https://:pa55w0rd-in-url@registry.example/']) {
    const r = await runScript(
      'publish-all.ts',
      ['stage', '--registry', url, '--targets', LINUX, '--dist', dist, '--json'],
      {
        env: { GITHUB_STEP_SUMMARY: summary, NPM_TOKEN: 'x'.repeat(8) },
      },
    );
    t.equal(r.code, 2, 'a usage error');
    t.match(r.stderr, /carries credentials/);
    t.notOk(
      (r.stdout + r.stderr + readFileSync(summary, 'utf8')).includes('pa55w0rd-in-url'),
      'the password is in no output and no summary',
    );
  }
  const gate = await runScript(
    'verify-artifacts.ts',
    [
      '--published',
      '--registry',
      'http://someone:pa55w0rd-in-url@127.0.0.1:9/',
      '--dist',
      dist,
      '--targets',
      LINUX,
      '--skip-install',
      '--skip-fingerprint',
    ],
    { env: { GITHUB_STEP_SUMMARY: summary } },
  );
  t.equal(gate.code, 2, 'the gate refuses it too, as a usage error');
  t.notOk(
    (gate.stdout + gate.stderr + readFileSync(summary, 'utf8')).includes('pa55w0rd-in-url'),
    'without echoing it',
  );
});

t.test('item 3: npm settings from the environment cannot redirect the publish or swap its token', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  const elsewhere: string[] = [];
  const evil = createServer((req, res) => {
    elsewhere.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  t.teardown(() => evil.close());
  const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
  const swapped = 'swapped-token'; // a stand-in value, not a credential
  const dir = t.testdir({
    npmrc: `@agoric:registry=${evilUrl}\n${reg.url.replace(/^http:/, '')}:_authToken=${swapped}\n`,
  });
  const env = {
    ...publishEnv(reg, join(dir, 'tmp')),
    'npm_config_@agoric:registry': evilUrl,
    [`npm_config_${reg.url.replace(/^http:/, '')}:_authToken`]: swapped,
    NPM_CONFIG_USERCONFIG: join(dir, 'npmrc'),
    NPM_CONFIG_GLOBALCONFIG: join(dir, 'npmrc'),
  };
  const r = await stageAll(reg, dist, env);
  t.equal(r.code, 0, `staged on --registry with our token\n${r.stderr}`);
  const a = await approveAll(reg, dist, env);
  t.equal(a.code, 0, `approved on --registry with our token\n${a.stderr}`);
  t.same(elsewhere, [], 'the other registry got no request');
  t.same(await latestOf(reg), Object.fromEntries(PACKAGES.map((p) => [p, VERSION])));
});

t.test('item 4: the bytes verified are the bytes published, even if the file is swapped after the check', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dir = t.testdir();
  const dist = join(dir, 'dist');
  await releaseDist(dist);
  const original = readFileSync(join(dist, tgz('linux-x64')));
  const swapped = await variantTarball(dist, 'linux-x64', { extraFile: 'swapped in during whoami\n' });
  // the repro: the tarball in dist/ is replaced while publish-all runs npm whoami
  reg.proxy.onceOn('GET', /^\/-\/whoami$/, () => cpSync(swapped, join(dist, tgz('linux-x64'))));
  const env = publishEnv(reg, join(dir, 'tmp'));
  const r = await stageAll(reg, dist, env);
  t.equal(r.code, 0, r.stderr);
  t.ok(readFileSync(join(dist, tgz('linux-x64'))).equals(readFileSync(swapped)), 'the file was swapped during the run');
  // the approval checks the staged bytes against the manifest (never the file in dist/)
  t.equal((await approveAll(reg, dist, env)).code, 0, 'the staged bytes are approved');
  const doc = (await packuments(reg))[X64]!;
  const served = await reg.reader.download(doc.versions[VERSION].dist.tarball);
  t.ok(served.equals(original), 'the registry holds the verified bytes, not the swapped file');
});

t.test('item 4: bytes changed after verify-artifacts read them are refused, not published', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dir = t.testdir();
  const marker = join(dir, 'swap-once');
  const bad = join(dir, 'bad');
  // the stand-in, run for the fingerprint (after verify read the tarballs and the manifest), swaps in a tarball
  // with an extra file and a manifest that agrees with it: both pass the shallow checks, not the deep ones
  const dist = await standInDist(
    t,
    dir,
    `if (argc > 1 && strcmp(argv[1], "-v") != 0 && unlink(${JSON.stringify(marker)}) == 0) {
    rename(${JSON.stringify(join(bad, 'tgz'))}, ${JSON.stringify(join(dir, 'dist', tgz('linux-x64')))});
    rename(${JSON.stringify(join(bad, 'manifest'))}, ${JSON.stringify(join(dir, 'dist', 'release', MANIFEST))});
  }`,
  );
  mkdirSync(bad);
  const variant = await variantTarball(dist, 'linux-x64', { extraFile: 'swapped in after verification\n' });
  cpSync(variant, join(bad, 'tgz'));
  const m = JSON.parse(readFileSync(join(dist, 'release', MANIFEST), 'utf8'));
  const data = readFileSync(variant);
  m.targets['linux-x64'].tarball = { ...m.targets['linux-x64'].tarball, integrity: sriSha512(data), size: data.length };
  writeFileSync(join(bad, 'manifest'), canonicalJson(m) + '\n');
  writeFileSync(marker, '');

  const r = await stageAll(reg, dist, publishEnv(reg, join(dir, 'tmp')), [], { verify: true });
  t.notOk(existsSync(marker), 'the swap happened during the run');
  t.equal(r.code, 1, 'refused');
  t.match(r.stderr, /preflight failed, nothing was written/);
  t.match(r.stderr, new RegExp(`\\[verified-bytes\\] .*${tgz('linux-x64').replace(/\./g, '\\.')}`));
  t.match(r.stderr, /\[verified-bytes\] .*xsnap-worker-manifest-/);
  t.same(
    reg.proxy.seen.filter((x) => /^(PUT|POST|DELETE)/.test(x)),
    [],
    'nothing staged',
  );
  t.same(await latestOf(reg), Object.fromEntries(PACKAGES.map((p) => [p, null])), 'nothing published');
});

t.test('item 6: one run per registry and version', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  const dir = t.testdir();
  const env = { ...publishEnv(reg, join(dir, 'tmp')), XSNAP_LOCK_DIR: join(dir, 'locks') };
  // run A holds its arm64 stage publish forever; run B starts meanwhile
  reg.proxy.setRules([{ publishOf: ARM64, action: 'hold' }]);
  const args = ['stage', '--registry', reg.url, '--targets', LINUX, '--dist', dist, '--skip-verify'];
  const a = spawnScript('publish-all.ts', args, { env: { NO_COLOR: '1', ...env }, stdio: 'ignore' });
  t.teardown(() => a.kill('SIGKILL'));
  await reg.proxy.held();
  const b = await stageAll(reg, dist, env);
  t.equal(b.code, 1, 'the second run stops');
  t.match(
    b.stderr,
    new RegExp(`another publish-all of ${VERSION.replace(/\./g, '\\.')} to .* is running \\(pid ${a.pid}`),
    'naming the run that holds the lock',
  );
  t.match(b.stderr, /nothing was written/);
  a.kill('SIGKILL');
  await new Promise((r) => a.once('close', r));
  // the holder was killed: its lock is taken over, and the run finishes
  reg.proxy.setRules([]);
  const c = await stageAll(reg, dist, env);
  t.equal(c.code, 0, `the lock of a dead run is taken over\n${c.stderr}`);
});

t.test('item 9: empty values, http to the public registry, a trailing dot, a non-http registry', async (t) => {
  const dist = await releaseDist();
  const run = (args: string[]) =>
    runScript('publish-all.ts', ['stage', ...args, '--dist', dist, '--dry-run'], { env: { NPM_TOKEN: '' } });
  for (const flag of ['--registry=', '--tag=', '--dist=', '--targets=']) {
    const r = await runScript('publish-all.ts', ['stage', flag, '--dry-run'], { env: { NPM_TOKEN: '' } });
    t.equal(r.code, 2, `${flag} is a usage error`);
    t.match(r.stderr, /needs a value/);
  }
  const http = await run(['--registry', 'http://registry.npmjs.org/']);
  t.equal(http.code, 2, 'http to the public registry: exit 2');
  t.match(http.stderr, /only over https/);
  const dot = await run(['--registry', 'https://registry.npmjs.org./', '--targets', 'linux-x64']);
  t.equal(dot.code, 2, 'registry.npmjs.org. is the public registry: a subset is refused');
  t.match(dot.stderr, /whole set/);
  const ftp = await run(['--registry', 'ftp://127.0.0.1/']);
  t.equal(ftp.code, 2, 'a non-http(s) registry: exit 2');
  t.match(ftp.stderr, /http\(s\)/);
  const gate = await runScript('verify-artifacts.ts', ['--published', '--registry=', '--dist', dist]);
  t.equal(gate.code, 2, 'the gate too');
});

t.test('item 10: stop-registry signals only our own registry', async (t) => {
  const dir = t.testdir();
  const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => sleeper.kill('SIGKILL'));
  mkdirSync(join(dir, 'registry'), { recursive: true });
  writeFileSync(join(dir, 'registry', 'server.json'), JSON.stringify({ pid: sleeper.pid, url: 'http://127.0.0.1:9/' }));
  const r = await runScript('publish-all.ts', ['stop-registry'], {
    env: { XSNAP_REGISTRY_DIR: join(dir, 'registry') },
  });
  t.equal(r.code, 1, 'refused');
  t.match(r.stderr, /not this folder's registry/);
  // exitCode stays null for a process killed by a signal: ask whether it is still alive
  await new Promise((res) => setTimeout(res, 200));
  t.equal(sleeper.signalCode, null, 'the other process got no signal');
  t.doesNotThrow(() => process.kill(sleeper.pid!, 0), 'and is still running');
  t.ok(existsSync(join(dir, 'registry', 'server.json')), 'its record is left for a person to look at');
});

t.test('item 11: Latest, zero attempts, the missing-manifest hint', async (t) => {
  const dist = await releaseDist();
  const stage = ['stage', '--registry', 'http://127.0.0.1:9/', '--targets', LINUX];
  const upper = await runScript('publish-all.ts', [...stage, '--dist', dist, '--tag', 'Latest', '--dry-run']);
  t.equal(upper.code, 2, '--tag Latest is a usage error');
  t.match(upper.stderr, /case-sensitive/);
  const zero = await runScript('publish-all.ts', [...stage, '--dist', dist], {
    env: { NPM_TOKEN: 'x'.repeat(8), XSNAP_READBACK_ATTEMPTS: '0' },
  });
  t.equal(zero.code, 2, 'XSNAP_READBACK_ATTEMPTS=0 is a usage error, not "failed after 0 attempts"');
  t.match(zero.stderr, /XSNAP_READBACK_ATTEMPTS=0: must be a whole number >= 1/);
  const missing = await runScript('publish-all.ts', [...stage, '--dist', join(t.testdirName, 'none'), '--dry-run']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /generate-manifest/);
  t.notMatch(missing.stderr, /--manifest/, 'names no option publish-all lacks');
});
