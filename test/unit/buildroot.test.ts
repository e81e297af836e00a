// The build root's trust checks, without making a build root: the Release
// signature (real gpgv, keys made here with gpg), the mirror fallback (loopback
// mirrors), the package lock, the pinned keyring, and the check of a root on
// disk (a small tree laid out as dpkg leaves it).
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  renameSync,
  utimesSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRaw } from '../../scripts/lib/core/exec.ts';
import {
  BUILD_ROOT_SPEC,
  buildRootId,
  checkBuildRoot,
  checkDebs,
  debFileName,
  debianMirrors,
  DEBIAN_ARCHIVE_MIRROR,
  enterArgv,
  KEYRING,
  pinnedKeyring,
  readLock,
  selectMirror,
  verifyRelease,
  type BuildRootLock,
  debootstrapArgv,
  buildRootWorkDir,
  cachedDebPath,
  lockedDeb,
  writeContentsPin,
  compilerVersion,
} from '../../scripts/lib/build/buildroot.ts';
import {
  changedSince,
  readSnapshot,
  snapshotFile,
  walkRoot,
  type SnapshotHead,
} from '../../scripts/lib/build/buildroot-contents.ts';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** A signing key of our own (gpg), its public keyring, and a signer of Release files. */
async function makeKey(dir: string, name: string) {
  // a short home: gpg-agent's socket path must fit in a Unix socket address
  const home = mkdtempSync(join(tmpdir(), 'gpg-'));
  const gpg = (...args: string[]) =>
    runRaw(['gpg', '--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);
  const k = await gpg('--quick-gen-key', `${name} <${name}@example.invalid>`, 'ed25519', 'sign', 'never');
  if (k.code !== 0) throw new Error(k.stderr);
  const keyring = join(dir, `${name}.gpg`);
  const e = await gpg('--output', keyring, '--export');
  if (e.code !== 0) throw new Error(e.stderr);
  return {
    keyring,
    sign: async (text: string, out: string) => {
      writeFileSync(`${out}.plain`, text);
      const s = await gpg('--output', out, '--yes', '--clearsign', `${out}.plain`);
      if (s.code !== 0) throw new Error(s.stderr);
    },
    detach: async (text: string, out: string) => {
      writeFileSync(`${out}.plain`, text);
      const s = await gpg('--output', out, '--yes', '--detach-sign', `${out}.plain`);
      if (s.code !== 0) throw new Error(s.stderr);
    },
    stop: async () => {
      await runRaw(['gpgconf', '--homedir', home, '--kill', 'all']);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

const RELEASE_TEXT = `Origin: Debian\nLabel: Debian\nSuite: oldoldstable\nCodename: ${BUILD_ROOT_SPEC.suite}\nDate: Sat, 09 Aug 2025 09:16:30 UTC\n`;

t.test('the Release signature: good with the pinned keys; tampered, foreign or unsigned refused', async (t) => {
  const dir = t.testdir({});
  const debian = await makeKey(dir, 'archive');
  const other = await makeKey(dir, 'mallory');
  t.teardown(async () => {
    await debian.stop();
    await other.stop();
  });
  const good = join(dir, 'InRelease');
  await debian.sign(RELEASE_TEXT, good);
  t.same(await verifyRelease(good, debian.keyring), [], 'signed by a key of the keyring');

  const tampered = join(dir, 'InRelease.tampered');
  const { readFileSync } = await import('node:fs');
  writeFileSync(tampered, readFileSync(good, 'utf8').replace('Date: Sat', 'Date: Sun'));
  const bad = await verifyRelease(tampered, debian.keyring);
  t.equal(bad[0]?.check, 'release-signature', 'one changed byte: refused');
  t.match(bad[0]?.actual, /BAD signature/);

  const foreign = join(dir, 'InRelease.foreign');
  await other.sign(RELEASE_TEXT, foreign);
  const f = await verifyRelease(foreign, debian.keyring);
  t.equal(f[0]?.check, 'release-signature', 'signed by a key not in the keyring: refused');

  const unsigned = join(dir, 'InRelease.unsigned');
  writeFileSync(unsigned, RELEASE_TEXT);
  t.equal(
    (await verifyRelease(unsigned, debian.keyring))[0]?.check,
    'release-signature',
    'no signature: refused, never "unchecked"',
  );

  const otherSuite = join(dir, 'InRelease.bookworm');
  await debian.sign(RELEASE_TEXT.replace(`Codename: ${BUILD_ROOT_SPEC.suite}`, 'Codename: bookworm'), otherSuite);
  t.match(
    (await verifyRelease(otherSuite, debian.keyring))[0],
    { check: 'release-suite', actual: 'Codename: bookworm' },
    "a good signature on another suite's Release is refused",
  );
});

/** A loopback mirror: path -> [status, body]. */
async function mirror(
  files: Record<string, [number, string | Buffer]>,
): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url!);
    const [status, body] = files[req.url!] ?? [404, 'not found'];
    res.writeHead(status);
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/debian`, seen, server };
}

t.test('mirrors: the main one, else the archive; a bad signature stops, never falls through', async (t) => {
  const dir = t.testdir({});
  const debian = await makeKey(dir, 'archive');
  const other = await makeKey(dir, 'mallory');
  t.teardown(async () => {
    await debian.stop();
    await other.stop();
  });
  const signed = join(dir, 'good');
  await debian.sign(RELEASE_TEXT, signed);
  const forged = join(dir, 'forged');
  await other.sign(RELEASE_TEXT, forged);
  const { readFileSync } = await import('node:fs');
  const path = `/debian/dists/${BUILD_ROOT_SPEC.suite}/InRelease`;

  const main = await mirror({ [path]: [200, readFileSync(signed)] });
  const gone = await mirror({}); // bullseye moved to the archive
  const archive = await mirror({ [path]: [200, readFileSync(signed)] });
  const evil = await mirror({ [path]: [200, readFileSync(forged)] });
  t.teardown(() => [main, gone, archive, evil].forEach((m) => m.server.close()));

  t.equal(
    await selectMirror(debian.keyring, [main.url, archive.url]),
    main.url,
    'the main mirror while it serves the suite',
  );
  t.same(archive.seen, [], 'the archive is not asked then');
  t.equal(
    await selectMirror(debian.keyring, [gone.url, archive.url]),
    archive.url,
    'the archive once the main mirror answers 404',
  );
  await t.rejects(
    selectMirror(debian.keyring, [evil.url, archive.url]),
    /release-signature/,
    'a forged Release stops everything',
  );
  t.equal(archive.seen.filter((u) => u === path).length, 1, 'and the archive was not tried after the forged one');
  await t.rejects(
    selectMirror(debian.keyring, [gone.url, 'http://127.0.0.1:9/debian']),
    /no mirror serves Debian bullseye:[\s\S]*HTTP 404[\s\S]*127\.0\.0\.1:9[\s\S]*XSNAP_DEBIAN_ARCHIVE_MIRROR/,
  );
});

t.test(
  'debootstrap as we run it checks the Release signature against the pinned keyring: forged or unsigned stop it',
  { skip: process.getuid?.() === 0 ? false : 'debootstrap needs root' },
  async (t) => {
    const dir = t.testdir({});
    const debian = await makeKey(dir, 'archive');
    const other = await makeKey(dir, 'mallory');
    t.teardown(async () => {
      await debian.stop();
      await other.stop();
    });
    const { readFileSync } = await import('node:fs');
    const dists = `/debian/dists/${BUILD_ROOT_SPEC.suite}`;
    const release = RELEASE_TEXT + 'Architectures: amd64\nComponents: main\nSHA256:\n';
    const served = async (key: typeof debian | null) => {
      const files: Record<string, [number, string | Buffer]> = { [`${dists}/Release`]: [200, release] };
      if (key) {
        await key.sign(release, join(dir, 'InRelease'));
        await key.detach(release, join(dir, 'Release.gpg'));
        files[`${dists}/InRelease`] = [200, readFileSync(join(dir, 'InRelease'))];
        files[`${dists}/Release.gpg`] = [200, readFileSync(join(dir, 'Release.gpg'))];
      }
      return mirror(files);
    };
    const debootstrap = existsSync('/usr/sbin/debootstrap') ? '/usr/sbin/debootstrap' : 'debootstrap';
    const run = async (m: Awaited<ReturnType<typeof mirror>>) => {
      const target = mkdtempSync(join(dir, 'root-'));
      const r = await runRaw(debootstrapArgv(debootstrap, debian.keyring, target, m.url, true), { timeoutMs: 60_000 });
      m.server.close();
      return { code: r.code, out: r.stdout + r.stderr };
    };
    const forged = await run(await served(other));
    t.not(forged.code, 0, 'signed by another key: debootstrap stops');
    t.match(forged.out, /signed by unknown key|invalid signature|BADSIG|NO_PUBKEY|not signed/i);
    const unsigned = await run(await served(null));
    t.not(unsigned.code, 0, 'no signature: debootstrap stops');
    t.match(unsigned.out, /Release\.gpg|signature/i);
    // the control: signed with the keyring's key, debootstrap gets past the signature (and stops later, on the
    // package lists this stand-in mirror lacks), so the two refusals above are the signature check's
    const good = await run(await served(debian));
    t.not(good.code, 0);
    t.notMatch(good.out, /signed by unknown key|invalid signature|BADSIG|NO_PUBKEY|not signed|Release\.gpg/i);
    t.match(good.out, /Valid Release signature|Packages|Retrieving/i, good.out.slice(-400));
  },
);

t.test(
  'the mirror list: main (or $XSNAP_DEBIAN_MIRROR), then the archive (or $XSNAP_DEBIAN_ARCHIVE_MIRROR)',
  async (t) => {
    const saved = { m: process.env.XSNAP_DEBIAN_MIRROR, a: process.env.XSNAP_DEBIAN_ARCHIVE_MIRROR };
    t.teardown(() => {
      process.env.XSNAP_DEBIAN_MIRROR = saved.m ?? '';
      process.env.XSNAP_DEBIAN_ARCHIVE_MIRROR = saved.a ?? '';
    });
    process.env.XSNAP_DEBIAN_MIRROR = '';
    process.env.XSNAP_DEBIAN_ARCHIVE_MIRROR = '';
    t.same(debianMirrors(), ['http://deb.debian.org/debian', DEBIAN_ARCHIVE_MIRROR]);
    process.env.XSNAP_DEBIAN_MIRROR = 'http://mirror.example/debian/';
    process.env.XSNAP_DEBIAN_ARCHIVE_MIRROR = 'http://snapshot.example/archive/debian';
    t.same(debianMirrors(), ['http://mirror.example/debian', 'http://snapshot.example/archive/debian']);
  },
);

t.test('the keyring is the pinned package or nothing', async (t) => {
  const cache = t.testdir({});
  const saved = process.env.XSNAP_CACHE_DIR;
  process.env.XSNAP_CACHE_DIR = cache;
  t.teardown(() => {
    if (saved === undefined) delete process.env.XSNAP_CACHE_DIR;
    else process.env.XSNAP_CACHE_DIR = saved;
  });
  const wrong = await mirror({ [`/debian/${KEYRING.path}`]: [200, 'not the keyring package'] });
  const none = await mirror({});
  t.teardown(() => [wrong, none].forEach((m) => m.server.close()));
  await t.rejects(
    pinnedKeyring([wrong.url]),
    new RegExp(
      `deb-pinned[\\s\\S]*expected:\\s+sha256 ${KEYRING.sha256}[\\s\\S]*actual:\\s+sha256 ${sha256('not the keyring package')}`,
    ),
  );
  await t.rejects(pinnedKeyring([none.url]), /cannot fetch the pinned debian-archive-keyring 2025\.1:[\s\S]*HTTP 404/);
  t.notOk(existsSync(join(cache, 'debs')) && readdirSync(join(cache, 'debs')).length, 'nothing cached');
  t.match(KEYRING.sha256, /^[0-9a-f]{64}$/);
});

t.test('the locked package set: every .deb at its pinned sha256, nothing else', async (t) => {
  const lock: BuildRootLock = {
    suite: 'bullseye',
    arch: 'amd64',
    include: BUILD_ROOT_SPEC.include,
    packages: [
      { name: 'make', version: '4.3-4.1', arch: 'amd64', path: 'pool/make.deb', sha256: sha256('make deb') },
      {
        name: 'bsdutils',
        version: '1:2.36.1-8+deb11u2',
        arch: 'amd64',
        path: 'pool/bsdutils.deb',
        sha256: sha256('bsdutils deb'),
      },
    ],
  };
  const dir = t.testdir({
    [debFileName(lock.packages[0])]: 'make deb',
    'bsdutils_1%3a2.36.1-8+deb11u2_amd64.deb': 'bsdutils deb',
  });
  t.same(await checkDebs(dir, lock), [], "the lock's packages, ':' as debootstrap writes it");
  writeFileSync(join(dir, debFileName(lock.packages[0])), 'another make');
  writeFileSync(join(dir, 'evil_1.0_amd64.deb'), 'x');
  rmSync(join(dir, 'bsdutils_1%3a2.36.1-8+deb11u2_amd64.deb'));
  const f = await checkDebs(dir, lock);
  t.match(f.map((x) => `${x.subject.split('/').pop()}: ${x.actual}`).sort(), [
    'bsdutils_1%3a2.36.1-8+deb11u2_amd64.deb: not downloaded',
    /^evil_1\.0_amd64\.deb: a package the lock does not list/,
    `make_4.3-4.1_amd64.deb: sha256 ${sha256('another make')}`,
  ]);
  t.match(f[0].hint, /--update-lock/);

  // the committed lock: the spec's suite, exact versions, sha256 each, and the toolchain in it
  const real = readLock();
  t.ok(real.packages.length > 100);
  for (const p of real.packages)
    t.match(
      p,
      { name: /^[a-z0-9][a-z0-9+.-]+$/, version: /\S/, arch: /^(amd64|all)$/, sha256: /^[0-9a-f]{64}$/ },
      p.name,
    );
  for (const p of ['gcc-10', 'libc6-dev', 'gcc-10-aarch64-linux-gnu', 'libc6-dev-arm64-cross', 'make'])
    t.ok(
      real.packages.some((x) => x.name === p),
      p,
    );
  t.not(
    buildRootId(real),
    buildRootId({ ...real, packages: real.packages.map((p, i) => (i === 0 ? { ...p, sha256: sha256('x') } : p)) }),
    'another .deb, another build root id',
  );
});

/** A real .deb (dpkg-deb --build) holding `files` (path -> content; `->target` makes a symbolic link). */
async function makeDeb(dir: string, name: string, version: string, files: Record<string, string>): Promise<string> {
  const tree = join(dir, `${name}-tree`);
  mkdirSync(join(tree, 'DEBIAN'), { recursive: true });
  writeFileSync(
    join(tree, 'DEBIAN/control'),
    `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: t\n`,
  );
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(tree, p, '..'), { recursive: true });
    if (c.startsWith('->')) symlinkSync(c.slice(2), join(tree, p));
    else writeFileSync(join(tree, p), c);
  }
  const deb = join(dir, `${name}.deb`);
  const r = await runRaw(['dpkg-deb', '--root-owner-group', '--build', tree, deb]);
  if (r.code !== 0) throw new Error(r.stderr);
  return deb;
}

/**
 * A tree laid out as debootstrap and dpkg leave it (merged /usr, status, md5sums, what maintainer scripts write, a
 * stamp), the lock of its two .debs (in an isolated cache, where the check reads them), and the contents pin.
 */
async function fakeRoot(t: Test) {
  const work = t.testdir({});
  const cache = join(work, 'cache');
  process.env.XSNAP_CACHE_DIR = cache;
  t.teardown(() => void delete process.env.XSNAP_CACHE_DIR);
  const packaged = {
    make: { 'usr/bin/make': 'make binary', 'usr/share/doc/make/copyright': 'GPL' },
    libc6: { 'lib/x86_64-linux-gnu/libc.so.6': 'libc', 'lib/x86_64-linux-gnu/libc6.so': '->libc.so.6' },
  };
  const debs = {
    make: await makeDeb(work, 'make', '4.3-4.1', packaged.make),
    libc6: await makeDeb(work, 'libc6', '2.31-13+deb11u11', packaged.libc6),
  };
  const lock: BuildRootLock = {
    suite: 'bullseye',
    arch: 'amd64',
    include: BUILD_ROOT_SPEC.include,
    packages: [
      { name: 'make', version: '4.3-4.1', arch: 'amd64', path: 'pool/main/m/make-dfsg/make.deb', sha256: '' },
      { name: 'libc6', version: '2.31-13+deb11u11', arch: 'amd64', path: 'pool/main/g/glibc/libc6.deb', sha256: '' },
    ],
  };
  for (const p of lock.packages) {
    const bytes = readFileSync(debs[p.name as keyof typeof debs]);
    p.sha256 = sha256(bytes);
    mkdirSync(join(cache, 'debs'), { recursive: true });
    writeFileSync(cachedDebPath(lockedDeb(p)), bytes);
  }
  const id = buildRootId(lock);
  const root = join(work, 'root');
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  symlinkSync('usr/lib', join(root, 'lib'));
  for (const files of Object.values(packaged))
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(join(root, p, '..'), { recursive: true });
      if (c.startsWith('->')) symlinkSync(c.slice(2), join(root, p));
      else writeFileSync(join(root, p), c);
    }
  mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
  mkdirSync(join(root, 'etc/alternatives'), { recursive: true });
  symlinkSync('/usr/bin/make', join(root, 'etc/alternatives/gmake'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(
    join(root, 'var/lib/dpkg/status'),
    lock.packages
      .map((p) => `Package: ${p.name}\nStatus: install ok installed\nVersion: ${p.version}\nArchitecture: ${p.arch}\n`)
      .join('\n'),
  );
  writeFileSync(join(root, 'var/lib/dpkg/info/make.md5sums'), `${md5('make binary')}  usr/bin/make\n`);
  writeFileSync(join(root, 'xsnap-buildroot.json'), JSON.stringify({ id, suite: 'bullseye' }));
  mkdirSync(join(root, 'tmp')); // a fresh mount point: its contents are never read
  const contents = await writeContentsPin(root, lock, join(work, 'buildroot-contents.json'));
  return { root, lock, id, contents, work, cache };
}

t.test('a build root on disk is trusted only when every entry is what the repository pins', async (t) => {
  const { root, lock, id, contents, cache } = await fakeRoot(t);
  t.same(
    Object.keys(contents.unpackaged),
    [
      '/etc',
      '/etc/alternatives',
      '/etc/alternatives/gmake',
      '/etc/passwd',
      '/lib',
      '/tmp',
      '/var',
      '/var/lib',
      '/var/lib/dpkg',
      '/var/lib/dpkg/info',
      '/var/lib/dpkg/info/make.md5sums',
      '/var/lib/dpkg/status',
      '/xsnap-buildroot.json',
    ],
    'pinned beyond the packages: what no package holds (merged /usr placed the packages’ /lib in /usr/lib)',
  );
  const check = () => checkBuildRoot(root, { lock, id, contents });
  t.same(await check(), [], 'an intact root');

  // what the adversarial review planted: a packaged binary replaced and its md5sums list deleted
  writeFileSync(join(root, 'usr/bin/make'), 'a make changed after install');
  rmSync(join(root, 'var/lib/dpkg/info/make.md5sums'));
  t.match(await check(), [
    {
      check: 'buildroot-files',
      subject: join(root, 'usr/bin/make'),
      expected: `a file, sha256 ${sha256('make binary')} (package make)`,
      actual: `a file, sha256 ${sha256('a make changed after install')}`,
    },
    {
      subject: join(root, 'var/lib/dpkg/info/make.md5sums'),
      expected: /^a file, sha256 [0-9a-f]{64} \(buildroot-contents.json\)$/,
      actual: 'nothing',
    },
  ]);
  writeFileSync(join(root, 'usr/bin/make'), 'make binary');
  writeFileSync(join(root, 'var/lib/dpkg/info/make.md5sums'), `${md5('make binary')}  usr/bin/make\n`);
  t.same(await check(), [], 'put back: intact again');

  // a file no package owns, changed; an alternatives link pointed elsewhere; an extra file; a packaged link gone
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nmallory:x:0:0::/:/bin/sh\n');
  rmSync(join(root, 'etc/alternatives/gmake'));
  symlinkSync('/tmp/evil-make', join(root, 'etc/alternatives/gmake'));
  writeFileSync(join(root, 'usr/lib/x86_64-linux-gnu/libevil.so'), 'preloaded');
  rmSync(join(root, 'usr/lib/x86_64-linux-gnu/libc6.so'));
  t.match(
    (await check()).map((f) => `${f.subject.slice(root.length)}: ${f.expected} / ${f.actual}`),
    [
      /^\/etc\/alternatives\/gmake: a link to \/usr\/bin\/make \(buildroot-contents.json\) \/ a link to \/tmp\/evil-/,
      /^\/etc\/passwd: a file, sha256 [0-9a-f]{64} \(buildroot-contents.json\) \/ a file, sha256 [0-9a-f]{64}$/,
      /^\/usr\/lib\/x86_64-linux-gnu\/libc6.so: a link to libc.so.6 \(package libc6\) \/ nothing$/,
      /^\/usr\/lib\/x86_64-linux-gnu\/libevil.so: nothing \(no locked package holds it, .*\) \/ a file, sha256/,
    ],
  );

  // the cached index of the .debs' contents forged under the pinned digest's name: not used, read from the .debs
  const indexFile = join(cache, 'buildroots', `contents-${contents.packaged}.json`);
  t.ok(existsSync(indexFile), 'the index is cached under its digest');
  const forged = JSON.parse(readFileSync(indexFile, 'utf8'));
  forged.make['/usr/lib/x86_64-linux-gnu/libevil.so'] = `f:${sha256('preloaded')}`;
  writeFileSync(indexFile, JSON.stringify(forged));
  t.match(
    (await check()).map((f) => f.subject.slice(root.length)),
    [
      '/etc/alternatives/gmake',
      '/etc/passwd',
      '/usr/lib/x86_64-linux-gnu/libc6.so',
      '/usr/lib/x86_64-linux-gnu/libevil.so',
    ],
    'the forged index is not trusted: libevil.so still fails',
  );

  // a cached .deb with other bytes, and no mirror that serves the pinned one: refused, not used
  rmSync(indexFile);
  writeFileSync(cachedDebPath(lockedDeb(lock.packages[0])), 'another make deb');
  const closed = await mirror({});
  t.teardown(() => closed.server.close());
  process.env.XSNAP_DEBIAN_MIRROR = closed.url;
  process.env.XSNAP_DEBIAN_ARCHIVE_MIRROR = closed.url;
  t.teardown(() => {
    delete process.env.XSNAP_DEBIAN_MIRROR;
    delete process.env.XSNAP_DEBIAN_ARCHIVE_MIRROR;
  });
  await t.rejects(check(), /cannot fetch the pinned make 4\.3-4\.1:[\s\S]*HTTP 404/);

  // the pin written for another build root: refused, with what to run
  t.match(await checkBuildRoot(root, { lock, id, contents: { ...contents, id: 'another-id' } }), [
    { check: 'buildroot-contents', expected: `the contents of build root ${id}`, actual: /another-id/ },
  ]);
});

t.test(
  'an incremental check re-reads what changed since the last that passed, and still catches a change',
  async (t) => {
    const { root, lock, id, contents, cache } = await fakeRoot(t);
    const check = (incremental: boolean) => checkBuildRoot(root, { lock, id, contents, incremental });
    // entries changed within a second of a check are read again by the next: let the tree age past that
    await new Promise((r) => setTimeout(r, 1100));
    t.notOk(existsSync(snapshotFile(root)), 'no snapshot before a check passed');
    t.same(await check(true), [], 'no snapshot: a full check, which passes and keeps one');
    const [head] = readFileSync(snapshotFile(root), 'utf8').split('\n');
    const snapshot = readSnapshot(root, (JSON.parse(head) as SnapshotHead).pin)!;
    t.ok(snapshot, 'the snapshot is for this root and pin');
    const again = walkRoot(root, snapshot);
    t.match(again, { reread: 0, unchanged: true }, 'nothing read again');
    t.equal(walkRoot(root).reread, again.actual.size, 'without the snapshot, every entry is read');

    // the .debs and their cached index moved away: a full check cannot run, an incremental one of an unchanged tree
    // needs neither
    const aside = join(cache, '..', 'aside');
    mkdirSync(aside);
    for (const d of ['debs', 'buildroots']) renameSync(join(cache, d), join(aside, d));
    const closed = await mirror({});
    t.teardown(() => closed.server.close());
    process.env.XSNAP_DEBIAN_MIRROR = closed.url;
    process.env.XSNAP_DEBIAN_ARCHIVE_MIRROR = closed.url;
    t.teardown(() => {
      delete process.env.XSNAP_DEBIAN_MIRROR;
      delete process.env.XSNAP_DEBIAN_ARCHIVE_MIRROR;
    });
    t.same(await check(true), [], 'unchanged: vouched for by the snapshot');
    await t.rejects(check(false), /cannot fetch the pinned/, 'a full check reads the .debs');
    for (const d of ['debs', 'buildroots']) renameSync(join(aside, d), join(cache, d));

    // a packaged file replaced; then rewritten in place with its first size and mtime: both caught
    const make = join(root, 'usr/bin/make');
    const { mtime } = lstatSync(make);
    rmSync(make);
    writeFileSync(make, 'MAKE BINARY');
    utimesSync(make, mtime, mtime);
    t.match(await check(true), [{ subject: make, expected: /\(package make\)$/ }]);
    writeFileSync(make, 'make binary');
    t.same(await check(true), [], 'put back');
    writeFileSync(make, 'make binarY');
    utimesSync(make, mtime, mtime);
    t.match(await check(true), [{ subject: make, actual: `a file, sha256 ${sha256('make binarY')}` }]);
    writeFileSync(make, 'make binary');
    // a file gone and a directory in its place elsewhere: as many paths as before, still a change
    const copyright = join(root, 'usr/share/doc/make/copyright');
    rmSync(copyright);
    mkdirSync(join(root, 'usr/share/doc/make/extra'));
    t.match(
      (await check(true)).map((f) => `${f.subject.slice(root.length)}: ${f.actual}`),
      ['/usr/share/doc/make/copyright: nothing', '/usr/share/doc/make/extra: a directory'],
    );
    rmSync(join(root, 'usr/share/doc/make/extra'), { recursive: true });
    writeFileSync(copyright, 'GPL');
    // a snapshot of another directory (a root restored from a cache is a new directory): not used
    writeFileSync(make, 'make binary');
    t.same(await check(true), [], 'put back');
    const moved = `${root}-restored`;
    cpSync(root, moved, { recursive: true, verbatimSymlinks: true });
    copyFileSync(snapshotFile(root), snapshotFile(moved));
    const walked = walkRoot(moved, readSnapshot(moved, snapshot.pin));
    t.match(walked, { unchanged: false, reread: walked.actual.size }, 'a copy is read in full');
  },
);

t.test(
  'an unchanged root is vouched for by its snapshot head alone (no entry newer than it); every kind of change shows',
  async (t) => {
    const { root, lock, id, contents } = await fakeRoot(t);
    const check = () => checkBuildRoot(root, { lock, id, contents, incremental: true });
    await new Promise((r) => setTimeout(r, 1100)); // past the racy second
    t.same(await check(), [], 'a full check, which keeps a snapshot');
    const [headLine, entries] = readFileSync(snapshotFile(root), 'utf8').split('\n');
    const head = JSON.parse(headLine) as SnapshotHead;
    t.equal(await changedSince(root, head.at), false, 'nothing changed since');
    // the entries made unreadable, the head kept: an unchanged root does not need them
    writeFileSync(snapshotFile(root), `${headLine}\n{"truncated`);
    t.same(await check(), [], 'vouched for by the head alone');
    t.equal(readSnapshot(root, head.pin), null, 'while the entries could not have been read');
    writeFileSync(snapshotFile(root), `${headLine}\n${entries}\n`);

    // the contents of the fresh mounts are never used (a fresh tmpfs each time): left out, as the walk leaves them
    writeFileSync(join(root, 'tmp/left-over'), 'x');
    t.equal(await changedSince(root, head.at), false, 'a file in /tmp is not a change');
    t.same(await check(), [], 'nor to the walk');

    // each planted change shows, whatever its times say
    const make = join(root, 'usr/bin/make');
    const { atime, mtime } = lstatSync(make);
    const aside = join(root, '..', 'made-before');
    // [what, plant, put back, whether the walk refuses it]
    const planted: Array<[string, () => void, () => void, boolean]> = [
      [
        'bytes rewritten, size and mtime kept',
        () => (writeFileSync(make, 'make binarY'), utimesSync(make, atime, mtime)),
        () => writeFileSync(make, 'make binary'),
        true,
      ],
      // modes are not pinned (an Entry is a file's bytes): the walk runs, and passes
      ['mode changed', () => chmodSync(make, 0o4755), () => chmodSync(make, 0o644), false],
      [
        'a file removed',
        () => renameSync(join(root, 'usr/share/doc/make/copyright'), aside),
        () => renameSync(aside, join(root, 'usr/share/doc/make/copyright')),
        true,
      ],
      [
        // made before the snapshot (its own times older), moved in after it
        'a file made earlier renamed over another',
        () => renameSync(aside, make),
        () => writeFileSync(make, 'make binary'),
        true,
      ],
      [
        'a file added',
        () => writeFileSync(join(root, 'etc/ld.so.preload'), 'x'),
        () => rmSync(join(root, 'etc/ld.so.preload')),
        true,
      ],
    ];
    const tick = () => new Promise((r) => setTimeout(r, 30)); // file times come from a coarse clock: a few ms behind
    for (const [what, plant, undo, refused] of planted) {
      if (what.startsWith('a file made earlier')) writeFileSync(aside, 'make binarY');
      await tick();
      const at = Date.now();
      t.equal(await changedSince(root, at), false, `before "${what}": nothing newer`);
      await tick();
      plant();
      t.equal(await changedSince(root, at), true, `${what}: a change`);
      // the kept snapshot is older than the change: the check walks the tree
      const failures = await check();
      if (refused) t.not(failures.length, 0, `${what}: the incremental check refuses it`);
      else t.same(failures, [], `${what}: the incremental check walks the tree`);
      undo();
    }
    t.equal(await changedSince(join(root, 'gone'), head.at), true, 'find failing (no such root) counts as a change');
  },
);

t.test(
  'the compiler line is kept per root id and directory: a note beside a restored root is not trusted',
  async (t) => {
    const { root, id } = await fakeRoot(t);
    const st = lstatSync(root);
    const here = { path: root, id, suite: 'bullseye', packages: {} };
    const note = (dirId: string) =>
      writeFileSync(`${root}.compilers.json`, JSON.stringify({ id, root: dirId, lines: { gcc: 'gcc (Test) 1.0' } }));
    note(`${st.dev}:${st.ino}`);
    t.equal(await compilerVersion(here, 'gcc'), 'gcc (Test) 1.0', 'kept for this root: the compiler is not run');
    note(`${st.dev}:${st.ino + 1}`); // what a root restored from a cache finds beside it: another directory's note
    await t.rejects(
      compilerVersion(here, 'gcc'),
      /compiler in the build root/,
      "another directory's note is not used: the compiler is run (and fails here, as this root holds none)",
    );
    await t.rejects(
      compilerVersion({ ...here, id: 'another-id' }, 'gcc'),
      /compiler in the build root/,
      "nor another id's",
    );
  },
);

t.test('the stamp and the package list are checked before any file', async (t) => {
  const { root, lock, id, contents, work } = await fakeRoot(t);
  // what a non-root restore that stopped half-way leaves: the stamp, not the rest
  const stampOnly = join(work, 'stamp-only');
  mkdirSync(stampOnly, { recursive: true });
  writeFileSync(join(stampOnly, 'xsnap-buildroot.json'), JSON.stringify({ id }));
  t.match(
    (await checkBuildRoot(stampOnly, { lock, id, contents }))[0],
    { check: 'buildroot-packages', expected: 'var/lib/dpkg/status' },
    'a stamp alone is refused',
  );
  const other = { ...lock, packages: [{ ...lock.packages[0], version: '4.2' }, lock.packages[1]] };
  t.match((await checkBuildRoot(root, { lock: other, id, contents }))[0], {
    check: 'buildroot-packages',
    expected: 'make 4.2 installed',
    actual: 'make 4.3-4.1',
  });
  rmSync(join(root, 'xsnap-buildroot.json'));
  t.match(await checkBuildRoot(root, { lock, id, contents }), [{ check: 'buildroot-stamp', actual: 'missing' }]);
  writeFileSync(join(root, 'xsnap-buildroot.json'), JSON.stringify({ id: 'another-id' }));
  t.match(await checkBuildRoot(root, { lock, id, contents }), [{ check: 'buildroot-stamp', actual: 'id another-id' }]);
});

t.test('ensureBuildRoot never uses a root on its stamp alone: refused as non-root, nothing made', async (t) => {
  // what a non-root actions/cache restore that stopped half-way leaves: the stamp, not the rest
  const cache = t.testdir({});
  const lib = (f: string) => JSON.stringify(new URL(`../../scripts/lib/${f}`, import.meta.url).pathname);
  const code =
    `process.getuid = () => 1001;\n` + // a runner user: no root to make the root anew
    `const { buildRootDir, buildRootId, ensureBuildRoot } = await import(${lib('build/buildroot.ts')});\nconst { mkdirSync, writeFileSync } = await import('node:fs');\nconst dir = buildRootDir();\nmkdirSync(dir, { recursive: true });\nwriteFileSync(dir + '/xsnap-buildroot.json', JSON.stringify({ id: buildRootId(), suite: 'bullseye' }));\ntry { await ensureBuildRoot(); console.log('USED'); }\ncatch (e) { console.log(JSON.stringify({ name: e.constructor.name, failures: e.failures })); }`;
  const r = await runRaw([process.execPath, '--import', 'tsx', '--input-type=module', '-e', code], {
    env: { ...process.env, XSNAP_CACHE_DIR: cache },
  });
  t.equal(r.code, 0, r.code === 0 ? 'the child ran' : r.stderr);
  const out = r.stdout.trim().split('\n').at(-1)!;
  t.not(out, 'USED', 'a stamp-only root is not used');
  const e = JSON.parse(out) as { name: string; failures: Array<{ check: string; hint?: string }> };
  t.equal(e.name, 'CheckFailed');
  t.match(e.failures[0], { check: 'buildroot-packages', hint: /run as root to make the build root anew/ });
  t.match(r.stderr, /is not intact, so it is not used/);
  t.same(readdirSync(join(cache, 'buildroots')).length, 1, 'no other root made beside it');
});

t.test('entering the root: a private mount namespace with a fresh /dev, then chroot', async (t) => {
  const argv = enterArgv('/r', ['make', '-C', '/build']);
  t.same(argv.slice(0, 5), ['unshare', '--mount', '--propagation', 'private', '--']);
  t.match(argv[7], /mount -t tmpfs [^\n]*"\$root\/dev"/);
  t.match(argv[7], /for d in null zero full random urandom tty; do : > "\$root\/dev\/\$d"; mount --bind "\/dev\/\$d"/);
  t.match(argv[7], /mount -t tmpfs [^\n]*"\$root\/tmp"/);
  t.match(argv[7], /mount --bind "\$work" "\$root\/build"/);
  t.match(argv[7], /exec chroot "\$root" "\$@"/);
  t.same(argv.slice(8), ['xsnap-buildroot', '/r', buildRootWorkDir('/r'), 'make', '-C', '/build']);
});
