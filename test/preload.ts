// Loaded into every test file's process before the test (package.json: tap.node-arg).
//
// tap's processinfo puts itself into the NODE_OPTIONS of every process a test starts (a script, npm, Verdaccio), to
// trace them for coverage. Coverage is off here (tap.disable-coverage), and loading it costs each of those processes
// about 0.15 s: `node -e 0` started from a test took 190 ms with it, 50 ms without, and the suite starts thousands.
// So the processes a test starts run without it, as they do outside the tests. process-on-spawn is the hook
// processinfo itself uses (one list of listeners per process, shared by every copy): ours runs after its.
import { createRequire } from 'node:module';

interface SpawnOptions {
  env: NodeJS.ProcessEnv;
}
const processOnSpawn = createRequire(import.meta.url)('process-on-spawn') as {
  addListener(listener: (opts: SpawnOptions) => void): void;
};

/** processinfo's entry in NODE_OPTIONS, quoted or not */
const PROCESSINFO = /\s*"?--(?:import|loader|require)=[^"\s]*@tapjs[/\\]processinfo[^"\s]*"?/g;

export function withoutProcessinfo(nodeOptions: string | undefined): string | undefined {
  const rest = nodeOptions?.replace(PROCESSINFO, '').trim();
  return rest ? rest : undefined;
}

processOnSpawn.addListener((opts) => {
  const nodeOptions = withoutProcessinfo(opts.env.NODE_OPTIONS);
  const env = Object.fromEntries(Object.entries(opts.env).filter(([k]) => !/^_TAPJS_PROCESSINFO_/.test(k)));
  if (nodeOptions === undefined) delete env.NODE_OPTIONS;
  else env.NODE_OPTIONS = nodeOptions;
  opts.env = env;
});
