// The atomic write (issue 20, item 3): a file is written whole or not at all, and a failed write leaves no
// temporary file behind. Failures are planted: a fill that writes part of the file and throws, a target that a
// rename cannot replace (a folder that is not empty).
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { partialFile, replaceFileAtomic, writeFileAtomic, writeFileAtomicSync } from '../../scripts/lib/core/fs.ts';

t.test('a write replaces the file whole; the temporary file is in the same folder, named with the pid', async (t) => {
  const dir = t.testdir({ 'a.json': 'old\n' });
  const file = join(dir, 'a.json');
  t.equal(partialFile(file), `${file}.partial-${process.pid}`);
  await writeFileAtomic(file, 'new\n');
  t.equal(readFileSync(file, 'utf8'), 'new\n');
  writeFileAtomicSync(join(dir, 'b.bin'), Buffer.from([1, 2, 3]), { mode: 0o600 });
  t.same([...readFileSync(join(dir, 'b.bin'))], [1, 2, 3]);
  t.equal(statSync(join(dir, 'b.bin')).mode & 0o777, 0o600, 'the mode asked for');
  t.same(readdirSync(dir).sort(), ['a.json', 'b.bin'], 'nothing else left in the folder');
});

t.test('a fill that fails half way: the old file stays, no partial file is left', async (t) => {
  const dir = t.testdir({ 'a.json': 'old\n' });
  const file = join(dir, 'a.json');
  const err = await replaceFileAtomic(file, async (partial) => {
    await writeFile(partial, '{"half": ');
    await appendFile(partial, 'tr');
    throw new Error('planted: the data ran out');
  }).catch((e: Error) => e);
  t.match(err, { message: 'planted: the data ran out' }, 'the fill error, rethrown');
  t.equal(readFileSync(file, 'utf8'), 'old\n', 'the old file is untouched');
  t.same(readdirSync(dir), ['a.json'], 'no partial file');
});

t.test('a rename that fails (the target is a folder): no partial file is left, async and sync', async (t) => {
  const dir = t.testdir({ target: { inside: 'x' } });
  const file = join(dir, 'target');
  const err = await writeFileAtomic(file, 'data').catch((e: NodeJS.ErrnoException) => e);
  t.ok(err instanceof Error && ['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes(String(err.code)), `${err}`);
  t.same(readdirSync(dir), ['target'], 'no partial file (async)');
  t.throws(() => writeFileAtomicSync(file, 'data'), /EISDIR|ENOTEMPTY|EEXIST/);
  t.same(readdirSync(dir), ['target'], 'no partial file (sync)');
  t.same(readdirSync(file), ['inside'], 'the folder is untouched');
});

t.test('a folder that vanishes before the write: the error names the file, nothing is created', async (t) => {
  const dir = t.testdir({ gone: {} });
  const folder = join(dir, 'gone');
  const file = join(folder, 'a.json');
  const err = await replaceFileAtomic(file, async (partial) => {
    await writeFile(partial, 'part');
    // the folder goes away under the writer
    const { rm } = await import('node:fs/promises');
    await rm(folder, { recursive: true });
  }).catch((e: NodeJS.ErrnoException) => e);
  t.match(err, { code: 'ENOENT' });
  t.same(readdirSync(dir), [], 'nothing created in its place');
  mkdirSync(folder);
  writeFileSync(join(folder, 'keep'), '');
  await writeFileAtomic(file, 'whole');
  t.same(readdirSync(folder).sort(), ['a.json', 'keep']);
});
