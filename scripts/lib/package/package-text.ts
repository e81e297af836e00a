// The text of the platform packages: package.json, README, LICENSE and the
// third-party notice of each template folder packages/xsnap-<target>/, all
// generated from the target table so the templates cannot drift apart; the
// check that the committed folders are exactly that text, and the notice's
// placeholders filled from build-info when packages are made (packages.ts).
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OperationError, type Failure } from '../core/errors.ts';
import { PACKAGE_TEMPLATES } from '../core/paths.ts';
import { LICENSE_FILES, licensesDir, NOTICE_FILE, NOTICE_TEMPLATE, templateDir } from '../core/layout.ts';
import { REPOSITORY_URL } from '../core/project.ts';
import type { BuildInfo } from '../build/build.ts';
import { floorText, TARGETS, type Target } from '../core/targets.ts';

/**
 * The binary links Moddable XS (LGPL-3.0-or-later, with Apache-2.0 parts from
 * Kinoma/Marvell) and Agoric's xsnap-native (Apache-2.0): both licenses apply.
 */
export const LICENSE_EXPRESSION = 'Apache-2.0 AND LGPL-3.0-or-later';
export const TEMPLATE_VERSION = '0.0.0-template';

const platformLabel = (t: Target) =>
  `${t.os === 'linux' ? 'Linux' : 'macOS'} ${t.cpu === 'x64' ? 'x64' : 'arm64'}${t.libc ? ` (${t.libc})` : ''}`;

// ------------------------------------------------------------------ templates

/** package.json of a platform package, as committed (version is a placeholder stamped at staging). */
export function templatePackageJson(t: Target): Record<string, unknown> {
  return {
    name: t.packageName,
    version: TEMPLATE_VERSION,
    description: `xsnap-worker, the XS JavaScript worker of @agoric/xsnap, prebuilt for ${platformLabel(t)}`,
    license: LICENSE_EXPRESSION,
    repository: { type: 'git', url: `git+${REPOSITORY_URL}.git`, directory: `packages/xsnap-${t.name}` },
    homepage: `${REPOSITORY_URL}#readme`,
    os: [t.os],
    cpu: [t.cpu],
    ...(t.libc ? { libc: [t.libc] } : {}),
    files: ['bin/', 'LICENSE*', NOTICE_FILE],
    publishConfig: { access: 'public' },
  };
}

export function templateReadme(t: Target): string {
  const floor = floorText(t);
  return `# ${t.packageName}

\`xsnap-worker\`, the XS JavaScript worker that \`@agoric/xsnap\` runs vats in,
prebuilt for **${platformLabel(t)}**. Needs ${floor}.

You do not install this package yourself: \`@agoric/xsnap\` lists it as an
optional dependency and npm installs only the package that matches your
platform. Its version is always exactly the \`@agoric/xsnap\` version it belongs to.

## Contents

| path | what |
|---|---|
| \`bin/release/xsnap-worker\` | the optimised worker \`@agoric/xsnap\` runs |
| \`bin/debug/xsnap-worker\` | the same sources built with debugging checks |
| \`THIRD_PARTY_NOTICES.md\` | the exact source revisions the binaries were built from |
| \`LICENSE*\` | license texts |

Both binaries print their version with \`-v\`: \`xsnap X.Y.Z (XS a.b.c)\`.

## Checking a binary against the release manifest

Every release publishes \`xsnap-worker-manifest-X.Y.Z.json\` (and \`SHA256SUMS\`) on
the GitHub release of ${REPOSITORY_URL}. It records the sha256 of each binary:

\`\`\`sh
sha256sum node_modules/${t.packageName}/bin/release/xsnap-worker
jq -r '.targets["${t.name}"].release.sha256' xsnap-worker-manifest-X.Y.Z.json
\`\`\`

The two must be equal. The manifest also records this package's tarball
integrity, the toolchain that built it and a behaviour fingerprint that is the
same on every platform.

## License

${LICENSE_EXPRESSION}. The binary contains Moddable's XS engine
(LGPL-3.0-or-later, with parts under Apache-2.0) and Agoric's xsnap-native
(Apache-2.0). See \`LICENSE\` and \`${NOTICE_FILE}\` for where to get the
corresponding sources.
`;
}

/** Filled at staging from build-info.json: `{{name}}` placeholders only. */
export function templateNotice(t: Target): string {
  return (
    `# Third-party notices for ${t.packageName}@{{version}}

The binaries in this package were built from these exact sources.

| component | license | revision |
|---|---|---|
| Moddable SDK, Agoric's fork (XS engine, \`moddable/xs\`, \`moddable/modules/data\`) | ` +
    `LGPL-3.0-or-later, parts Apache-2.0 | https://github.com/agoric-labs/moddable/tree/{{moddableCommit}} |
| xsnap-native (\`xsnap-native/xsnap\`) | Apache-2.0 | ` +
    `https://github.com/agoric-labs/xsnap-pub/tree/{{xsnapNativeCommit}} |
| @agoric/xsnap {{sourceVersion}} (the source tree as built) | Apache-2.0 | {{sourceKind}} source, ` +
    `integrity {{sourceIntegrity}} |

Digest of the unpacked source tree (sha256 over path, mode, content): \`{{treeDigest}}\`.

Built for ${t.name} with {{compiler}}{{buildRoot}}.

The full corresponding source of the LGPL-licensed parts is available at the
revisions above and inside the \`@agoric/xsnap@{{sourceVersion}}\` npm package.
You may relink or replace them under the terms of the GNU Lesser General Public
License version 3 (\`LICENSE.LGPL-3.0\`, which supplements \`LICENSE.GPL-3.0\`).
`
  );
}

