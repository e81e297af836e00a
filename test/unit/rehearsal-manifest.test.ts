// A manifest whose targets are recorded as unmeasured (generate-manifest --allow-unmeasured: darwin made on Linux)
// is a rehearsal's: publish-all takes it to a loopback registry or in a dry run when asked, and refuses it otherwise.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/core/paths.ts';
import { CheckFailed } from '../../scripts/lib/core/errors.ts';
import { checkMeasuredSet, isRehearsalRegistry } from '../../scripts/lib/publish/publish-preflight.ts';
import type { ManifestSet } from '../../scripts/lib/verify/published.ts';

const pub = { url: 'https://registry.npmjs.org/', kind: 'public' as const };
const loopback = { url: 'http://127.0.0.1:4873/', kind: 'custom' as const };
const corporate = { url: 'https://npm.example.com/', kind: 'custom' as const };
const set = (unmeasured: ManifestSet['unmeasured']): ManifestSet => ({
  file: 'dist/release/xsnap-worker-manifest-1.2.3.json',
  version: '1.2.3',
  entries: [],
  unmeasured,
});

t.test('isRehearsalRegistry: the embedded one and loopback addresses only', async (t) => {
  t.ok(isRehearsalRegistry({ url: 'http://127.0.0.1:1/', kind: 'local' }));
  t.ok(isRehearsalRegistry(loopback));
  t.ok(isRehearsalRegistry({ url: 'http://localhost:4873/', kind: 'custom' }));
  t.ok(isRehearsalRegistry({ url: 'http://[::1]:4873/', kind: 'custom' }));
  t.notOk(isRehearsalRegistry(pub));
  t.notOk(isRehearsalRegistry(corporate));
  t.notOk(isRehearsalRegistry({ url: 'http://127.0.0.1.example.com/', kind: 'custom' }), 'a name, not an address');
});

t.test('checkMeasuredSet: an unmeasured target is refused unless a rehearsal asks for it', async (t) => {
  const refused = (s: ManifestSet, o: Parameters<typeof checkMeasuredSet>[1]) => {
    try {
      checkMeasuredSet(s, o);
      return null;
    } catch (e) {
      t.type(e, CheckFailed);
      return (e as CheckFailed).failures[0];
    }
  };
  const measured = set([]);
  t.equal(refused(measured, { allowUnmeasured: false, dryRun: false, registry: pub }), null, 'measured: fine');

  const rehearsal = set(['darwin-x64', 'darwin-arm64']);
  const f = refused(rehearsal, { allowUnmeasured: false, dryRun: true, registry: loopback });
  t.match(f, { check: 'manifest-measured', subject: /darwin-x64, darwin-arm64/, hint: /--allow-unmeasured/ });
  t.equal(refused(rehearsal, { allowUnmeasured: true, dryRun: false, registry: loopback }), null, 'loopback: asked');
  t.equal(refused(rehearsal, { allowUnmeasured: true, dryRun: true, registry: pub }), null, 'a dry run: asked');
  const real = refused(rehearsal, { allowUnmeasured: true, dryRun: false, registry: pub });
  t.match(real, { check: 'manifest-measured', hint: /macOS legs/ }, 'npm itself: never, even when asked');
  t.ok(refused(rehearsal, { allowUnmeasured: true, dryRun: false, registry: corporate }), 'nor another registry');
});

/** The lines of a workflow that would make CI rehearse (take an unmeasured manifest). */
const rehearsing = (yaml: string) => yaml.split('\n').filter((l) => /--allow-unmeasured/.test(l) && !/^\s*#/.test(l));

t.test('no workflow rehearses: CI never passes --allow-unmeasured', async (t) => {
  const dir = join(REPO_ROOT, '.github', 'workflows');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
  t.ok(files.includes('release.yml'));
  for (const f of files) t.same(rehearsing(readFileSync(join(dir, f), 'utf8')), [], f);
  const planted = readFileSync(join(dir, 'verify.yml'), 'utf8').replace(
    'scripts/generate-manifest.ts',
    'scripts/generate-manifest.ts --allow-unmeasured',
  );
  t.equal(rehearsing(planted).length, 1, 'a planted --allow-unmeasured is found');
});
