// Which determinism corpus a check of a past release runs (issue 19, item 4): the one whose digest the manifest
// records, from --corpus, from the copy kept with the manifests, today's, or the repository's history; never one
// whose digest is another. A real git repository stands in for this one's history.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DETERMINISM_CORPUS, loadCorpus } from '../../scripts/lib/behaviour/determinism.ts';
import { CheckFailed } from '../../scripts/lib/core/errors.ts';
import { run } from '../../scripts/lib/core/exec.ts';
import { releasedCorpus, releasedCorpusFile, saveReleasedCorpus } from '../../scripts/lib/behaviour/released-corpus.ts';

const today = readFileSync(DETERMINISM_CORPUS, 'utf8');
/** an earlier corpus: today's without the parseFloat family */
const earlier = today.replace(/^ {2}families\.push\(\{ name: 'parseFloat'.*\n/m, '');

t.test('the corpus of a release, by its digest; another digest refused', async (t) => {
  const dir = t.testdir({ 'earlier.js': earlier });
  const old = loadCorpus(join(dir, 'earlier.js'));
  t.not(old.digest, loadCorpus().digest, 'the earlier corpus is another corpus');
  const scratch = join(dir, 'scratch');
  mkdirSync(scratch);
  const manifestsDir = join(dir, 'manifests');

  // given: used when its digest is the manifest's, refused otherwise (naming file, expected and actual)
  const given = await releasedCorpus(old.digest, { file: join(dir, 'earlier.js'), scratch, manifestsDir });
  t.equal(given.corpus.digest, old.digest);
  t.equal(given.from, '--corpus');
  const refused = await releasedCorpus(old.digest, { file: DETERMINISM_CORPUS, scratch, manifestsDir }).catch((e) => e);
  t.type(refused, CheckFailed);
  t.match((refused as CheckFailed).failures, [
    {
      check: 'delivery-determinism',
      subject: `${DETERMINISM_CORPUS} (--corpus)`,
      expected: `corpusDigest ${old.digest} (the manifest's)`,
      actual: `corpusDigest ${loadCorpus().digest}`,
    },
  ]);

  // today's, when it is the one
  t.equal((await releasedCorpus(loadCorpus().digest, { scratch, manifestsDir })).from, 'today');

  // nowhere: refused, saying where it looked (this repository's history has no such corpus.js)
  await t.rejects(
    releasedCorpus(old.digest, { scratch, manifestsDir }),
    new RegExp(`no determinism corpus with the manifest's corpusDigest ${old.digest}`),
  );

  // kept with the manifests (as --save keeps today's): found; a kept copy changed under its name: refused
  const kept = releasedCorpusFile(manifestsDir, old.digest);
  mkdirSync(join(kept, '..'), { recursive: true });
  writeFileSync(kept, earlier);
  t.equal((await releasedCorpus(old.digest, { scratch, manifestsDir })).from, kept);
  writeFileSync(kept, today);
  t.match(await releasedCorpus(old.digest, { scratch, manifestsDir }).catch((e) => e), {
    failures: [{ subject: `${kept} (kept with the manifests)`, actual: `corpusDigest ${loadCorpus().digest}` }],
  });

  // --save keeps today's under its digest, and refuses to keep it for a manifest measured with another
  t.equal(
    await saveReleasedCorpus(manifestsDir, loadCorpus().digest),
    releasedCorpusFile(manifestsDir, loadCorpus().digest),
  );
  t.equal(readFileSync(releasedCorpusFile(manifestsDir, loadCorpus().digest), 'utf8'), today);
  t.match(await saveReleasedCorpus(manifestsDir, old.digest).catch((e) => e), {
    failures: [{ check: 'committed-manifest' }],
  });
});

t.test("from the repository's history: the version of corpus.js whose digest the manifest records", async (t) => {
  const repo = t.testdir({});
  const path = 'native/determinism-corpus/corpus.js';
  const git = (...args: string[]) =>
    run(['git', '-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args]);
  await git('init', '-q');
  mkdirSync(join(repo, 'native/determinism-corpus'), { recursive: true });
  writeFileSync(join(repo, path), earlier);
  await git('add', path);
  await git('commit', '-q', '-m', 'the corpus of the release');
  const releaseCommit = (await git('rev-parse', 'HEAD')).stdout.trim();
  writeFileSync(join(repo, path), today);
  await git('commit', '-q', '-am', 'the corpus grows');
  const scratch = mkdtempSync(join(tmpdir(), 'released-corpus-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const old = loadCorpus(
    join(repo, '..', 'x') && (writeFileSync(join(scratch, 'e.js'), earlier), join(scratch, 'e.js')),
  );
  const found = await releasedCorpus(old.digest, { scratch, manifestsDir: join(scratch, 'none'), repo });
  t.equal(found.from, `commit ${releaseCommit}`);
  t.equal(found.corpus.digest, old.digest);
  t.equal(readFileSync(found.file, 'utf8'), earlier);
});
