// verify-artifacts.ts on the real linux pipeline: it passes on what the
// pipeline made, and fails, naming the culprit, when one thing at a time is
// tampered with in a private copy.
import t from 'tap';
import { chmod, readFile, writeFile, symlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { runScript } from '../helpers/run.ts';
import { stagedCopy, LINUX } from '../helpers/staged.ts';
import { readTarEntries, type TarEntry } from '../../scripts/lib/core/tarball.ts';
import { canonicalJson } from '../../scripts/lib/core/hash.ts';
import { readPin, pinPath } from '../../scripts/lib/core/pin.ts';
import type { Failure } from '../../scripts/lib/core/errors.ts';
import type { CheckName } from '../../scripts/lib/verify/index.ts';

const VERSION = readPin(pinPath()).version;
const tgz = (target: string) => `agoric-xsnap-${target}-${VERSION}.tgz`;
const manifestFile = (dist: string) => join(dist, 'release', `xsnap-worker-manifest-${VERSION}.json`);

interface Report {
  ok: boolean;
  failures: Failure[];
  checks: Record<string, number>;
  notes: string[];
  install?: Array<{ platform: string; installed: string[] }>;
  fingerprints?: Record<string, { digest: string; measuredHere: boolean }>;
}

async function verify(
  dist: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await runScript('verify-artifacts.ts', ['--dist', dist, '--targets', LINUX, '--json', ...extra], { env });
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`verify printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

/** Write a gzipped tarball holding exactly `entries` (any type, any path: for tampering). */
function writeTar(
  entries: Array<Pick<TarEntry, 'path' | 'type' | 'mode' | 'data'> & { linkpath?: string | null }>,
): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const block = Buffer.alloc(512);
    new tar.Header({
      path: e.path,
      type: e.type as 'File',
      mode: e.mode,
      size: e.type === 'File' ? e.data.length : 0,
      linkpath: e.linkpath ?? undefined,
      uid: 0,
      gid: 0,
      mtime: new Date(0),
    }).encode(block, 0);
    blocks.push(block);
    if (e.type === 'File') blocks.push(e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

async function editTarball(
  file: string,
  edit: (
    entries: TarEntry[],
  ) => Array<Pick<TarEntry, 'path' | 'type' | 'mode' | 'data'> & { linkpath?: string | null }>,
) {
  await writeFile(file, writeTar(edit(await readTarEntries(await readFile(file)))));
}

const flip = (b: Buffer, at = Math.floor(b.length / 2)) => {
  const c = Buffer.from(b);
  c[at] ^= 0x01;
  return c;
};

t.test(
  'the untouched pipeline output verifies, every check included (a tag wants the release-size corpus)',
  async (t) => {
    const dist = await stagedCopy(t.testdir());
    const { code, report, stderr } = await verify(dist, [], { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: `v${VERSION}` });
    // the suite's corpus is the quick one (XSNAP_DETERMINISM_SIZE=quick): a release tag wants the full one, and
    // that is the only failure
    t.equal(code, 1, stderr);
    t.same(
      report.failures.map((f) => f.check),
      ['determinism-size', 'determinism-size'],
    );
    t.match(
      report.failures.find((f) => /linux-arm64/.test(f.subject)),
      {
        expected: 'at least 1000000 results',
        actual: /^\d+ results$/,
      },
    );
    for (const group of <CheckName[]>[
      'determinism-size',
      'binary-digest',
      'tarball-integrity',
      'tarball-binary-digest',
      'bundle-binary-digest',
      'bundle-reproducible',
      'sums-digest',
      'binary-header',
      'installability',
      'fingerprint',
      'version-tag',
      'package-no-scripts',
    ]) {
      t.ok(report.checks[group] > 0, `check group ${group} ran`);
    }
    // exactly that platform's package lands; musl gets none of our glibc packages
    const installs = Object.fromEntries((report.install ?? []).map((i) => [i.platform, i.installed]));
    t.same(installs, {
      'linux-x64-glibc': ['@agoric/xsnap-linux-x64'],
      'linux-arm64-glibc': ['@agoric/xsnap-linux-arm64'],
      'linux-x64-musl': [],
    });
    // both measured here (arm64 under qemu) and equal
    t.ok(report.fingerprints?.['linux-x64']?.measuredHere && report.fingerprints?.['linux-arm64']?.measuredHere);
    t.equal(report.fingerprints?.['linux-x64']?.digest, report.fingerprints?.['linux-arm64']?.digest);
  },
);

interface Tamper {
  name: string;
  tamper: (dist: string) => Promise<void>;
  /** a failure with this check whose text matches `names` must be reported */
  check: CheckName;
  names: RegExp;
  args?: string[];
}

/** Both targets' math profile in the manifest said to be portable (together, so that they still agree). */
async function relabelPortable(d: string) {
  const m = JSON.parse(await readFile(manifestFile(d), 'utf8'));
  for (const t of Object.values(m.targets) as Array<{ math: object }>) t.math = { ...t.math, profile: 'portable' };
  await writeFile(manifestFile(d), canonicalJson(m) + '\n');
}

const CASES: Tamper[] = [
  {
    name: 'a byte of a binary inside a tarball',
    tamper: (d) =>
      editTarball(join(d, tgz('linux-x64')), (es) =>
        es.map((e) => (e.path === 'package/bin/release/xsnap-worker' ? { ...e, data: flip(e.data) } : e)),
      ),
    check: 'tarball-binary-digest',
    names: /agoric-xsnap-linux-x64-[^:]+\.tgz: package\/bin\/release\/xsnap-worker/,
  },
  {
    name: 'a binary of the wrong architecture (arm64 swapped in as x64)',
    tamper: async (d) => {
      const arm = (await readTarEntries(await readFile(join(d, tgz('linux-arm64'))))).find(
        (e) => e.path === 'package/bin/release/xsnap-worker',
      )!;
      await editTarball(join(d, tgz('linux-x64')), (es) =>
        es.map((e) => (e.path === arm.path ? { ...e, data: arm.data } : e)),
      );
    },
    check: 'elf-machine',
    names: /linux-x64 release in agoric-xsnap-linux-x64.*e_machine 62.*e_machine 183/s,
  },
  {
    name: 'an extra file in a tarball',
    tamper: (d) =>
      editTarball(join(d, tgz('linux-arm64')), (es) => [
        ...es,
        { path: 'package/install.js', type: 'File', mode: 0o644, data: Buffer.from('require("child_process")') },
      ]),
    check: 'tarball-extra-file',
    names: /agoric-xsnap-linux-arm64-.*package\/install\.js/,
  },
  {
    name: 'another version in a package.json',
    tamper: (d) =>
      editTarball(join(d, tgz('linux-x64')), (es) =>
        es.map((e) =>
          e.path === 'package/package.json'
            ? { ...e, data: Buffer.from(e.data.toString().replace(`"version": "${VERSION}"`, '"version": "9.9.9"')) }
            : e,
        ),
      ),
    check: 'version-package',
    names: new RegExp(`package\\.json "version".*expected: ${VERSION.replace(/\./g, '\\.')}.*actual: 9\\.9\\.9`, 's'),
  },
  {
    // issue 10 item 7: a deny-list of package.json keys let directories.bin through
    // (npm then links node_modules/.bin/xsnap-worker)
    name: 'directories.bin in a package.json',
    tamper: (d) =>
      editTarball(join(d, tgz('linux-x64')), (es) =>
        es.map((e) =>
          e.path === 'package/package.json'
            ? {
                ...e,
                data: Buffer.from(
                  JSON.stringify({ ...JSON.parse(e.data.toString()), directories: { bin: 'bin/release' } }, null, 2),
                ),
              }
            : e,
        ),
      ),
    check: 'package-no-scripts',
    names: /package\.json "directories".*actual: \{"bin":"bin\/release"\}/s,
  },
  {
    name: 'a registry in publishConfig',
    tamper: (d) =>
      editTarball(join(d, tgz('linux-arm64')), (es) =>
        es.map((e) =>
          e.path === 'package/package.json'
            ? {
                ...e,
                data: Buffer.from(
                  JSON.stringify(
                    {
                      ...JSON.parse(e.data.toString()),
                      publishConfig: { access: 'public', registry: 'http://127.0.0.1:9/' },
                    },
                    null,
                    2,
                  ),
                ),
              }
            : e,
        ),
      ),
    check: 'package-no-scripts',
    names: /package\.json "publishConfig".*127\.0\.0\.1:9/s,
  },
  {
    name: 'an edited digest in the manifest',
    tamper: async (d) => {
      const m = JSON.parse(await readFile(manifestFile(d), 'utf8'));
      m.targets['linux-arm64'].debug.sha256 = '0'.repeat(64);
      await writeFile(manifestFile(d), canonicalJson(m) + '\n');
    },
    check: 'binary-digest',
    names: /targets\.linux-arm64\.debug\.sha256.*expected: 0{64}/s,
  },
  {
    name: "the manifest's math profile relabelled portable (the binaries are system)",
    tamper: relabelPortable,
    check: 'manifest-math',
    names: /targets\.linux-x64\.math against dist\/linux-x64\/build-info\.json.*"profile":"portable"/s,
  },
  {
    name: 'a system binary said to be portable, read from its bytes',
    tamper: relabelPortable,
    check: 'portable-libm',
    names: /linux-arm64 release.*imports .*\bcbrt\b/s,
  },
  {
    name: 'a changed build output',
    tamper: async (d) => {
      const f = join(d, 'linux-arm64', 'release', 'xsnap-worker');
      await writeFile(f, flip(await readFile(f), 100_000));
    },
    check: 'build-output-digest',
    names: /dist\/linux-arm64\/release\/xsnap-worker against build-info\.json/,
  },
  {
    name: 'a corrupted release bundle',
    tamper: async (d) => {
      const f = join(d, 'release', `xsnap-worker-binaries-${VERSION}.tar.gz`);
      await writeFile(f, flip(await readFile(f)));
    },
    check: 'bundle-readable',
    names: /xsnap-worker-binaries-.*\.tar\.gz.*not a readable tarball/s,
  },
  {
    name: 'a symlink in a tarball',
    tamper: (d) =>
      editTarball(join(d, tgz('linux-x64')), (es) =>
        es.map((e) =>
          e.path === 'package/README.md'
            ? { path: e.path, type: 'SymbolicLink', mode: 0o777, data: Buffer.alloc(0), linkpath: '/etc/passwd' }
            : e,
        ),
      ),
    check: 'tarball-entry-type',
    names: /package\/README\.md.*symlink to \/etc\/passwd/s,
  },
  {
    name: 'a .. path in a tarball',
    tamper: (d) =>
      editTarball(join(d, tgz('linux-x64')), (es) => [
        ...es,
        { path: 'package/../../escape.txt', type: 'File', mode: 0o644, data: Buffer.from('x') },
      ]),
    check: 'tarball-path',
    names: /package\/\.\.\/\.\.\/escape\.txt.*path contains \.\./s,
  },
  {
    name: 'a lost execute bit in a tarball',
    tamper: (d) =>
      editTarball(join(d, tgz('linux-arm64')), (es) =>
        es.map((e) => (e.path === 'package/bin/debug/xsnap-worker' ? { ...e, mode: 0o644 } : e)),
      ),
    check: 'tarball-binary-mode',
    names: /package\/bin\/debug\/xsnap-worker.*lost its execute bit/s,
  },
  {
    name: 'a lost execute bit in the build output',
    tamper: (d) => chmod(join(d, 'linux-x64', 'debug', 'xsnap-worker'), 0o644),
    check: 'executable',
    names: /linux-x64 debug \(dist\/linux-x64\/debug\/xsnap-worker\).*actual: +644/s,
  },
  {
    name: 'a symlink for a release asset',
    tamper: async (d) => {
      const f = join(d, 'release', tgz('linux-x64'));
      await rm(f);
      await symlink(join(d, tgz('linux-arm64')), f);
    },
    check: 'release-asset-type',
    names: /dist\/release\/agoric-xsnap-linux-x64-.*\.tgz.*a symlink/s,
  },
  {
    name: 'a release tag for another version',
    tamper: async () => {},
    args: ['--tag', 'v9.9.9'],
    check: 'version-tag',
    names: new RegExp(`release tag v9\\.9\\.9.*expected: v${VERSION.replace(/\./g, '\\.')}`, 's'),
  },
];

t.test('each tampering fails verification and names the culprit', async (t) => {
  // two at a time (the host has two cores); fingerprint and install are covered above
  const results = new Map<string, Awaited<ReturnType<typeof verify>>>();
  const queue = [...CASES];
  await Promise.all(
    [0, 1].map(async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const dist = await stagedCopy();
        try {
          await c.tamper(dist);
          results.set(c.name, await verify(dist, ['--skip-install', '--skip-fingerprint', ...(c.args ?? [])]));
        } finally {
          await rm(dist, { recursive: true, force: true });
        }
      }
    }),
  );
  for (const c of CASES) {
    t.test(c.name, async (t) => {
      const { code, report } = results.get(c.name)!;
      t.equal(code, 1, 'exit 1: a check failed');
      t.notOk(report.ok);
      const text = report.failures.map(
        (f) => `[${f.check}] ${f.subject}\n expected: ${f.expected}\n actual: ${f.actual}`,
      );
      const hit = report.failures
        .filter((f) => f.check === c.check)
        .map((f) => `[${f.check}] ${f.subject}\n expected: ${f.expected}\n actual: ${f.actual}`);
      t.ok(
        hit.some((s) => c.names.test(s)),
        `a ${c.check} failure matching ${c.names}; got:\n${text.join('\n')}`,
      );
    });
  }
});

t.test('usage errors exit 2', async (t) => {
  const r = await runScript('verify-artifacts.ts', ['--targets', 'win32-x64']);
  t.equal(r.code, 2);
  t.match(r.stderr, /Windows is not supported/);
  const r2 = await runScript('verify-artifacts.ts', ['--bogus']);
  t.equal(r2.code, 2);
});

t.test('a missing manifest is named with the command that makes it', async (t) => {
  const dist = await stagedCopy(t.testdir());
  await rm(join(dist, 'release'), { recursive: true });
  const { code, report } = await verify(dist, ['--skip-install', '--skip-fingerprint']);
  t.equal(code, 1);
  const f = report.failures.find((x) => x.check === 'manifest-present');
  t.match(f?.hint, /generate-manifest\.ts/);
});

t.test('--published asks scripts/lib/verify/published.ts and reports its failures', async (t) => {
  const dist = await stagedCopy(t.testdir());
  // nothing listens on port 9: the registry is unreachable, so the published check must fail, not pass
  const { code, report } = await verify(dist, [
    '--skip-install',
    '--skip-fingerprint',
    '--published',
    '--registry',
    'http://127.0.0.1:9/',
  ]);
  t.equal(code, 1);
  t.ok(
    report.failures.length > 0 && report.failures.every((f) => !/^(binary|tarball|bundle|sums)/.test(f.check)),
    'only the registry part fails',
  );
  t.ok(report.checks.published > 0, 'the published check ran');
});
