// The release folder, dist/release: versions in its names, the manifest,
// SHA256SUMS and nothing else, and a committed manifest for this version.
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSums, sha256Hex } from '../core/hash.ts';
import { MANIFESTS_DIR } from '../core/paths.ts';
import { GOALS } from '../core/targets.ts';
import { handoffProblems } from '../release/handoff.ts';
import { readManifest, renderManifest, type Manifest } from '../core/manifest.ts';
import {
  assetVersion,
  bundleName,
  HANDOFF_NAME,
  manifestName,
  manifestPath,
  packageBinaryPath,
  releaseDir,
  stagedRecordName,
  SUMS_NAME,
  sumsPath,
  tarballName,
} from '../core/layout.ts';
import { unsafePath } from '../core/tarball.ts';
import { noteVerifiedBytes, rel, step, type Checks } from './context.ts';

export const versions = step({
  name: 'versions',
  checks: ['version-tag', 'version-files'],
  async run(x, c) {
    const { opts, version } = x;
    if (opts.tag !== undefined)
      c.equal(
        'version-tag',
        `release tag ${opts.tag}`,
        `v${version}`,
        opts.tag,
        `the pin says ${version}: tag v${version}, or fix native/pin.json`,
      );
    const out = releaseDir(x.dist);
    if (!existsSync(out)) return;
    for (const name of await readdir(out)) {
      const v = assetVersion(name);
      const hint = 'regenerate dist/release with generate-manifest.ts';
      if (v !== undefined) c.equal('version-files', `dist/release/${name}`, version, v, hint);
    }
  },
});

export const manifest = step({
  name: 'manifest',
  checks: [
    'manifest-present',
    'manifest-json',
    'manifest-schema',
    'manifest-canonical',
    'version-manifest',
    'handoff',
    'manifest-targets',
    'manifest-package',
    'manifest-tarball-name',
    'manifest-path',
    'manifest-measured',
  ],
  async run(x, c) {
    const { dist, version } = x;
    const file = manifestPath(dist, version);
    const where = rel(dist, file);
    if (!existsSync(file)) {
      c.fail({
        check: 'manifest-present',
        subject: where,
        expected: 'the release manifest',
        actual: 'missing',
        hint: `npx tsx scripts/generate-manifest.ts --targets ${x.targets.map((t) => t.name).join(',')}`,
      });
      return;
    }
    const read = readManifest(file, { label: where });
    x.manifestText = read.text;
    if (read.text !== undefined) noteVerifiedBytes(x, file, read.text);
    if (read.error !== undefined)
      c.fail({ check: 'manifest-json', subject: where, expected: 'JSON', actual: read.error });
    // one that fails the schema is still checked field by field, so every other difference is reported too
    const m = read.unchecked as Manifest | undefined;
    x.manifest = m;
    if (!m || x.manifestText === undefined) return;
    c.add(read.failures, 'manifest-schema');
    const canonical = 'canonical JSON (sorted keys, 2-space indent, final newline)';
    c.equal(
      'manifest-canonical',
      `${where} bytes`,
      canonical,
      x.manifestText === renderManifest(m) ? canonical : 'some other formatting',
      'regenerate it; never edit it by hand',
    );
    c.equal('version-manifest', `${where} "version"`, version, m.version);
    // the agoric-sdk hand-off (generate-manifest.ts --handoff), if written, is the hand-off of this manifest
    c.add(handoffProblems(dist, x.manifestText, where), 'handoff');
    const want = x.targets
      .map((t) => t.name)
      .sort()
      .join(', ');
    const have = Object.keys(m.targets ?? {})
      .sort()
      .join(', ');
    c.equal(
      'manifest-targets',
      `${where} targets`,
      want,
      have,
      'verify the targets the manifest was made for (--targets), or regenerate it',
    );
    for (const t of x.targets) {
      const e = m.targets?.[t.name];
      if (!e) continue;
      c.equal('manifest-package', `${where} targets.${t.name}.package`, t.packageName, e.package);
      c.equal(
        'manifest-tarball-name',
        `${where} targets.${t.name}.tarball.name`,
        tarballName(t, version),
        e.tarball?.name,
      );
      for (const g of GOALS)
        c.equal('manifest-path', `${where} targets.${t.name}.${g}.path`, packageBinaryPath(g), e[g]?.path);
      checkMeasured(c, `${where} targets.${t.name}`, e, x.opts);
    }
  },
});

/**
 * A target recorded as unmeasured (generate-manifest --allow-unmeasured) is a rehearsal's, never a release's:
 * refused with a release tag, and unless the run rehearses too (--allow-unmeasured).
 */
