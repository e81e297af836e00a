// Reading tarballs (every entry, or the regular files by path), the one check
// of what a tar entry may be, and the wordings its callers keep.
import t from 'tap';
import { makeBundle } from '../../scripts/lib/package/bundle.ts';
import { readTarEntries, readTarballFiles, tarEntryProblem, unsafePath } from '../../scripts/lib/core/tarball.ts';
import { entryProblem } from '../../scripts/lib/ci/ci-artifact.ts';

t.test('readTarEntries lists every entry; readTarballFiles keeps the regular files by path', async (t) => {
  const data = makeBundle(
    new Map([
      ['dist/a/x', Buffer.from('x')],
      ['dist/b', Buffer.from('bb')],
    ]),
  );
  const listed = (await readTarEntries(data)).map((e) => `${e.type} ${e.path}`);
  t.same(listed, ['Directory dist/', 'Directory dist/a/', 'File dist/a/x', 'File dist/b']);
  const files = await readTarballFiles(data);
  t.same([...files.keys()], ['dist/a/x', 'dist/b']);
  t.equal(files.get('dist/b')!.data.toString(), 'bb');
  t.equal(files.get('dist/b')!.mode, 0o755);
});

t.test('paths: absolute (also a drive), `..` with either slash; the path before the type', async (t) => {
  t.equal(tarEntryProblem('dist/linux-x64/release/xsnap-worker', 'File'), null);
  t.equal(tarEntryProblem('dist/', 'Directory'), null);
  t.same(tarEntryProblem('/etc/passwd', 'File'), { kind: 'absolute' });
  t.same(tarEntryProblem('C:/x', 'File'), { kind: 'absolute' });
  t.same(tarEntryProblem('a/../../x', 'File'), { kind: 'climbs' });
  t.same(tarEntryProblem('a\\..\\x', 'File'), { kind: 'climbs' });
  t.equal(tarEntryProblem('a/..x/b..', 'File'), null, 'dots inside a name are fine');
  t.same(tarEntryProblem('../evil', 'SymbolicLink'), { kind: 'climbs' });
});

t.test('types: files and directories unless the caller allows more', async (t) => {
  t.same(tarEntryProblem('a/link', 'SymbolicLink'), { kind: 'type', type: 'SymbolicLink' });
  t.same(tarEntryProblem('a/hard', 'Link'), { kind: 'type', type: 'Link' });
  t.same(tarEntryProblem('a/old', 'OldFile'), { kind: 'type', type: 'OldFile' });
  t.equal(tarEntryProblem('a/old', 'OldFile', ['File', 'OldFile']), null);
});

t.test("the callers' words", async (t) => {
  t.equal(unsafePath('/x'), 'absolute path');
  t.equal(unsafePath('x/../y'), 'path contains ..');
  t.equal(unsafePath('x/link'), null, 'unsafePath is about the path alone');
  t.equal(entryProblem('/x', 'File'), 'is an absolute path');
  t.equal(entryProblem('x/../y', 'File'), 'climbs out with ".."');
  t.equal(entryProblem('x/link', 'SymbolicLink'), 'is a SymbolicLink, not a regular file or directory');
  t.equal(entryProblem('x/', 'Directory'), null);
});
