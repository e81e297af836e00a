// How the release binaries behave: the behaviour fingerprint and the
// determinism corpus, run here on every binary this host can run and compared
// with the manifest, across targets, and (linux-x64) at the glibc floor.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { log } from '../core/cli.ts';
import { canonicalJson } from '../core/hash.ts';
import { glibcFloorRunner } from '../build/binary-checks.ts';
import { readElf } from '../build/elf.ts';
import { compareFingerprints, FINGERPRINT_COMPARE_CHECKS } from '../behaviour/fingerprint.ts';
import {
  commonProfile,
  compareAcrossTargets,
  diffDeterminism,
  differencesToFailures,
  RELEASE_MIN_RESULTS,
  runDeterminism,
  totalResults,
  type DeterminismRecord,
  type DeterminismRun,
  type Measured,
} from '../behaviour/determinism.ts';
import { binaryPath } from '../core/layout.ts';
import type { Fingerprint } from '../core/manifest.ts';
import { measureFingerprint } from '../behaviour/measure.ts';
import { rel, step, type DeterminismReport, type VerifyContext, type VerifyReport } from './context.ts';

/** How to run each target's corpora here: none with --skip-fingerprint (the manifest's values are compared). */
const corpusRunners = (x: VerifyContext) => (x.opts.skipFingerprint ? new Map<string, string[] | null>() : x.runners);

const under = (runner: string[]) => (runner.length ? ` under ${runner[0].split('/').pop()}` : '');

export const fingerprints = step({
  name: 'fingerprints',
  checks: ['fingerprint', 'fingerprint-restore', 'fingerprint-across-targets', ...FINGERPRINT_COMPARE_CHECKS],
  async run(x, c) {
    const { dist } = x;
    const out: NonNullable<VerifyReport['fingerprints']> = {};
    const all: Record<string, Fingerprint> = {};
    const runners = corpusRunners(x);
    // every target's corpus at once (they share the processors: slots.ts), compared below in the targets' order
    const started = new Map(
      x.targets.map((t) => {
        const runner = runners.get(t.name);
        const bin = binaryPath(dist, t.name, 'release');
        if (!runner || !existsSync(bin)) return [t.name, null] as const;
        log.info(`${t.name}: running the fingerprint corpus${under(runner)}`);
        return [t.name, measureFingerprint(bin, runner, `${t.name} release binary (${rel(dist, bin)})`)] as const;
      }),
    );
    for (const t of x.targets) {
      const recorded = x.manifest?.targets?.[t.name]?.fingerprint;
      const pending = started.get(t.name);
      if (pending) {
        const m = await pending;
        c.add(m.failures, 'fingerprint');
        if (!m.fingerprint) continue;
        all[t.name] = m.fingerprint;
        out[t.name] = { digest: m.fingerprint.digest, measuredHere: true };
        if (!recorded) continue;
        c.equal(
          'fingerprint',
          `${t.name}: fingerprint measured here against the manifest (targets.${t.name}.fingerprint.digest)`,
          recorded.digest,
          m.fingerprint.digest,
          'this binary behaves differently from what the manifest recorded',
        );
        for (const [w, rec] of Object.entries(recorded.workloads ?? {})) {
          const now = m.fingerprint.workloads[w];
          if (!now || canonicalJson(now, 0) !== canonicalJson(rec, 0))
            c.fail({
              check: 'fingerprint',
              subject: `${t.name}: workload ${w}`,
              expected: canonicalJson(rec, 0),
              actual: now ? canonicalJson(now, 0) : 'not run',
            });
        }
      } else if (recorded) {
        all[t.name] = recorded;
        out[t.name] = { digest: recorded.digest, measuredHere: false };
        if (!x.opts.skipFingerprint)
          c.note(`${t.name} cannot run here: its fingerprint is compared through the manifest`);
      }
    }
    if (Object.keys(all).length > 1) c.add(compareFingerprints(all), 'fingerprint-across-targets');
    if (x.opts.skipFingerprint)
      c.note('fingerprint corpus not run here (--skip-fingerprint): manifest values compared across targets only');
    x.report.fingerprints = out;
  },
});

/**
 * Run the determinism corpus on every release binary this host can run (the
 * manifest's seed and size), compare each with the manifest and all targets
 * with each other; for linux-x64 also at the glibc floor (the build root's
 * glibc) against this host's glibc. Under the "system" profile, libm families
 * that differ are reported as host-dependent; every other difference fails.
 */
