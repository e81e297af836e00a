// The registry (--published): every package of the set is there at this
// version with the manifest's tarball integrity and binaries, not yanked, and
// under the dist-tag asked for (scripts/lib/verify/published.ts does the reading).
import { log } from '../core/cli.ts';
import { UsageError, type Failure } from '../core/errors.ts';
import { PUBLISHED_CHECKS, verifyPublished } from './published.ts';
import { ageLine } from '../release/release-age.ts';
import type { Target } from '../core/targets.ts';
import { step, type Checks, type VerifyReport } from './context.ts';

type RegistryCheck = (typeof PUBLISHED_CHECKS)[number];

export const registry = step({
  name: 'registry',
  checks: PUBLISHED_CHECKS,
  async run(x, c) {
    if (!x.opts.published) return;
    x.report.published = await checkRegistry(c, {
      dist: x.dist,
      version: x.version,
      targets: x.targets,
      registry: x.opts.registry,
      distTag: x.opts.distTag,
      token: x.opts.token,
    });
  },
});

/** The agoric-sdk gate's registry checks, recorded in `c`; also what verifyRegistryOnly runs. */
export async function checkRegistry(
  c: Checks<RegistryCheck>,
  o: {
    dist: string;
    version: string;
    targets: Target[];
    registry?: string;
    distTag?: string;
    manifestFile?: string;
    token?: string;
  },
): Promise<VerifyReport['published']> {
  const registry = o.registry ?? process.env.npm_config_registry ?? 'https://registry.npmjs.org/';
  log.info(`checking the published packages on ${registry}`);
  try {
    const r = await verifyPublished({
      dist: o.dist,
      version: o.version,
      targets: o.targets,
      registry,
      tag: o.distTag,
      manifestFile: o.manifestFile,
      token: o.token,
    });
    c.add(r.failures, 'published');
    // when a fresh release becomes installable with Yarn's and pnpm's release-age settings
    for (const p of r.packages) if (p.status === 'ok') c.note(ageLine(p.package, o.version, p.publishedAt));
    return r.packages;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const failures = (e as { failures?: Failure[] }).failures;
    if (Array.isArray(failures)) c.add(failures, 'published');
    else
      c.fail({
        check: 'published',
        subject: `the packages on ${registry}`,
        expected: 'readable from the registry',
        actual: (e as Error).message.split('\n')[0],
      });
    return undefined;
  }
}
