// The code is formatted by Prettier (pinned in package.json, settings in
// .prettierrc.json: `npx prettier --write scripts test bench` fixes it) and no
// line is longer than 120 characters (Prettier leaves long strings and comments
// alone: split those by hand). Both checks are shown failing on planted input.
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as prettier from 'prettier';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import { sha256Hex } from '../../scripts/lib/core/hash.ts';

const MAX_LINE = 120;
const CODE = /\.(ts|mts|mjs)$/;

/** Every code file under the project's own folders (scripts, test, bench). */
function codeFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules') continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (CODE.test(e.name)) out.push(path);
    }
  };
  for (const dir of ['scripts', 'test', 'bench']) walk(join(REPO_ROOT, dir));
  return out.sort();
}

/** The lines of `text` longer than MAX_LINE, as "line N (length L)". */
/**
 * Lines over the limit once their string literals are left out: a message is never split mid-phrase to fit
 * (Prettier keeps a long string on one line; the code around it still fits).
 */
function longLines(text: string): string[] {
  const withoutStrings = (line: string) => line.replace(/'(?:\\.|[^'\\])*'|`(?:\\.|[^`\\])*`|"(?:\\.|[^"\\])*"/g, "''");
  return text
    .split('\n')
    .flatMap((line, i) => (withoutStrings(line).length > MAX_LINE ? [`line ${i + 1} (${line.length})`] : []));
}

async function formatted(file: string, text: string, known?: Set<string>, found?: Set<string>): Promise<boolean> {
  const options = await prettier.resolveConfig(file);
  // a file Prettier found formatted before, by the same Prettier, options, path and bytes, is not checked again
  const key = sha256Hex(`${prettier.version}\0${JSON.stringify(options)}\0${relative(REPO_ROOT, file)}\0${text}`);
  if (known?.has(key)) {
    found?.add(key);
    return true;
  }
  const ok = await prettier.check(text, { ...options, filepath: file });
  if (ok) found?.add(key);
  return ok;
}

/** The keys of the files found formatted by the last run (.cache/format-checked.json). */
const FORMAT_CACHE = join(REPO_ROOT, '.cache', 'format-checked.json');
function knownFormatted(): Set<string> {
  try {
    return new Set(JSON.parse(readFileSync(FORMAT_CACHE, 'utf8')) as string[]);
  } catch {
    return new Set();
  }
}

t.test('every code file is as Prettier writes it', async (t) => {
  const files = codeFiles();
  t.ok(files.length > 100, `${files.length} files checked`);
  const unformatted: string[] = [];
  const known = knownFormatted();
  const found = new Set<string>();
  for (const file of files)
    if (!(await formatted(file, readFileSync(file, 'utf8'), known, found))) unformatted.push(relative(REPO_ROOT, file));
  t.same(unformatted, [], 'run: npx prettier --write scripts test bench');
  mkdirSync(dirname(FORMAT_CACHE), { recursive: true });
  writeFileSync(`${FORMAT_CACHE}.${process.pid}`, JSON.stringify([...found].sort()));
  renameSync(`${FORMAT_CACHE}.${process.pid}`, FORMAT_CACHE);
});

t.test(`no line is longer than ${MAX_LINE} characters`, async (t) => {
  const long = codeFiles().flatMap((file) =>
    longLines(readFileSync(file, 'utf8')).map((l) => `${relative(REPO_ROOT, file)}: ${l}`),
  );
  t.same(long, [], 'split long strings and comments by hand');
});

t.test('both checks fail on planted input', async (t) => {
  const file = join(REPO_ROOT, 'scripts', 'lib', 'planted.ts');
  t.equal(await formatted(file, 'export const a = {b:1}\n'), false, 'unformatted code is caught');
  t.equal(await formatted(file, 'export const a = { b: 1 };\n'), true, 'formatted code passes');
  t.same(
    longLines(`const ok = 1;\n// ${'x'.repeat(MAX_LINE)}\n`),
    [`line 2 (${MAX_LINE + 3})`],
    'a long line is caught',
  );
  t.same(longLines(`log.warn('${'x'.repeat(MAX_LINE)}');\n`), [], 'a long string is not split to fit');
  t.same(
    longLines(`f('${'x'.repeat(MAX_LINE)}', ${'y'.repeat(MAX_LINE)});\n`),
    [`line 1 (${2 * MAX_LINE + 8})`],
    'the code beside it still fits',
  );
});

t.test('a file found formatted before is checked again when its bytes change', async (t) => {
  const file = join(REPO_ROOT, 'scripts', 'lib', 'planted.ts');
  const found = new Set<string>();
  t.equal(await formatted(file, 'export const a = { b: 1 };\n', new Set(), found), true);
  t.equal(found.size, 1, 'recorded as formatted');
  t.equal(await formatted(file, 'export const a = {b:1}\n', found), false, 'other bytes: checked again, and caught');
  t.equal(await formatted(file, 'export const a = { b: 1 };\n', found), true, 'the recorded bytes pass');
});