export const determinism = step({
  name: 'determinism',
  checks: [
    'math-profile',
    'determinism',
    'determinism-size',
    'determinism-host-independence',
    'determinism-across-targets',
  ],
  async run(x, c) {
    const { dist } = x;
    const recordedProfiles = Object.fromEntries(
      x.targets.flatMap((t) => {
        const p = x.manifest?.targets?.[t.name]?.math?.profile;
        return p ? [[t.name, p]] : [];
      }),
    );
    const common = commonProfile(recordedProfiles, "the manifest's targets.<target>.math.profile");
    if ('failure' in common) {
      c.add([common.failure], 'math-profile');
      return;
    }
    const profile = common.profile;
    const report: DeterminismReport = { profile, targets: {}, hostIndependence: null, reported: [] };
    const measured: Measured[] = [];
    const record = (
      diffs: ReturnType<typeof diffDeterminism>,
      a: string,
      b: string,
      check: 'determinism' | 'determinism-host-independence',
    ) => {
      const r = differencesToFailures(diffs, a, b, check);
      c.add(r.failures, check);
      report.reported.push(...r.reports);
    };
    const runners = corpusRunners(x);
    // every run at once (each target here, and linux-x64 at the glibc floor too): they share the processors
    // (slots.ts) instead of waiting for each other; compared below in the targets' order, as one after the other
    const started = new Map(
      x.targets.map((t) => {
        const runner = runners.get(t.name);
        const bin = binaryPath(dist, t.name, 'release');
        if (!runner || !existsSync(bin)) return [t.name, null] as const;
        const recorded: DeterminismRecord | undefined = x.manifest?.targets?.[t.name]?.determinism;
        const size = recorded ? { seed: recorded.seed, perFamily: recorded.perFamily } : {};
        log.info(`${t.name}: running the determinism corpus${under(runner)}`);
        const here = runDeterminism(bin, runner, size);
        const atFloor = (async (): Promise<{ note: string } | { low: Promise<DeterminismRun> } | null> => {
          if (!(t.floor?.kind === 'glibc' && t.floor.determinismAtFloor && runner.length === 0)) return null;
          const floor = await glibcFloorRunner();
          if (!floor)
            return {
              note: 'determinism at the glibc floor not checked: no build root here (build-target.ts makes it)',
            };
          if (!readElf(await readFile(bin)).interpreter)
            return {
              note:
                `determinism at the glibc floor not checked: ${rel(dist, bin)} is statically linked ` +
                '(no glibc to vary)',
            };
          log.info(`${t.name}: running the determinism corpus at the glibc floor (the build root's glibc)`);
          return { low: runDeterminism(bin, floor, size) };
        })();
        here.catch(() => {}); // awaited below, in order
        atFloor.then(
          (f) => {
            if (f && 'low' in f) f.low.catch(() => {});
          },
          () => {},
        );
        return [t.name, { bin, here, atFloor }] as const;
      }),
    );
    for (const t of x.targets) {
      const recorded: DeterminismRecord | undefined = x.manifest?.targets?.[t.name]?.determinism;
      // a release (a tag) carries the full corpus; a smaller one (XSNAP_DETERMINISM_SIZE) is for tests and PRs
      if (recorded && x.opts.tag !== undefined)
        c.equal(
          'determinism-size',
          `targets.${t.name}.determinism of the manifest for ${x.opts.tag}`,
          `at least ${RELEASE_MIN_RESULTS} results`,
          totalResults(recorded) >= RELEASE_MIN_RESULTS
            ? `at least ${RELEASE_MIN_RESULTS} results`
            : `${totalResults(recorded)} results`,
          'a release manifest is made with the release size: generate-manifest.ts without XSNAP_DETERMINISM_SIZE',
        );
      const pending = started.get(t.name);
      if (pending) {
        const { bin } = pending;
        try {
          const run = await pending.here;
          const here: Measured = { label: `${t.name} (here)`, target: t.name, record: run.record, raw: run.raw };
          measured.push({ ...here, label: t.name });
          report.targets[t.name] = {
            results: totalResults(run.record),
            seconds: Math.round(run.seconds * 10) / 10,
            measuredHere: true,
            timeZoneDependent: run.record.timeZoneDependent,
          };
          if (recorded)
            record(
              diffDeterminism({ label: `${t.name} (manifest)`, target: t.name, record: recorded }, here, profile),
              `${t.name} (manifest)`,
              `${t.name} (here)`,
              'determinism',
            );
          else c.ran('determinism');
          const floor = await pending.atFloor;
          if (floor && 'note' in floor) c.note(floor.note);
          else if (floor) {
            const low = await floor.low;
            const diffs = diffDeterminism(
              { label: `${t.name} (host glibc)`, target: t.name, record: run.record, raw: run.raw },
              { label: `${t.name} (glibc floor)`, target: t.name, record: low.record, raw: low.raw },
              profile,
            );
            record(diffs, `${t.name} (host glibc)`, `${t.name} (glibc floor)`, 'determinism-host-independence');
            report.hostIndependence = {
              results: totalResults(low.record),
              differingFamilies: diffs.map((d) => d.family),
            };
          }
        } catch (e) {
          c.fail({
            check: 'determinism',
            subject: `${t.name} release binary (${rel(dist, bin)})`,
            expected: 'the determinism corpus runs to completion',
            actual: (e as Error).message.split('\n')[0],
          });
        }
      } else if (recorded) {
        measured.push({ label: t.name, target: t.name, record: recorded });
        report.targets[t.name] = {
          results: totalResults(recorded),
          measuredHere: false,
          timeZoneDependent: recorded.timeZoneDependent,
        };
      } else if (x.manifest && x.manifest.targets?.[t.name]?.unmeasured === undefined) {
        // (an unmeasured target is the manifest step's failure, or a rehearsal's note)
        c.fail({
          check: 'determinism',
          subject: `${t.name}: the manifest (targets.${t.name}.determinism)`,
          expected: 'determinism digests',
          actual: 'none',
          hint: 'regenerate the manifest: npx tsx scripts/generate-manifest.ts',
        });
      }
    }
    const across = compareAcrossTargets(measured, profile);
    measured.slice(1).forEach(() => c.ran('determinism-across-targets')); // one comparison per target after the first
    c.add(across.failures);
    report.reported.push(...across.reports);
    if (Object.values(report.targets).some((t) => t.timeZoneDependent))
      c.note(
        "the worker depends on the host's time zone: Date's local-time methods give other results " +
          'under another TZ (agoric-sdk runs workers with TZ fixed)',
      );
    report.reported.forEach((r) => c.note(r));
    x.report.determinism = report;
  },
});
