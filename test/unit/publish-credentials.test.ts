// The pieces of npm's rules and of "a process holding a credential runs no
// binary" that need no registry: the maintainer's one-time code (RFC 6238, the
// local registry's authenticator), which credentials a process holds, and the
// verify record publish-all compares with.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { totp } from '../../scripts/lib/publish/registry-rules.mjs';
import { heldCredentials } from '../../scripts/lib/core/exec.ts';
import {
  compareWithRecord,
  readVerifiedRecord,
  writeVerifiedRecord,
} from '../../scripts/lib/verify/verified-record.ts';
import { sha256Hex } from '../../scripts/lib/core/hash.ts';

t.test('totp: RFC 6238 appendix B (SHA-1), as an authenticator app shows it', async (t) => {
  const secret = Buffer.from('12345678901234567890').toString('hex');
  for (const [seconds, code] of [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ] as const)
    t.equal(totp(secret, seconds * 1000, 8), code, `T=${seconds}`);
  t.equal(totp(secret, 59_000), '287082', 'six digits: the last six');
  t.not(totp(secret, 59_000), totp(secret, 89_000), 'a new code every 30 s');
});

t.test('heldCredentials: what a child could read from /proc/<this process>/environ', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xsnap-environ-'));
  let n = 0;
  const environ = (vars: Record<string, string>) => {
    const file = join(dir, `environ-${++n}`);
    writeFileSync(
      file,
      Object.entries(vars)
        .map(([k, v]) => `${k}=${v}\0`)
        .join(''),
    );
    return file;
  };
  t.same(heldCredentials(environ({ PATH: '/bin', HOME: '/root' })), [], 'none');
  t.same(
    heldCredentials(
      environ({
        PATH: '/bin',
        NPM_TOKEN: 'x',
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'y',
        ACTIONS_ID_TOKEN_REQUEST_URL: 'https://u',
        GH_TOKEN: 'z',
        'npm_config_//registry.npmjs.org/:_authToken': 'w',
        NODE_AUTH_TOKEN: '',
      }),
    ),
    ['ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'GH_TOKEN', 'NPM_TOKEN', 'npm_config_//registry.npmjs.org/:_authToken'],
    'by name; an empty one is none (the URL alone mints nothing)',
  );
});

t.test('the verify record: written relative to dist, compared by sha256, commit checked', async (t) => {
  const dist = mkdtempSync(join(tmpdir(), 'xsnap-record-'));
  const manifest = Buffer.from('{"version":"1.2.3"}\n');
  const tgz = Buffer.from('tarball bytes');
  const file = writeVerifiedRecord(
    dist,
    '1.2.3',
    { [join(dist, 'release', 'm.json')]: sha256Hex(manifest), [join(dist, 'a.tgz')]: sha256Hex(tgz) },
    'a'.repeat(40),
  );
  const record = readVerifiedRecord(dist, '1.2.3')!;
  t.same(Object.keys(record.files), ['a.tgz', 'release/m.json'], 'paths relative to dist, sorted');
  const held = [
    { file: join(dist, 'release', 'm.json'), data: manifest },
    { file: join(dist, 'a.tgz'), data: tgz },
  ];
  t.same(compareWithRecord(record, file, dist, held, 'a'.repeat(40)), [], 'the same bytes, the same commit');
  const swapped = compareWithRecord(record, file, dist, [held[0], { ...held[1], data: Buffer.from('other') }]);
  t.same(
    swapped.map((f) => [f.check, f.subject]),
    [['verified-bytes', 'a.tgz']],
    'a tarball that changed after verification',
  );
  t.same(
    compareWithRecord(record, file, dist, [{ file: join(dist, 'b.tgz'), data: tgz }]).map((f) => f.actual),
    [`not in ${file}`],
    'a file verify never checked',
  );
  t.same(
    compareWithRecord(record, file, dist, held, 'b'.repeat(40)).map((f) => f.check),
    ['verified-commit'],
    'verified at another commit',
  );
  t.equal(readVerifiedRecord(dist, '9.9.9'), null, 'no record of another version');
  writeFileSync(file, JSON.stringify({ version: '1.2.3', commit: null, files: { 'a.tgz': 'nothex' } }));
  t.throws(() => readVerifiedRecord(dist, '1.2.3'), /verified-record|a record of 1\.2\.3/);
});
