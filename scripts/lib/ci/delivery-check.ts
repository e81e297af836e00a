// The whole delivery check (check-delivery.ts): the published set installed by
// each package manager for each platform and checked (delivery.ts), then the
// determinism corpus once on this host's installed release binary
// (delivery-run.ts), and the table that reports it.
import { join } from 'node:path';
import { hostRunner } from '../build/binary-checks.ts';
import { log, timed } from '../core/cli.ts';
import {
  checkOutcome,
  hostPlatform,
  installSet,
  platformLabel,
  targetFor,
  type InstallOutcome,
  type PackageManager,
  type Platform,
} from './delivery.ts';
import { checkDeterminismAgainst } from './delivery-run.ts';
import { releasedCorpus } from '../behaviour/released-corpus.ts';
import { CheckFailed, formatFailure, type Failure } from '../core/errors.ts';
import { packageBinaryPath } from '../core/layout.ts';
import type { UncheckedManifest } from '../core/manifest.ts';
import type { Target } from '../core/targets.ts';

/** The manifest as the delivery check reads it: not refused on the schema, the checks name what differs. */
export type DeliveryManifest = UncheckedManifest & { version: string };

export interface DeliveryRequest {
  registry: string;
  version: string;
  manifest: DeliveryManifest;
  manifestFile: string;
  /** the targets of the set (those the manifest lists) */
  among: Target[];
  pms: PackageManager[];
  /** 'host': this machine, no override */
  platforms: Array<Platform | 'host'>;
  /** npm: make the lockfile for this platform first, then `npm ci` from it */
  lockPlatform?: Platform;
  /** where each install goes, as <root>/<pm>-<platform> */
  root: string;
  yarnDefaultAgeGate: boolean;
  pnpmMinimumReleaseAge?: number;
  determinism: boolean;
  /** the corpus the manifest was measured with (--corpus); else found by its digest (releasedCorpus) */
  corpusFile?: string;
  /** where the committed manifests (and the corpora kept with them) are */
  manifestsDir?: string;
}

export interface DeliveryRow {
  pm: string;
  platform: string;
  installed: string[];
  ok: boolean;
  failures: Failure[];
}

export interface DeliveryDeterminism {
  target: string;
  results: number;
  seconds: number;
  reports: string[];
}

export interface DeliveryResult {
  rows: DeliveryRow[];
  failures: Failure[];
  determinism?: DeliveryDeterminism;
}

export async function checkDelivery(req: DeliveryRequest): Promise<DeliveryResult> {
  const { registry, version, manifest, root } = req;
  const packages = req.among.map((t) => t.packageName);
  const failures: Failure[] = [];
  const rows: DeliveryRow[] = [];
  const hostOutcomes: InstallOutcome[] = [];
  let lockfile: string | undefined;
  const lockPlatform = req.lockPlatform;
  if (lockPlatform && req.pms.includes('npm')) {
    const dir = join(root, `npm-lock-${platformLabel(lockPlatform)}`);
    const o = await timed(`npm: the lockfile, made for ${platformLabel(lockPlatform)}`, () =>
      installSet({ pm: 'npm', registry, version, packages, platform: lockPlatform, dir }),
    );
    const f = await checkOutcome(o, manifest, lockPlatform);
    failures.push(...f);
    rows.push({ pm: 'npm (lockfile)', platform: o.platform, installed: o.installed, ok: f.length === 0, failures: f });
    lockfile = join(dir, 'package-lock.json');
  }
  for (const pm of req.pms) {
    for (const p of req.platforms) {
      const platform = p === 'host' ? undefined : p;
      const label = platformLabel(platform ?? hostPlatform());
      const how = `${pm}${pm === 'npm' && lockfile ? ' ci (from the lockfile)' : ''}`;
      const o = await timed(`${how}: install ${version} for ${label}${platform ? '' : ' (this host)'}`, () =>
        installSet({
          pm,
          registry,
          version,
          packages,
          platform,
          dir: join(root, `${pm}-${label}`),
          lockfile: pm === 'npm' ? lockfile : undefined,
          yarnDefaultAgeGate: req.yarnDefaultAgeGate,
          pnpmMinimumReleaseAge: req.pnpmMinimumReleaseAge,
        }),
      );
      const f = await checkOutcome(o, manifest, platform ?? hostPlatform());
      failures.push(...f);
      rows.push({ pm, platform: o.platform, installed: o.installed, ok: f.length === 0, failures: f });
      if (f.length === 0) log.ok(`${pm} for ${o.platform}: ${o.installed.join(', ') || 'nothing (as it should)'}`);
      else f.forEach((x) => log.error(formatFailure(x)));
      if (!platform && o.code === 0) hostOutcomes.push(o);
    }
  }
  const determinism = req.determinism ? await deliveredDeterminism(req, hostOutcomes, failures) : undefined;
  return { rows, failures, determinism };
}

