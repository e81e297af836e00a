// The embedded registry's server process: `node registry-server.mjs --serve
// <verdaccio module dir> <config file>`. Plain JavaScript, so that it runs on
// the pinned Node 24 that Verdaccio 9 needs, apart from the project's Node.
// Writes "listening <url>" to file descriptor 3 once it answers, on a free
// loopback port; stdout and stderr (Verdaccio's own log) are left to the caller.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { readFileSync, writeSync, closeSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { ServerResponse } from 'node:http';
import { ignoreLateContentLength, writeWholeOneAtATime } from './verdaccio-workarounds.mjs';
import { installNpmRules } from './registry-rules.mjs';

// Verdaccio bugs that break it under load (verdaccio-workarounds.mjs), fixed
// before it is loaded so that its `import * as fsP` sees the wrapper.
// XSNAP_REGISTRY_AS_SHIPPED=1 leaves them in, for bench/registry-races.ts.
if (!process.env.XSNAP_REGISTRY_AS_SHIPPED) {
  writeWholeOneAtATime(createRequire(import.meta.url)('node:fs/promises'), (file) =>
    file.endsWith('/.verdaccio-db.json'),
  );
  syncBuiltinESMExports();
  ignoreLateContentLength(ServerResponse.prototype);
}

const [flag, moduleDir, configFile] = process.argv.slice(2);
if (flag !== '--serve' || !moduleDir || !configFile) {
  process.stderr.write('usage: registry-server.mjs --serve <verdaccio module dir> <config file>\n');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(moduleDir, 'package.json'), 'utf8'));
const entry = typeof pkg.exports?.['.']?.import === 'object' ? pkg.exports['.'].import.default : pkg.main;
const { runServer } = await import(pathToFileURL(join(moduleDir, entry)).href);
const server = await runServer(configFile);
// the registry refuses what npm refuses (registry-rules.mjs)
if (process.env.XSNAP_REGISTRY_RULES) installNpmRules(server, process.env.XSNAP_REGISTRY_RULES);
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  writeSync(3, `listening http://127.0.0.1:${addr.port}/\n`);
  closeSync(3);
});
const quit = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
