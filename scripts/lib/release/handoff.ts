// The hand-off to agoric-sdk: what its maintainers paste, for one released
// version. agoric-sdk's installer (packages/xsnap/src/install-prebuilt.js)
// trusts our manifest only through the sha256 it pins per version in
// `src/prebuilt-manifest-sha256.js` (`manifestHashes[version]`), and its plan of
// record depends on the platform packages as optionalDependencies at exactly
// the version. Everything here is a pure function of the manifest's bytes, so
// the hand-off can be re-derived and checked (verify-artifacts does).
import { existsSync, readFileSync } from 'node:fs';
import { UsageError, type Failure } from '../core/errors.ts';
import { sha256Hex } from '../core/hash.ts';
import { HANDOFF_NAME, handoffPath, manifestName, manifestPath } from '../core/layout.ts';
import { parseManifest } from '../core/manifest.ts';
import { checkVersion } from '../core/pin.ts';
import { TARGETS } from '../core/targets.ts';
import { YARN_MIN_AGE_MINUTES } from './release-age.ts';

export interface Handoff {
  version: string;
  manifestName: string;
  manifestSha256: string;
  /** the line to add to manifestHashes in agoric-sdk's src/prebuilt-manifest-sha256.js */
  pinLine: string;
  optionalDependencies: Record<string, string>;
  /** the gate, with its exact arguments */
  gate: string;
  distTag: string;
}

/** The hand-off facts of a manifest's bytes. `distTag`: the dist-tag the release was published under. */
export function handoffOf(manifestText: string, opts: { file: string; distTag?: string }): Handoff {
  const parsed = parseManifest(manifestText, opts.file);
  if (parsed.error !== undefined) throw new UsageError(`manifest ${opts.file}: not valid JSON (${parsed.error})`);
  const m = parsed.unchecked;
  const version = checkVersion(m.version, `manifest ${opts.file}`);
  const names = Object.keys(m.targets ?? {});
  if (names.length === 0) throw new UsageError(`manifest ${opts.file} lists no targets`);
  // in the order of the target table, whatever the manifest's key order
  const known = TARGETS.filter((t) => names.includes(t.name));
  const unknown = names.filter((n) => !known.some((t) => t.name === n));
  if (unknown.length) throw new UsageError(`manifest ${opts.file}: unknown target(s) ${unknown.join(', ')}`);
  const optionalDependencies = Object.fromEntries(
    known.map((t) => [t.packageName, version]).sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  const distTag = opts.distTag ?? 'latest';
  const name = manifestName(version);
  const sha = sha256Hex(manifestText);
  const targetsArg = known.length === TARGETS.length ? '' : ` --targets ${known.map((t) => t.name).join(',')}`;
  return {
    version,
    manifestName: name,
    manifestSha256: sha,
    pinLine: `  '${version}': '${sha}',`,
    optionalDependencies,
    gate: `npx tsx scripts/verify-artifacts.ts --published --manifest ${name} --tag v${version} --dist-tag ${distTag}${targetsArg}`,
    distTag,
  };
}

/** The Markdown of the hand-off (also the GitHub Release's notes). */
export function renderHandoff(h: Handoff): string {
  return `# xsnap-worker ${h.version}: hand-off to agoric-sdk

xsnap-worker binaries for \`@agoric/xsnap@${h.version}\`, built from the pinned
sources and published as npm platform packages at exactly ${h.version}. Check them
with \`SHA256SUMS\` and the manifest (docs/manifest.md of xsnap-worker-binaries).

## 1. Pin the manifest

\`${h.manifestName}\` has sha256:

\`\`\`
${h.manifestSha256}
\`\`\`

In agoric-sdk, \`packages/xsnap/src/prebuilt-manifest-sha256.js\`, add this line to
\`manifestHashes\`:

\`\`\`js
${h.pinLine}
\`\`\`

## 2. Depend on the platform packages

In \`packages/xsnap/package.json\`, at exactly this version:

\`\`\`json
${JSON.stringify({ optionalDependencies: h.optionalDependencies }, null, 2)}
\`\`\`

## 3. Gate the publish of @agoric/xsnap@${h.version}

From a checkout of xsnap-worker-binaries at \`v${h.version}\` (\`npm ci\`), with the
manifest downloaded from this release and its sha256 checked against step 1:

\`\`\`sh
${h.gate}
\`\`\`

Exit 0: every package is on the registry with the manifest's bytes and
\`${h.distTag}\` points at ${h.version}; agoric-sdk may publish. Exit 1: do not
publish (the output names the package and what differs).

## Installing a fresh release

Yarn 4 refuses versions younger than ${YARN_MIN_AGE_MINUTES / 60} hours by default
(\`npmMinimalAgeGate: ${YARN_MIN_AGE_MINUTES}\`: "quarantined"), and pnpm may be
configured with \`minimumReleaseAge\`: a just-published set is not installable with
such settings until the window has passed. The gate prints when each package
leaves these windows.
`;
}

/** Read dist/release's manifest and render its hand-off. */
export function handoffFromDist(
  dist: string,
  version: string,
  distTag?: string,
): { file: string; text: string; handoff: Handoff } {
  const file = manifestPath(dist, version);
  if (!existsSync(file))
    throw new UsageError(
      `${file} is missing: run npx tsx scripts/generate-manifest.ts first (the hand-off is derived from the manifest's bytes)`,
    );
  const handoff = handoffOf(readFileSync(file, 'utf8'), { file, distTag });
  return { file: handoffPath(dist), text: renderHandoff(handoff), handoff };
}

/**
 * dist/release/agoric-sdk-handoff.md, if present, must be the hand-off of the
 * manifest next to it (for some dist-tag): re-derived here from the manifest's bytes.
 */
export function handoffProblems(dist: string, manifestText: string, manifestFile: string): Failure[] {
  const file = handoffPath(dist);
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const tag = /--dist-tag (\S+)/.exec(text)?.[1];
  const want = renderHandoff(handoffOf(manifestText, { file: manifestFile, distTag: tag }));
  if (text === want) return [];
  const sha = sha256Hex(manifestText);
  return [
    {
      check: 'handoff',
      subject: `dist/release/${HANDOFF_NAME}`,
      expected: `the hand-off of ${manifestFile} (manifest sha256 ${sha})`,
      actual: text.includes(sha) ? 'other text' : 'another manifest sha256',
      hint: 'regenerate it: npx tsx scripts/generate-manifest.ts --handoff',
    },
  ];
}
