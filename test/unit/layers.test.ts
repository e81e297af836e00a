// The library's layout is the pipeline (scripts/lib/README.md): a folder imports the core and the folders
// before it, never one after it; no file sits outside a folder; publish-all runs no build code.
import t from 'tap';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';

const ORDER = ['core', 'build', 'package', 'behaviour', 'release', 'verify', 'publish', 'ci'];
const CODE = /\.(ts|mts|mjs)$/;
const SPEC = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every relative import of a file, resolved to an absolute path. */
function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(SPEC)].map((m) => resolve(dirname(file), m[1]));
}

function codeFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? codeFiles(p) : CODE.test(n) ? [p] : [];
  });
}

/** The layering's breaches under `lib`: files outside a folder, imports of a later folder or outside lib. */
function breaches(lib: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(lib))
    if (!statSync(join(lib, n)).isDirectory() && n !== 'README.md') out.push(`${n}: not in a folder`);
  for (const file of codeFiles(lib)) {
    const from = relative(lib, file).split('/')[0];
    if (!ORDER.includes(from)) {
      if (from !== relative(lib, file)) out.push(`${relative(lib, file)}: ${from}/ is not a folder of the pipeline`);
      continue;
    }
    for (const target of importsOf(file)) {
      const to = relative(lib, target).split('/')[0];
      if (to.startsWith('..') || !ORDER.includes(to)) out.push(`${relative(lib, file)} imports ${target} (outside)`);
      else if (ORDER.indexOf(to) > ORDER.indexOf(from))
        out.push(`${relative(lib, file)} imports ${relative(lib, target)}: ${to}/ comes after ${from}/`);
    }
  }
  return out;
}

/** Every library file a script loads, following relative imports (type-only ones included). */
function chain(script: string): Set<string> {
  const seen = new Set<string>();
  const walk = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const g of importsOf(f)) walk(g);
  };
  walk(script);
  return seen;
}

const LIB = join(REPO_ROOT, 'scripts', 'lib');

t.test('scripts/lib: every file in a folder of the pipeline, no import of a later folder', async (t) => {
  t.same(breaches(LIB), []);
  const readme = readFileSync(join(LIB, 'README.md'), 'utf8');
  for (const f of ORDER) {
    t.match(readme, `\`${f}/\``, `the README names ${f}/`);
    t.match(readFileSync(join(LIB, f, 'README.md'), 'utf8'), /^# /, `${f}/ opens with what it owns`);
  }
});

t.test('the check fails on a planted upward import and a file outside the folders', async (t) => {
  const lib = mkdtempSync(join(tmpdir(), 'xsnap-layers-'));
  t.teardown(() => rmSync(lib, { recursive: true, force: true }));
  for (const f of ['core', 'build']) mkdirSync(join(lib, f));
  writeFileSync(join(lib, 'core', 'a.ts'), "import type { B } from '../build/b.ts';\n");
  writeFileSync(join(lib, 'build', 'b.ts'), "import { a } from '../core/a.ts';\nexport type B = 1;\n");
  writeFileSync(join(lib, 'loose.ts'), '');
  t.same(breaches(lib), ['loose.ts: not in a folder', 'core/a.ts imports build/b.ts: build/ comes after core/']);
});

t.test('publish-all loads no build code: it consumes the verify record', async (t) => {
  const loaded = [...chain(join(REPO_ROOT, 'scripts', 'publish-all.ts'))].map((f) => relative(LIB, f));
  t.ok(
    loaded.some((f) => f.startsWith('publish/')),
    'the chain is followed',
  );
  t.same(
    loaded.filter((f) => f.startsWith('build/')),
    [],
  );
});
