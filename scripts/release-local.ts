#!/usr/bin/env -S npx tsx
// The main job, end to end, on this machine: build every target this host can
// build from the pinned sources (on Linux x64 all four: darwin by zig), stage,
// manifest, verify, publish to the embedded local
// registry, run the agoric-sdk gate against it, then install the published
// package for this platform back from the registry and run its binary.
// Each stage is the real script, run as CI runs it; this file only chains them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, log, stringFlag, timed, registerSecret, PIN_OPTION, distOption } from './lib/core/cli.ts';
import { OperationError, UsageError } from './lib/core/errors.ts';
import { run, runRaw } from './lib/core/exec.ts';
import { distDir } from './lib/core/paths.ts';
import { packageBinaryPath, releaseDir, stagedPackagesDir } from './lib/core/layout.ts';
import { readPin, pinPath } from './lib/core/pin.ts';
import { canBuildOn, hostTarget, parseTargetList, TARGETS } from './lib/core/targets.ts';
import { startLocalRegistry } from './lib/publish/local-registry.ts';
import { XsnapWorker } from './lib/behaviour/worker-protocol.ts';
import { readBuildInfo } from './lib/build/build.ts';
import { hostRunner } from './lib/build/binary-checks.ts';
import { runScriptOk } from './lib/core/run-script.ts';

