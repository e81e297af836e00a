// The code is formatted by Prettier (pinned in package.json, settings in
// .prettierrc.json: `npx prettier --write scripts test bench` fixes it) and no
// line is longer than 120 characters (Prettier leaves long strings and comments
// alone: split those by hand). Both checks are shown failing on planted input.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as prettier from 'prettier';
import { REPO_ROOT } from '../../scripts/lib/paths.ts';

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
function longLines(text: string): string[] {
  return text.split('\n').flatMap((line, i) => (line.length > MAX_LINE ? [`line ${i + 1} (${line.length})`] : []));
}

async function formatted(file: string, text: string): Promise<boolean> {
  const options = await prettier.resolveConfig(file);
  return prettier.check(text, { ...options, filepath: file });
}

t.test('every code file is as Prettier writes it', async (t) => {
  const files = codeFiles();
  t.ok(files.length > 100, `${files.length} files checked`);
  const unformatted: string[] = [];
  for (const file of files)
    if (!(await formatted(file, readFileSync(file, 'utf8')))) unformatted.push(relative(REPO_ROOT, file));
  t.same(unformatted, [], 'run: npx prettier --write scripts test bench');
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
});
