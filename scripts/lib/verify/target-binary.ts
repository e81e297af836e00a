// Each target's build output, dist/<target>: its record (build-info.json) and
// its binaries, against that record and the manifest; their headers (ELF or
// Mach-O, glibc or macOS floor, libm imports, no fused multiply-add) and, where
// this host can run them, the version they report.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { canonicalJson, sha256Hex } from '../core/hash.ts';
import { readBuildInfo } from '../build/build.ts';
import { BINARY_CHECKS, checkBinary } from '../build/binary-checks.ts';
import { binaryPath } from '../core/layout.ts';
import { GOALS, type Goal, type Target } from '../core/targets.ts';
import { rel, step, type Checks, type VerifyContext } from './context.ts';

const CHECKS = [
  'build-output',
  'version-build',
  'releasable',
  'build-output-digest',
  'binary-digest',
  'binary-size',
  'binary-header',
  ...BINARY_CHECKS,
  'manifest-source',
  'manifest-math',
] as const;

export const targetBinaries = step({
  name: 'target binaries',
  checks: CHECKS,
  async run(x, c) {
    await Promise.all(x.targets.map((t) => checkTarget(t, x, c)));
  },
});

async function checkTarget(t: Target, x: VerifyContext, c: Checks<(typeof CHECKS)[number]>): Promise<void> {
  const { dist, version } = x;
  const entry = x.manifest?.targets?.[t.name];
  const read: Partial<Record<Goal, Buffer>> = {};
  x.distBinaries.set(t.name, read);
  try {
    const info = await readBuildInfo(dist, t.name);
    c.equal(
      'version-build',
      `dist/${t.name}/build-info.json version`,
      version,
      info.version,
      `rebuild: npx tsx scripts/build-target.ts --target ${t.name}`,
    );
    c.equal(
      'releasable',
      `dist/${t.name}/build-info.json releasable`,
      true,
      info.releasable,
      `a host-toolchain or local-folder build never ships: npx tsx scripts/build-target.ts --target ${t.name}`,
    );
    for (const g of GOALS) {
      const file = binaryPath(dist, t.name, g);
      if (!existsSync(file)) {
        c.fail({
          check: 'binary-present',
          subject: rel(dist, file),
          expected: 'a file',
          actual: 'missing',
          hint: `npx tsx scripts/build-target.ts --target ${t.name}`,
        });
        continue;
      }
      const data = await readFile(file);
      read[g] = data;
      const sha = sha256Hex(data);
      c.equal(
        'build-output-digest',
        `${rel(dist, file)} against build-info.json`,
        info.binaries[g]?.sha256,
        sha,
        'the build output changed after it was built: rebuild',
      );
      if (entry) {
        const where = `${rel(dist, file)} against the manifest (targets.${t.name}.${g}.sha256)`;
        c.equal('binary-digest', where, entry[g]?.sha256, sha);
        c.equal('binary-size', `${rel(dist, file)} size against the manifest`, entry[g]?.size, data.length);
      }
      const r = await checkBinary(file, t, `${t.name} ${g}`, {
        version,
        runner: x.runners.get(t.name) ?? null,
        math: claimedProfile(x, t),
      });
      c.add(
        r.failures.map((f) => ({ ...f, subject: f.subject.replace(dist + '/', 'dist/') })),
        'binary-header',
      );
    }
    if (entry && x.manifest) {
      c.equal(
        'manifest-source',
        `targets.${t.name}: source of dist/${t.name}/build-info.json`,
        canonicalJson(x.manifest.source, 0),
        canonicalJson(info.source, 0),
        "every target must be built from the manifest's source",
      );
      // the profile decides which determinism differences fail: the manifest's must be the build's
      c.equal(
        'manifest-math',
        `targets.${t.name}.math against dist/${t.name}/build-info.json math`,
        canonicalJson(info.math, 0),
        canonicalJson(entry.math, 0),
        'the manifest must record the math profile the binaries were built with: regenerate it',
      );
    }
  } catch (e) {
    c.fail({
      check: 'build-output',
      subject: `dist/${t.name}`,
      expected: 'build-info.json and binaries',
      actual: (e as Error).message.split('\n')[0],
      hint: `npx tsx scripts/build-target.ts --target ${t.name}`,
    });
  }
}

/** The math profile the binaries are said to have (the manifest's), which checkBinary reads from their bytes. */
export const claimedProfile = (x: VerifyContext, t: Target) => x.manifest?.targets?.[t.name]?.math?.profile;