/** Run one stage script with its output shown as it goes. */
const stage = (script: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  runScriptOk(script, args, { env, output: 'show' });

await runCommand(
  {
    name: 'release-local.ts',
    summary:
      'the whole release chain for the targets this machine can build, published to an embedded local npm registry, then installed back and run',
    usage: 'npx tsx scripts/release-local.ts [--targets linux-x64,linux-arm64] [--dist dir]',
    options: [
      {
        name: 'targets',
        type: 'string',
        valueName: 'a,b',
        description: 'targets to build and publish',
        default: 'every target buildable on this host',
      },
      distOption('output folder'),
      PIN_OPTION,
    ],
    details: `
Stages: build-target.ts (each target), stage-packages.ts, generate-manifest.ts,
verify-artifacts.ts --record, publish-all.ts stage --registry <embedded
Verdaccio 9 with staged publishing and npm's rules> as CI runs it (trusted
publishing, no token), publish-all.ts approve --otp as a maintainer runs it
(re-check, approve, read back),
verify-artifacts.ts --published (the agoric-sdk gate; the corpora and the
install check ran on these tarballs in verify-artifacts), then npm install of
@agoric/xsnap-<this platform>@X.Y.Z from that registry and a run of its binary.
The registry's storage stays in .registry/ (git-ignored), so a second run finds
the set already published with identical bytes and has nothing to publish.

Targets whose binaries cannot run here (darwin on Linux) are built, checked from
their bytes and released with the rest, but their behaviour corpora are not run:
the manifest records them as unmeasured, and every stage is told it rehearses
(--allow-unmeasured). A release measures them on macOS (verify.yml).`,
  },
  async (flags) => {
    const pinFile = pinPath(flags);
    const pin = readPin(pinFile);
    const dist = distDir(flags);
    const targetsFlag = stringFlag(flags, 'targets');
    const targets = targetsFlag ? parseTargetList(targetsFlag) : TARGETS.filter((t) => canBuildOn(t));
    const unbuildable = targets.filter((t) => !canBuildOn(t));
    if (unbuildable.length)
      throw new UsageError(`${unbuildable.map((t) => t.name).join(', ')} cannot be built on ${process.platform}`);
    const common = ['--dist', dist, '--pin', pinFile];
    // Every target is built, packaged, manifested, verified and released together. Darwin binaries cannot run
    // here, so their behaviour corpora (fingerprint, determinism) are not run: the manifest records them as
    // unmeasured, which only a rehearsal accepts (--allow-unmeasured); a release has them measured on macOS.
    const here = await Promise.all(targets.map(async (t) => Boolean(await hostRunner(t))));
    const unmeasured = targets.filter((_, i) => !here[i]);
    const rehearsal = unmeasured.length ? ['--allow-unmeasured'] : [];
    if (unmeasured.length)
      log.warn(
        `${unmeasured.map((t) => t.name).join(', ')}: built, checked from their bytes (Mach-O) and released here, but their behaviour corpora (fingerprint, determinism) cannot run on ${process.platform}-${process.arch}: ` +
          'the manifest records them as unmeasured, a rehearsal only (a release measures them on macOS: verify.yml)',
      );
    const names = targets.map((t) => t.name).join(',');
    const t0 = performance.now();

    for (const t of targets)
      await timed(`build ${t.name}`, () => stage('build-target.ts', ['--target', t.name, ...common]));
    const math = (await readBuildInfo(dist, targets[0].name)).math;
    const mathLine = `math profile ${math.profile}: ${
      math.profile === 'portable'
        ? `${math.library} ` + `${math.version} libm, linked statically`
        : "the host's dynamic libm (libm results may differ by host: docs/consensus.md)"
    }`;
    log.ok(mathLine);
    await timed('stage packages', () => stage('stage-packages.ts', ['--targets', names, ...common]));
    await timed('generate manifest', () =>
      stage('generate-manifest.ts', ['--targets', names, ...rehearsal, ...common]),
    );
    // verified here, without credentials; the publishing steps below only compare with the record
    await timed('verify artifacts', () =>
      stage('verify-artifacts.ts', ['--record', '--targets', names, ...rehearsal, ...common]),
    );

    const registry = await timed('start the embedded registry', () => startLocalRegistry());
    registerSecret(registry.token);
    let installed: { package: string; reported: string; evaluated: string };
    try {
      log.ok(`registry at ${registry.url} (npm's rules: trusted publishing may only stage; approving needs 2FA)`);
      const rules = registry.rules;
      // the real flow. CI stages the set: no npm token, only what GitHub gives a job
      // with id-token: write (here the registry's stand-in of it), which npm exchanges
      // inside `npm stage publish`; it compares with verify's record and runs no binary
      await timed('stage all, as CI does (publish-all stage, trusted publishing)', () =>
        stage('publish-all.ts', ['stage', '--registry', registry.url, '--targets', names, ...rehearsal, ...common], {
          ...rules.oidcEnv,
        }),
      );
      // a maintainer approves it: their own login and a one-time code from their authenticator
      // (re-checks every staged version, approves, reads back, runs the gate)
      await timed('approve the staged set as a maintainer (publish-all approve --otp)', () =>
        stage(
          'publish-all.ts',
          ['approve', '--otp', rules.otp(), '--registry', registry.url, '--targets', names, ...rehearsal, ...common],
          { NPM_TOKEN: registry.token },
        ),
      );
      // the corpora and the install check (every platform) ran in verify-artifacts a moment ago on these same
      // tarballs, and the gate checks that the registry serves exactly them (integrity, binaries): it compares the
      // manifest's values and reads the registry, and the install back below installs from it
      await timed('agoric-sdk gate', () =>
        stage('verify-artifacts.ts', [
          '--published',
          '--skip-fingerprint',
          '--skip-install',
          '--registry',
          registry.url,
          '--targets',
          names,
          ...rehearsal,
          ...common,
        ]),
      );

      const host = hostTarget();
      if (!host || !targets.includes(host))
        throw new UsageError(`no package for this host (${process.platform}-${process.arch}) among ${names}`);
      installed = await timed(
        `install ${host.packageName}@${pin.version} back from the registry and run it`,
        async () => {
          const dir = await mkdtemp(join(tmpdir(), 'xsnap-install-back-'));
          try {
            await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'install-back', private: true }));
            await writeFile(join(dir, '.npmrc'), `registry=${registry.url}\n`);
            await run(
              [
                'npm',
                'install',
                '--no-audit',
                '--no-fund',
                '--userconfig',
                join(dir, '.npmrc'),
                '--globalconfig',
                '/dev/null', // the machine's npm settings (e.g. an @agoric:registry) do not redirect it
                `${host.packageName}@${pin.version}`,
              ],
              { cwd: dir, what: 'npm install from the local registry' },
            );
            const binary = join(dir, 'node_modules', host.packageName, packageBinaryPath('release'));
            const v = await runRaw([binary, '-v']);
            if (v.code !== 0) throw new OperationError(`${binary} -v failed: ${v.stderr}`);
            const worker = new XsnapWorker({ binary });
            let evaluated: string;
            try {
              const r = await worker.evaluate('new TextEncoder().encode(`6 * 7 = ${6 * 7}`).buffer');
              evaluated = r.reply.toString();
            } finally {
              await worker.close();
            }
            log.ok(`${binary}: ${v.stdout.trim()}; evaluated: ${evaluated}`);
            return { package: `${host.packageName}@${pin.version}`, reported: v.stdout.trim(), evaluated };
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
      );
    } finally {
      await registry.stop();
    }
    const seconds = ((performance.now() - t0) / 1000).toFixed(0);
    return {
      json: {
        version: pin.version,
        targets: targets.map((t) => t.name),
        unmeasured: unmeasured.map((t) => t.name),
        dist,
        math,
        installed,
      },
      text: [
        `release ${pin.version} of ${names}: built, staged, verified, published to the embedded registry and installed back in ${seconds} s`,
        ...targets.map((t) => `  ${join(dist, t.name)}/{release,debug}/xsnap-worker`),
        `  ${mathLine}`,
        `  packages: ${stagedPackagesDir(dist)}, manifest and bundle: ${releaseDir(dist)}`,
        `  installed ${installed.package}: ${installed.reported}; ran "6 * 7" -> ${installed.evaluated}`,
        ...(unmeasured.length
          ? [
              `  ${unmeasured.map((t) => t.name).join(', ')}: behaviour not measured here (cannot run on ${process.platform}-${process.arch}): a rehearsal manifest, never a release`,
            ]
          : []),
      ].join('\n'),
      summary: `### local release ${pin.version}\n\nTargets: ${names}; ${mathLine}. Installed back \`${installed.package}\`: ${installed.reported}.`,
    };
  },
);
