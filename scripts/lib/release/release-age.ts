// Release-age windows of package managers: Yarn 4 (4.18 measured here) refuses
// versions younger than `npmMinimalAgeGate` minutes, 1440 by default
// ("quarantined"); pnpm refuses versions younger than `minimumReleaseAge`
// minutes where it is set. So a just-released set is not installable with such
// settings for a while: the gate says until when, per package, from the
// registry's own `time` record.

/** Yarn 4's default npmMinimalAgeGate, in minutes (measured with Yarn 4.18). */
export const YARN_MIN_AGE_MINUTES = 1440;

export interface AgeWindow {
  /** who applies it, e.g. "Yarn npmMinimalAgeGate (default)" */
  name: string;
  minutes: number;
}

/** The windows the gate reports: Yarn's default and a pnpm minimumReleaseAge of the same length (pnpm's is opt-in). */
export const AGE_WINDOWS: readonly AgeWindow[] = [
  { name: `Yarn npmMinimalAgeGate (default ${YARN_MIN_AGE_MINUTES})`, minutes: YARN_MIN_AGE_MINUTES },
  // pnpm 10's minimumReleaseAge is off by default (0): shown for a team that sets it to a day
  { name: `pnpm minimumReleaseAge (off by default; if set to ${YARN_MIN_AGE_MINUTES})`, minutes: YARN_MIN_AGE_MINUTES },
];

export interface AgeReport {
  window: string;
  /** ISO time the version leaves the window */
  from: string;
  /** already out of the window at `now` */
  open: boolean;
}

/** When a version published at `publishedAt` (ISO) leaves each window. */
export function ageWindows(
  publishedAt: string,
  now = new Date(),
  windows: readonly AgeWindow[] = AGE_WINDOWS,
): AgeReport[] {
  const t = Date.parse(publishedAt);
  if (Number.isNaN(t)) return [];
  return windows.map((w) => {
    const from = new Date(t + w.minutes * 60_000);
    return { window: w.name, from: from.toISOString(), open: from.getTime() <= now.getTime() };
  });
}

/** One line per package for the gate's output. */
export function ageLine(pkg: string, version: string, publishedAt: string | undefined, now = new Date()): string {
  if (!publishedAt) return `${pkg}@${version}: the registry gives no publish time; release-age windows unknown`;
  const ws = ageWindows(publishedAt, now);
  const parts = ws.map((w) => `${w.window}: ${w.open ? `installable since ${w.from}` : `installable from ${w.from}`}`);
  return `${pkg}@${version} published ${new Date(Date.parse(publishedAt)).toISOString()}; ${parts.join('; ')}`;
}
