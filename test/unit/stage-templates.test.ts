// The committed package templates are exactly what the target table generates.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TARGETS } from '../../scripts/lib/core/targets.ts';
import {
  templateDrift,
  fillNotice,
  renderTemplate,
  LICENSE_EXPRESSION,
} from '../../scripts/lib/package/package-text.ts';
import {
  allowedPackageFiles,
  licensesDir,
  NOTICE_TEMPLATE,
  tarballName,
  templateDir,
} from '../../scripts/lib/core/layout.ts';
import type { BuildInfo } from '../../scripts/lib/build/build.ts';

t.test('packages/xsnap-<target>/ agree with TARGETS', async (t) => {
  t.same(await templateDrift(), [], 'run stage-packages.ts --update-templates if this fails');
  for (const target of TARGETS) {
    const pkg = JSON.parse(await readFile(join(templateDir(target), 'package.json'), 'utf8'));
    t.equal(pkg.name, target.packageName);
    t.same(pkg.os, [target.os]);
    t.same(pkg.cpu, [target.cpu]);
    t.same(pkg.libc, target.os === 'linux' ? ['glibc'] : undefined);
    t.equal(pkg.license, LICENSE_EXPRESSION);
    t.equal(pkg.scripts, undefined);
    t.equal(pkg.publishConfig.access, 'public');
  }
});

t.test('a template that drifts is reported with the fix', async (t) => {
  const root = t.testdir();
  const { writeTemplates } = await import('../../scripts/lib/package/package-text.ts');
  // start from the committed license texts (once, in packages/licenses/), then break one file
  const { cp, rm, writeFile } = await import('node:fs/promises');
  await cp(licensesDir(), licensesDir(root), { recursive: true });
  await writeTemplates(root);
  t.same(await templateDrift(root), []);
  // a license text in a template folder (the four copies of before) is drift too
  const copy = join(templateDir(TARGETS[1], root), 'LICENSE.GPL-3.0');
  await cp(join(licensesDir(root), 'LICENSE.GPL-3.0'), copy);
  t.match(await templateDrift(root), [{ check: 'package-template', subject: copy, expected: 'no such file' }]);
  await rm(copy);
  // and a missing one, in the one place it is kept
  const gpl = join(licensesDir(root), 'LICENSE.GPL-3.0');
  await rm(gpl);
  await t.rejects(templateDrift(root), /license text LICENSE\.GPL-3\.0 is missing \(expected in .*licenses\)/);
  await writeFile(gpl, 'not the GPL\n');
  t.same(await templateDrift(root), [], 'the full texts are taken as they are (only LICENSE is generated)');
  await cp(join(licensesDir(), 'LICENSE.GPL-3.0'), gpl);
  const file = join(root, 'xsnap-darwin-x64', 'package.json');
  await (await import('node:fs/promises')).writeFile(file, (await readFile(file, 'utf8')).replace('"x64"', '"arm64"'));
  const drift = await templateDrift(root);
  t.equal(drift.length, 1);
  t.match(drift[0], { check: 'package-template', subject: file, hint: /--update-templates/ });
});

t.test('names and notices', async (t) => {
  t.equal(tarballName(TARGETS[0], '1.2.3'), `agoric-xsnap-${TARGETS[0].name}-1.2.3.tgz`);
  t.same(
    allowedPackageFiles().filter((f) => f.startsWith('bin/')),
    ['bin/debug/xsnap-worker', 'bin/release/xsnap-worker'],
  );
  const files = renderTemplate(TARGETS[0]);
  const info = {
    source: {
      kind: 'npm',
      version: '1.2.3',
      moddableCommit: 'a'.repeat(40),
      xsnapNativeCommit: 'b'.repeat(40),
      integrity: { '@agoric/xsnap@1.2.3': 'sha512-x' },
      treeDigest: 'c'.repeat(64),
    },
    toolchain: { kind: 'pinned', compiler: 'gcc 10', buildRootId: 'r1', suite: 'bullseye' },
  } as unknown as BuildInfo;
  const notice = fillNotice(files[NOTICE_TEMPLATE], '1.2.3', info);
  t.match(notice, 'a'.repeat(40));
  t.match(notice, 'b'.repeat(40));
  t.notMatch(notice, /\{\{/);
  t.throws(() => fillNotice('{{nope}}', '1', info), /unknown placeholder/);
});