/** The corpus once on this host's installed release binary: every package manager installed the same bytes. */
async function deliveredDeterminism(
  req: DeliveryRequest,
  hostOutcomes: InstallOutcome[],
  failures: Failure[],
): Promise<DeliveryDeterminism | undefined> {
  const target = targetFor(hostPlatform(), req.among);
  const o = hostOutcomes.find((x) => target && x.paths[target.packageName]);
  if (!target || !o) {
    failures.push({
      check: 'delivery-determinism',
      subject: `this host (${platformLabel(hostPlatform())})`,
      expected: 'an installed package of the set for this host (--platforms host)',
      actual: 'none',
    });
    return undefined;
  }
  const want = req.manifest.targets?.[target.name]?.determinism;
  if (!want) {
    failures.push({
      check: 'delivery-determinism',
      subject: `${req.manifestFile} targets.${target.name}.determinism`,
      expected: 'the digests measured at release',
      actual: 'absent',
    });
    return undefined;
  }
  // every package manager installed the same bytes (sha256 checked above): the corpus runs once
  const bin = join(o.paths[target.packageName], packageBinaryPath('release'));
  const profile = req.manifest.targets?.[target.name]?.math?.profile ?? 'system';
  const label = `${target.name} installed by ${o.pm}`;
  // the corpus the release was measured with, not today's: its digest is the manifest's
  let corpus: Awaited<ReturnType<typeof releasedCorpus>>;
  try {
    corpus = await releasedCorpus(want.corpusDigest, {
      file: req.corpusFile,
      manifestsDir: req.manifestsDir,
      scratch: req.root,
    });
  } catch (e) {
    if (!(e instanceof CheckFailed)) throw e;
    failures.push(...e.failures);
    return undefined;
  }
  log.info(`determinism corpus ${corpus.corpus.digest.slice(0, 12)} (the manifest's), from ${corpus.from}`);
  const r = await timed(`determinism corpus on the ${o.pm}-installed ${target.packageName}`, async () =>
    checkDeterminismAgainst(bin, (await hostRunner(target)) ?? [], want, profile, label, target.name, corpus),
  );
  failures.push(...r.failures);
  r.reports.forEach((l) => log.warn(l));
  if (!r.failures.length) log.ok(`${r.results} results: every gated family equals the manifest's digest and meter`);
  return { target: target.name, results: r.results, seconds: r.seconds, reports: r.reports };
}

/** One row per install: package manager, platform, what it installed, and the checks that failed. */
export function deliveryTable(rows: DeliveryRow[]): string {
  return [
    '| package manager | platform | installed | result |',
    '|---|---|---|---|',
    ...rows.map((r) => {
      const result = r.ok ? 'ok' : r.failures.map((f) => f.check).join(', ');
      return `| ${r.pm} | ${r.platform} | ${r.installed.join(', ') || '(none)'} | ${result} |`;
    }),
  ].join('\n');
}
