// The determinism corpus a release was measured with. A manifest records the
// corpus's digest (targets.<t>.determinism.corpusDigest), not the corpus: the
// corpus of today may have grown since, and running it against an earlier
// release's digests would fail every family. So a check of a past release runs
// the corpus whose digest the manifest names, found (in this order) where the
// user points (--corpus), where `generate-manifest.ts --save` keeps it next to
// the manifests (manifests/determinism-corpus/<digest>.js), today's corpus if
// its digest is the one, or the repository's history of corpus.js; and never a
// corpus whose digest is another.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/fs.ts';
import { join, relative } from 'node:path';
import { loadCorpus, DETERMINISM_CORPUS, type Corpus } from './determinism.ts';
import { CheckFailed, nextStep, OperationError } from '../core/errors.ts';
import { runRaw } from '../core/exec.ts';
import { MANIFESTS_DIR, REPO_ROOT } from '../core/paths.ts';

/** Where --save keeps each released corpus, by its digest. */
export const releasedCorpusFile = (manifestsDir: string, digest: string) =>
  join(manifestsDir, 'determinism-corpus', `${digest}.js`);

/** Throw unless today's corpus is the one `digest` names: the one --save would keep with the manifest. */
export function refuseOtherCorpus(manifestsDir: string, digest: string): void {
  const corpus = loadCorpus();
  if (corpus.digest !== digest)
    throw new CheckFailed([
      {
        check: 'committed-manifest',
        subject: `${DETERMINISM_CORPUS} (to keep with the manifest in ${manifestsDir})`,
        expected: `the corpus the manifest was measured with (corpusDigest ${digest})`,
        actual: `corpusDigest ${corpus.digest}`,
        hint: 'generate the manifest again with this corpus, or keep the corpus it was measured with by hand',
      },
    ]);
}

/** Keep today's corpus next to the saved manifests when it is the one `digest` names (generate-manifest --save). */
export async function saveReleasedCorpus(manifestsDir: string, digest: string): Promise<string> {
  refuseOtherCorpus(manifestsDir, digest);
  const corpus = loadCorpus();
  const file = releasedCorpusFile(manifestsDir, digest);
  if (existsSync(file) && (await readFile(file, 'utf8')) === corpus.source) return file;
  await mkdir(join(manifestsDir, 'determinism-corpus'), { recursive: true });
  await writeFileAtomic(file, corpus.source);
  return file;
}

/** A corpus from `file`, refused unless its digest is `digest` (what the manifest recorded). */
function checked(file: string, digest: string, where: string): Corpus {
  const corpus = loadCorpus(file);
  if (corpus.digest !== digest)
    throw new CheckFailed([
      {
        check: 'delivery-determinism',
        subject: `${file} (${where})`,
        expected: `corpusDigest ${digest} (the manifest's)`,
        actual: `corpusDigest ${corpus.digest}`,
        hint: 'this is not the corpus the release was measured with; give the one it was (--corpus), e.g. git show v<version>:native/determinism-corpus/corpus.js',
      },
    ]);
  return corpus;
}

/**
 * The corpus whose digest is `digest`, and the file it was read from. `file`: the user's (refused when its digest
 * differs); else the kept copy in `manifestsDir`; else today's when its digest is the one; else a version of
 * corpus.js in the repository's history (written to `scratch`).
 */
export async function releasedCorpus(
  digest: string,
  opts: { file?: string; manifestsDir?: string; scratch: string; /** whose history (tests) */ repo?: string },
): Promise<{ corpus: Corpus; file: string; from: string }> {
  const repo = opts.repo ?? REPO_ROOT;
  if (opts.file) return { corpus: checked(opts.file, digest, '--corpus'), file: opts.file, from: '--corpus' };
  const kept = releasedCorpusFile(opts.manifestsDir ?? MANIFESTS_DIR, digest);
  if (existsSync(kept)) return { corpus: checked(kept, digest, 'kept with the manifests'), file: kept, from: kept };
  if (loadCorpus().digest === digest) return { corpus: loadCorpus(), file: DETERMINISM_CORPUS, from: 'today' };
  const path = relative(REPO_ROOT, DETERMINISM_CORPUS);
  const log = await runRaw(['git', '-C', repo, 'log', '--format=%H', '--', path]);
  for (const commit of log.code === 0 ? log.stdout.split('\n').filter(Boolean) : []) {
    const shown = await runRaw(['git', '-C', repo, 'show', `${commit}:${path}`]);
    if (shown.code !== 0) continue;
    const file = join(opts.scratch, `corpus-${commit.slice(0, 12)}.js`);
    await writeFile(file, shown.stdout);
    if (loadCorpus(file).digest === digest) return { corpus: loadCorpus(file), file, from: `commit ${commit}` };
  }
  throw new OperationError(
    `no determinism corpus with the manifest's corpusDigest ${digest}: not given (--corpus), not in ${join(opts.manifestsDir ?? MANIFESTS_DIR, 'determinism-corpus')}, not today's (${loadCorpus().digest}), ` +
      `not in the history of ${path}${log.code === 0 ? '' : ` (git log failed: ${log.stderr.trim()})`}` +
      nextStep('git show v<version>:native/determinism-corpus/corpus.js > corpus.js, then --corpus corpus.js'),
  );
}
