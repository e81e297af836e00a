// The real build root, as CI caches and restores it: actions/cache saves it
// with `tar --posix -cf cache.tzst ... --files-from manifest.txt` and restores
// it with `tar -xf cache.tzst -P -C $GITHUB_WORKSPACE` as the runner's
// (non-root) user. The same invocation here, the restore run as an unprivileged
// user, must give back a root that passes its check and builds.
// Needs root (the build root is a chroot), tar, zstd and setpriv.
import t from 'tap';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { run, runRaw } from '../../scripts/lib/core/exec.ts';
import { buildRootWorkDir, checkBuildRoot, ensureBuildRoot, enterArgv } from '../../scripts/lib/build/buildroot.ts';

if (process.getuid?.() !== 0) {
  t.plan(0, 'the build root needs root (.ci/run and CI run as root)');
  process.exit(0);
}

const NOBODY = 65534;
const root = await ensureBuildRoot();

/** actions/cache v5's tar invocations (GNU tar on Linux, zstd; @actions/cache tar.ts getTarArgs/getCommands). */
const cacheTar = {
  create: (workspace: string) => [
    'tar',
    '--posix',
    '-cf',
    'cache.tzst',
    '--exclude',
    'cache.tzst',
    '-P',
    '-C',
    workspace,
    '--files-from',
    'manifest.txt',
    '--use-compress-program',
    'zstdmt --long=30',
  ],
  extract: (archive: string, workspace: string) => [
    'tar',
    '-xf',
    archive,
    '-P',
    '-C',
    workspace,
    '--use-compress-program',
    'unzstd --long=30',
  ],
};

/**
 * Save `paths` (relative to `from`) as actions/cache does, and restore them into a fresh workspace
 * as an unprivileged user.
 */
async function saveAndRestore(from: string, paths: string[]) {
  const archiveFolder = mkdtempSync(join(tmpdir(), 'xsnap-cache-archive-'));
  chmodSync(archiveFolder, 0o755);
  writeFileSync(join(archiveFolder, 'manifest.txt'), paths.join('\n'));
  const created = await runRaw(cacheTar.create(from), { cwd: archiveFolder });
  chmodSync(join(archiveFolder, 'cache.tzst'), 0o644);
  const workspace = mkdtempSync(join(tmpdir(), 'xsnap-cache-restore-'));
  chownSync(workspace, NOBODY, NOBODY);
  const restored = await runRaw([
    'setpriv',
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    '--clear-groups',
    '--',
    ...cacheTar.extract(join(archiveFolder, 'cache.tzst'), workspace),
  ]);
  return {
    created,
    restored,
    workspace,
    cleanup: () => {
      rmSync(archiveFolder, { recursive: true, force: true });
      rmSync(workspace, { recursive: true, force: true });
    },
  };
}

t.test(
  'the build root holds no device nodes, passes its check, and a command inside gets a working /dev',
  async (t) => {
    const special = await run([
      'find',
      root.path,
      '-xdev',
      '(',
      '-type',
      'c',
      '-o',
      '-type',
      'b',
      '-o',
      '-type',
      'p',
      ')',
      '-print',
    ]);
    t.equal(special.stdout.trim(), '', 'no device nodes or fifos to restore');
    t.same(await checkBuildRoot(root.path), []);
    const r = await run(
      enterArgv(root.path, ['sh', '-c', 'echo x > /dev/null && test -c /dev/null && head -c 16 /dev/urandom | wc -c']),
    );
    t.equal(r.stdout.trim(), '16');
    t.same(
      readdirSync(join(root.path, 'dev')),
      [],
      'nothing left in dev/ once the command is done (the namespace is gone)',
    );
    // what runs inside never writes into the tree: /tmp is private, /build is bound from outside it (a cache save,
    // or this suite's own tar of the shared root, once failed with "file changed as we read it" during a build)
    const probe = `xsnap-probe-${process.pid}`;
    const w = await run(enterArgv(root.path, ['sh', '-c', `echo x > /tmp/${probe} && echo y > /build/${probe}`]));
    t.equal(w.code, 0);
    t.notOk(existsSync(join(root.path, 'tmp', probe)), '/tmp is a fresh tmpfs');
    t.notOk(existsSync(join(root.path, 'build', probe)), '/build is not in the tree');
    t.ok(existsSync(join(buildRootWorkDir(root.path), probe)), 'it is in the work folder outside');
    rmSync(join(buildRootWorkDir(root.path), probe));
  },
);

t.test(
  "actions/cache's non-root restore gives back the whole build root, which passes its check and compiles",
  async (t) => {
    const name = basename(root.path);
    const r = await saveAndRestore(dirname(dirname(root.path)), [`buildroots/${name}`]);
    t.teardown(r.cleanup);
    t.equal(r.created.code, 0, r.created.stderr);
    t.equal(r.restored.code, 0, `non-root tar restore: ${r.restored.stderr.slice(0, 2000)}`);
    const restored = join(r.workspace, 'buildroots', name);
    t.same(await checkBuildRoot(restored), [], 'the restored root checks out');
    const cc = await runRaw(
      enterArgv(restored, [
        'sh',
        '-c',
        'gcc-10 --version && aarch64-linux-gnu-gcc-10 --version && echo "int main(void){return 0;}" > /tmp/t.c && gcc -o /tmp/t /tmp/t.c && /tmp/t && echo built',
      ]),
    );
    t.equal(cc.code, 0, cc.stderr);
    t.match(cc.stdout, /built/);
  },
);