export function templateLicense(): string {
  return `xsnap-worker binaries: license

These binaries combine code under two licenses; both apply (SPDX: ${LICENSE_EXPRESSION}).

- Moddable SDK XS engine (moddable/xs, moddable/modules/data):
  Copyright (c) 2016-2023 Moddable Tech, Inc.
  GNU Lesser General Public License, version 3 or (at your option) any later
  version: see LICENSE.LGPL-3.0 and LICENSE.GPL-3.0.
  It incorporates work Copyright (C) 2010-2016 Marvell International Ltd. and
  Copyright (C) 2002-2010 Kinoma, Inc., under the Apache License 2.0.
- xsnap-native and @agoric/xsnap: Copyright Agoric, Inc.,
  Apache License, Version 2.0: see LICENSE.Apache-2.0.

THIRD_PARTY_NOTICES.md names the exact source revisions of this build.
`;
}

/** Every file of one template folder, as it must be committed (the license texts are in licensesDir, once). */
export function renderTemplate(t: Target): Record<string, string> {
  return {
    'package.json': JSON.stringify(templatePackageJson(t), null, 2) + '\n',
    'README.md': templateReadme(t),
    [NOTICE_TEMPLATE]: templateNotice(t),
  };
}

/** Every file of packages/licenses/: LICENSE (ours, generated) and the full texts in `licenseTexts`. */
export function renderLicenses(licenseTexts: Record<string, string>, root = PACKAGE_TEMPLATES): Record<string, string> {
  const files: Record<string, string> = { LICENSE: templateLicense() };
  for (const name of LICENSE_FILES.filter((n) => n !== 'LICENSE')) {
    const text = licenseTexts[name];
    if (!text) throw new OperationError(`license text ${name} is missing (expected in ${licensesDir(root)})`);
    files[name] = text;
  }
  return files;
}

/** The full license texts, kept once in packages/licenses/. */
export async function readLicenseTexts(root = PACKAGE_TEMPLATES): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of LICENSE_FILES.filter((n) => n !== 'LICENSE')) {
    const file = join(licensesDir(root), name);
    if (existsSync(file)) out[name] = await readFile(file, 'utf8');
  }
  return out;
}

/** Differences between the committed templates and what the target table says they must be. */
export async function templateDrift(root = PACKAGE_TEMPLATES): Promise<Failure[]> {
  const failures: Failure[] = [];
  const folders = [
    { dir: licensesDir(root), want: renderLicenses(await readLicenseTexts(root), root) },
    ...TARGETS.map((t) => ({ dir: templateDir(t, root), want: renderTemplate(t) })),
  ];
  for (const { dir, want } of folders) {
    const have = existsSync(dir) ? (await readdir(dir)).sort() : [];
    for (const name of Object.keys(want).sort()) {
      const file = join(dir, name);
      const actual = existsSync(file) ? await readFile(file, 'utf8') : null;
      if (actual !== want[name]) {
        failures.push({
          check: 'package-template',
          subject: file,
          expected: 'the content generated from the target table',
          actual: actual === null ? 'missing' : 'different content',
          hint: 'run npx tsx scripts/stage-packages.ts --update-templates',
        });
      }
    }
    for (const extra of have.filter((n) => !(n in want))) {
      failures.push({
        check: 'package-template',
        subject: join(dir, extra),
        expected: 'no such file',
        actual: 'present',
        hint: 'remove it or add it to scripts/lib/package/package-text.ts',
      });
    }
  }
  return failures;
}

/** Write packages/xsnap-<target>/ for every target from the target table, and packages/licenses/LICENSE. */
export async function writeTemplates(root = PACKAGE_TEMPLATES): Promise<string[]> {
  const folders = [
    { dir: licensesDir(root), files: renderLicenses(await readLicenseTexts(root), root) },
    ...TARGETS.map((t) => ({ dir: templateDir(t, root), files: renderTemplate(t) })),
  ];
  const written: string[] = [];
  for (const { dir, files } of folders) {
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(dir, name), text);
      written.push(join(dir, name));
    }
  }
  return written;
}

// ------------------------------------------------------------------ at staging

/** templateNotice's text with its {{placeholders}} filled from one build's build-info.json. */
export function fillNotice(template: string, version: string, info: BuildInfo): string {
  const s = info.source;
  const values: Record<string, string> = {
    version,
    moddableCommit: s.moddableCommit,
    xsnapNativeCommit: s.xsnapNativeCommit,
    sourceVersion: s.version,
    sourceKind: s.kind,
    sourceIntegrity: Object.entries(s.integrity)
      .map(([k, v]) => `${k} ${v}`)
      .join('; '),
    treeDigest: s.treeDigest,
    compiler: info.toolchain.compiler,
    buildRoot: info.toolchain.buildRootId
      ? ` in the Debian ${info.toolchain.suite ?? ''} build root ${info.toolchain.buildRootId}`
      : '',
  };
  return template.replace(/\{\{(\w+)\}\}/g, (m, k: string) => {
    if (!(k in values)) throw new OperationError(`${NOTICE_TEMPLATE}: unknown placeholder ${m}`);
    return values[k];
  });
}
