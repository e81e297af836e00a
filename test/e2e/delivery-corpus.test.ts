// A past release checked with the corpus it was made with (issue 19, item 4).
// The release here: the shared linux build, its manifest's linux-x64 determinism
// record measured with an earlier corpus (today's without the parseFloat family,
// as before that family was added). Today's corpus differs from it, so running
// today's (the old behaviour) fails every such release with a "(corpus)"
// difference; check-delivery runs the release's corpus, found by the manifest's
// corpusDigest, and refuses a corpus whose digest is another.
import t from 'tap';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript } from '../helpers/run.ts';
import { LINUX_TARGETS } from '../helpers/shared-build.ts';
import { VERSION, startTestRegistry, releaseDist, publishDirect } from '../helpers/registry.ts';
import { DETERMINISM_CORPUS, loadCorpus, runDeterminism } from '../../scripts/lib/behaviour/determinism.ts';
import { releasedCorpusFile } from '../../scripts/lib/behaviour/released-corpus.ts';

const MANIFEST = `xsnap-worker-manifest-${VERSION}.json`;

t.test('delivery runs the corpus the release was made with, checked against its corpusDigest', async (t) => {
  const reg = await startTestRegistry();
  t.teardown(() => reg.stop());
  const dist = await releaseDist();
  for (const target of LINUX_TARGETS) await publishDirect(reg, join(dist, `agoric-xsnap-${target}-${VERSION}.tgz`));
  const dir = t.testdir();

  // the release's corpus: today's without one family
  const today = readFileSync(DETERMINISM_CORPUS, 'utf8');
  const parseFloatLine = /^ {2}families\.push\(\{ name: 'parseFloat'.*\n/m;
  t.match(today, parseFloatLine, 'the family to leave out is there today');
  const releaseCorpus = join(dir, 'release-corpus.js');
  writeFileSync(releaseCorpus, today.replace(parseFloatLine, ''));
  const old = loadCorpus(releaseCorpus);
  t.not(old.digest, loadCorpus().digest, "today's corpus differs from the release's");

  // the release's manifest: the linux-x64 record measured with that corpus (same binary, seed and size)
  const m = JSON.parse(readFileSync(join(dist, 'release', MANIFEST), 'utf8'));
  const was = m.targets['linux-x64'].determinism;
  const run = await runDeterminism(join(dist, 'linux-x64', 'release', 'xsnap-worker'), [], {
    seed: was.seed,
    perFamily: was.perFamily,
    corpusFile: releaseCorpus,
  });
  t.notOk('parseFloat' in run.record.families);
  m.targets['linux-x64'].determinism = run.record;
  const manifest = join(dir, MANIFEST);
  writeFileSync(manifest, JSON.stringify(m, null, 2));
  const manifests = join(dir, 'manifests');
  mkdirSync(manifests);
  copyFileSync(manifest, join(manifests, MANIFEST));

  const delivery = (args: string[]) =>
    runScript('check-delivery.ts', [
      '--registry',
      reg.direct,
      '--pm',
      'npm',
      '--platforms',
      'host',
      '--determinism',
      '--manifests-dir',
      manifests,
      ...args,
    ]);

  // not found anywhere: refused, saying where it looked and what to do (the old code ran today's corpus)
  const nowhere = await delivery(['--manifest', manifest]);
  t.equal(nowhere.code, 1);
  t.match(nowhere.stderr, new RegExp(`no determinism corpus with the manifest's corpusDigest ${old.digest}`));
  t.match(nowhere.stderr, /next: git show v<version>:native\/determinism-corpus\/corpus\.js/);

  // kept with the committed manifests under its digest (what generate-manifest --save does): found, run, passes;
  // the old code ran today's corpus here and failed with a "(corpus)" difference
  const kept = releasedCorpusFile(manifests, old.digest);
  mkdirSync(join(kept, '..'), { recursive: true });
  copyFileSync(releaseCorpus, kept);
  const found = await delivery(['--manifest', manifest, '--json']);
  t.equal(found.code, 0, found.stderr);
  t.notMatch(found.stderr, /\(corpus\)/);
  t.match(
    found.stderr,
    new RegExp(`determinism corpus [0-9a-f]{12} \\(the manifest's\\), from ${kept.replace(/[.]/g, '\\.')}`),
  );
  t.equal(JSON.parse(found.stdout).determinism.results, run.record.perFamily * Object.keys(run.record.families).length);
  const byVersion = await delivery(['--version', VERSION]);
  t.equal(byVersion.code, 0, byVersion.stderr);

  // today's corpus given for a release made with another one: refused, not run
  const todays = await delivery(['--manifest', manifest, '--corpus', DETERMINISM_CORPUS]);
  t.equal(todays.code, 1);
  t.match(
    todays.stderr,
    new RegExp(
      `\\[delivery-determinism\\] ${DETERMINISM_CORPUS.replace(/[.]/g, '\\.')} \\(--corpus\\)\\n\\s+expected: corpusDigest ${old.digest} \\(the manifest's\\)\\n\\s+actual: +corpusDigest ${loadCorpus().digest}`,
    ),
  );
  // the release's corpus, given
  const given = await delivery(['--manifest', manifest, '--corpus', releaseCorpus]);
  t.equal(given.code, 0, given.stderr);
  t.match(given.stderr, /determinism corpus [0-9a-f]{12} \(the manifest's\), from --corpus/);

  // the kept copy changed under its name: refused
  writeFileSync(kept, today);
  const tampered = await delivery(['--version', VERSION]);
  t.equal(tampered.code, 1);
  t.match(tampered.stderr, /\[delivery-determinism\] .*\(kept with the manifests\)\n\s+expected: corpusDigest/);
});