t.test(
  "planted defect: a tree with debootstrap's device nodes fails that same restore, and its stamp alone is not trusted",
  async (t) => {
    const from = mkdtempSync(join(tmpdir(), 'xsnap-devroot-'));
    t.teardown(() => rmSync(from, { recursive: true, force: true }));
    mkdirSync(join(from, 'buildroots/bullseye-x/dev'), { recursive: true });
    await run(['mknod', '-m', '666', join(from, 'buildroots/bullseye-x/dev/null'), 'c', '1', '3']);
    writeFileSync(
      join(from, 'buildroots/bullseye-x/xsnap-buildroot.json'),
      JSON.stringify({ id: root.id, suite: 'bullseye', packages: root.packages }),
    );
    const r = await saveAndRestore(from, ['buildroots/bullseye-x']);
    t.teardown(r.cleanup);
    t.equal(r.created.code, 0, r.created.stderr);
    t.equal(r.restored.code, 2, 'tar exits 2: the restore counts as a miss');
    t.match(r.restored.stderr, /Cannot mknod/);
    const left = join(r.workspace, 'buildroots/bullseye-x');
    t.ok(existsSync(join(left, 'xsnap-buildroot.json')), 'the stamp was restored all the same');
    t.match(await checkBuildRoot(left, { id: root.id }), [{ check: 'buildroot-packages' }], 'and the root is refused');
  },
);

t.test(
  'planted (issue 19): a root with gcc-10 replaced and its md5sums list deleted is refused; so is a changed file no package owns; put back, it passes (a copy of the real root: the shared one is never changed)',
  async (t) => {
    const copy = mkdtempSync(join(tmpdir(), 'xsnap-poisoned-root-'));
    t.teardown(() => rmSync(copy, { recursive: true, force: true }));
    const dir = join(copy, basename(root.path));
    await run(['cp', '-a', root.path, dir]);
    t.same(await checkBuildRoot(dir), [], 'the copy checks out');
    t.ok(existsSync(`${dir}.verified.json`), 'and what the check established is kept beside it');

    // what the review restored from a poisoned cache: gcc-10's compiler driver replaced, its md5sums list deleted
    const gcc = join(dir, 'usr/bin/x86_64-linux-gnu-gcc-10');
    const md5sums = join(dir, 'var/lib/dpkg/info/gcc-10.md5sums');
    const original = { gcc: readFileSync(gcc), md5sums: readFileSync(md5sums) };
    rmSync(gcc);
    writeFileSync(gcc, '#!/bin/sh\nexec /usr/bin/x86_64-linux-gnu-gcc-10.real "$@"\n', { mode: 0o755 });
    rmSync(md5sums);
    t.match(await checkBuildRoot(dir), [
      {
        check: 'buildroot-files',
        subject: gcc,
        expected: /^a file, sha256 [0-9a-f]{64} \(package gcc-10\)$/,
        actual: /^a file, sha256 [0-9a-f]{64}$/,
      },
      {
        check: 'buildroot-files',
        subject: md5sums,
        expected: /^a file, sha256 [0-9a-f]{64} \(buildroot-contents\.json\)$/,
        actual: 'nothing',
      },
    ]);
    t.match(
      (await checkBuildRoot(dir, { incremental: true })).map((f) => f.subject),
      [gcc, md5sums],
      'the incremental check of a build re-reads what changed: refused too',
    );
    writeFileSync(gcc, original.gcc, { mode: 0o755 });
    writeFileSync(md5sums, original.md5sums);
    t.same(await checkBuildRoot(dir), [], 'put back: intact');

    // files no package owns: an alternatives link (cc) pointed elsewhere, /etc/passwd with another user, one more
    const cc = join(dir, 'etc/alternatives/cc');
    const ccWas = readlinkSync(cc);
    const passwd = join(dir, 'etc/passwd');
    const passwdWas = readFileSync(passwd);
    rmSync(cc);
    symlinkSync('/usr/local/bin/evil-cc', cc);
    writeFileSync(passwd, Buffer.concat([passwdWas, Buffer.from('mallory:x:0:0::/:/bin/sh\n')]));
    writeFileSync(join(dir, 'etc/ld.so.preload'), '/usr/lib/libevil.so\n');
    t.match(
      (await checkBuildRoot(dir)).map((f) => `${f.subject.slice(dir.length)}: ${f.expected} / ${f.actual}`),
      [
        `/etc/alternatives/cc: a link to ${ccWas} (buildroot-contents.json) / a link to /usr/local/bin/evil-cc`,
        /^\/etc\/ld\.so\.preload: nothing \(no locked package holds it.*\) \/ a file, sha256 [0-9a-f]{64}$/,
        /^\/etc\/passwd: a file, sha256 [0-9a-f]{64} \(buildroot-contents\.json\) \/ a file, sha256 [0-9a-f]{64}$/,
      ],
    );
    t.equal((await checkBuildRoot(dir, { incremental: true })).length, 3, 'incremental: the same three');
    rmSync(cc);
    symlinkSync(ccWas, cc);
    writeFileSync(passwd, passwdWas);
    rmSync(join(dir, 'etc/ld.so.preload'));
    t.same(await checkBuildRoot(dir), [], 'put back: intact');
  },
);
