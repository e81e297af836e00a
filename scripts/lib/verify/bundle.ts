// The release bundle, dist/release/xsnap-worker-X.Y.Z.tar.gz: its layout and
// entry metadata, its binaries against the manifest, and the same bytes when
// made again now from dist/<target>.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { sha256Hex } from '../core/hash.ts';
import { makeBundle, BUNDLE_FILE_MODE, BUNDLE_DIR_MODE } from '../package/bundle.ts';
import { readTarEntries, unsafePath, type TarEntry } from '../core/tarball.ts';
import { binaryPath, bundleBinaryPath, bundleLayout, bundlePath } from '../core/layout.ts';
import { GOALS } from '../core/targets.ts';
import { rel, step } from './context.ts';

export const bundle = step({
  name: 'bundle',
  checks: [
    'bundle-present',
    'bundle-readable',
    'bundle-path',
    'bundle-entry-type',
    'bundle-metadata',
    'bundle-layout',
    'bundle-binary-digest',
    'bundle-reproducible',
  ],
  async run(x, c) {
    const { dist, version } = x;
    const file = bundlePath(dist, version);
    if (!existsSync(file)) {
      c.fail({
        check: 'bundle-present',
        subject: rel(dist, file),
        expected: 'the release bundle',
        actual: 'missing',
        hint: 'npx tsx scripts/generate-manifest.ts',
      });
      return;
    }
    const data = await readFile(file);
    let entries: TarEntry[];
    try {
      entries = await readTarEntries(data);
    } catch (e) {
      c.fail({
        check: 'bundle-readable',
        subject: rel(dist, file),
        expected: 'a gzipped tar',
        actual: (e as Error).message,
        hint: 'the bundle is corrupt: regenerate it',
      });
      return;
    }
    const found: string[] = [];
    const files = new Map<string, Buffer>();
    for (const en of entries) {
      const subject = `${rel(dist, file)}: ${en.path}`;
      const unsafe = unsafePath(en.path);
      if (unsafe) {
        c.fail({ check: 'bundle-path', subject, expected: 'a relative path under dist/', actual: unsafe });
        continue;
      }
      if (en.type !== 'File' && en.type !== 'Directory') {
        c.fail({
          check: 'bundle-entry-type',
          subject,
          expected: 'a regular file or directory',
          actual: en.linkpath ? `${en.type} to ${en.linkpath}` : en.type,
        });
        continue;
      }
      const p = en.type === 'Directory' && !en.path.endsWith('/') ? en.path + '/' : en.path;
      found.push(p);
      const wantMode = en.type === 'Directory' ? BUNDLE_DIR_MODE : BUNDLE_FILE_MODE;
      c.equal(
        'bundle-metadata',
        `${subject} mode/owner/mtime`,
        `mode ${wantMode.toString(8)}, 0:0, mtime 0`,
        `mode ${(en.mode & 0o7777).toString(8)}, ${en.uid}:${en.gid}, mtime ${en.mtime}`,
      );
      if (en.type === 'File') files.set(p, en.data);
    }
    c.equal(
      'bundle-layout',
      `${rel(dist, file)} entries`,
      bundleLayout(x.targets.map((t) => t.name)).join(', '),
      found.join(', '),
      'the bundle must hold dist/<target>/{release,debug}/xsnap-worker for each target, sorted, nothing else',
    );
    for (const t of x.targets) {
      for (const g of GOALS) {
        const p = bundleBinaryPath(t.name, g);
        const d = files.get(p);
        const want = x.manifest?.targets?.[t.name]?.[g]?.sha256;
        if (d && want)
          c.equal(
            'bundle-binary-digest',
            `${rel(dist, file)}: ${p} against the manifest (targets.${t.name}.${g}.sha256)`,
            want,
            sha256Hex(d),
          );
      }
    }
    // re-derive: the bundle made from the binaries in dist must be these exact bytes
    const fromDist = new Map<string, Buffer>();
    for (const t of x.targets)
      for (const g of GOALS) {
        const f = binaryPath(dist, t.name, g);
        if (existsSync(f)) fromDist.set(bundleBinaryPath(t.name, g), await readFile(f));
      }
    if (fromDist.size === x.targets.length * GOALS.length) {
      const again = makeBundle(fromDist);
      c.equal(
        'bundle-reproducible',
        `${rel(dist, file)} against a bundle made now from dist/<target>/`,
        `sha256 ${sha256Hex(again)}`,
        `sha256 ${sha256Hex(data)}`,
        'the bundle is not what these binaries give: regenerate it',
      );
    }
  },
});
