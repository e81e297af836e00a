// The benchmarks stand on the library alone: no bench imports a test helper
// (they build and stage what they need through scripts/lib/core/run-script.ts).
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';

t.test('bench/*.ts import nothing from test/', async (t) => {
  const dir = join(REPO_ROOT, 'bench');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  t.ok(files.length >= 5, 'the benches are there');
  for (const f of files) {
    const imports = [...readFileSync(join(dir, f), 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    t.same(
      imports.filter((i) => i.includes('/test/') || i.startsWith('../test')),
      [],
      `${f} imports no test helper`,
    );
  }
});