export function checkMeasured(
  c: Checks<'manifest-measured'>,
  subject: string,
  e: { unmeasured?: string },
  opts: { allowUnmeasured?: boolean; tag?: string },
): void {
  const measured = 'its behaviour measured (fingerprint, determinism)';
  if (e.unmeasured === undefined) c.equal('manifest-measured', subject, measured, measured);
  else if (opts.allowUnmeasured && opts.tag === undefined)
    c.note(`${subject}: ${e.unmeasured} (a rehearsal: --allow-unmeasured)`);
  else
    c.fail({
      check: 'manifest-measured',
      subject,
      expected: measured,
      actual: `unmeasured: ${e.unmeasured}`,
      hint:
        opts.tag !== undefined
          ? 'a release manifest carries every target measured where it runs (the macOS legs of verify.yml)'
          : 'pass --allow-unmeasured to rehearse with it; a release needs it measured where it runs',
    });
}

export const sums = step({
  name: 'sums',
  checks: [
    'sums-present',
    'sums-format',
    'sums-coverage',
    'sums-path',
    'sums-digest',
    'release-asset-type',
    'release-extra-file',
  ],
  async run(x, c) {
    const { dist, version } = x;
    const out = releaseDir(dist);
    const file = sumsPath(dist);
    const shipped = [
      manifestName(version),
      bundleName(version),
      ...x.targets.map((t) => tarballName(t, version)),
    ].sort();
    if (!existsSync(file)) {
      c.fail({
        check: 'sums-present',
        subject: rel(dist, file),
        expected: 'SHA256SUMS',
        actual: 'missing',
        hint: 'npx tsx scripts/generate-manifest.ts',
      });
      return;
    }
    const { entries, bad } = parseSums(await readFile(file, 'utf8'));
    for (const line of bad)
      c.fail({
        check: 'sums-format',
        subject: rel(dist, file),
        expected: '"<64 hex>  <file>" lines, each file once',
        actual: line,
      });
    c.equal(
      'sums-coverage',
      `${rel(dist, file)} file list`,
      shipped.join(', '),
      Object.keys(entries).sort().join(', '),
      'SHA256SUMS must list exactly the shipped files',
    );
    for (const [name, hex] of Object.entries(entries)) {
      const asset = join(out, name);
      if (unsafePath(name) || name.includes('/')) {
        c.fail({
          check: 'sums-path',
          subject: `${rel(dist, file)}: ${name}`,
          expected: 'a bare file name',
          actual: name,
        });
        continue;
      }
      if (!existsSync(asset)) {
        c.fail({
          check: 'sums-digest',
          subject: rel(dist, asset),
          expected: `a file with sha256 ${hex}`,
          actual: 'missing',
        });
        continue;
      }
      c.equal(
        'sums-digest',
        `${rel(dist, asset)} (listed in SHA256SUMS)`,
        hex,
        sha256Hex(await readFile(asset)),
        'the file changed after SHA256SUMS was written',
      );
    }
    if (!existsSync(out)) return;
    for (const name of await readdir(out)) {
      const st = await lstat(join(out, name));
      if (!st.isFile())
        c.fail({
          check: 'release-asset-type',
          subject: `dist/release/${name}`,
          expected: 'a regular file',
          actual: st.isSymbolicLink() ? 'a symlink' : 'not a regular file',
        });
      // the hand-off and the staged record are written after verification, for people: not in SHA256SUMS
      if (name !== SUMS_NAME && name !== HANDOFF_NAME && name !== stagedRecordName(version) && !shipped.includes(name))
        c.fail({
          check: 'release-extra-file',
          subject: `dist/release/${name}`,
          expected: 'only the shipped files in dist/release',
          actual: 'an unlisted file',
          hint: 'remove it, or regenerate dist/release',
        });
    }
  },
});

export const committedManifest = step({
  name: 'committed manifest',
  checks: ['committed-manifest'],
  async run(x, c) {
    const committed = join(x.opts.manifestsDir ?? MANIFESTS_DIR, manifestName(x.version));
    if (!existsSync(committed)) {
      c.note(`no committed manifest ${committed} yet (generate-manifest.ts --save writes it at release)`);
      return;
    }
    if (x.manifestText === undefined) return;
    const text = await readFile(committed, 'utf8');
    const ours = `the bytes of ${rel(x.dist, manifestPath(x.dist, x.version))} (sha256 ${sha256Hex(x.manifestText)})`;
    c.equal(
      'committed-manifest',
      committed,
      ours,
      text === x.manifestText ? ours : `other bytes (sha256 ${sha256Hex(text)})`,
      'a released version never changes: find out which binary differs',
    );
  },
});
