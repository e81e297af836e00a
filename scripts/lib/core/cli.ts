// What every script shares: flag parsing with --help, --json and NO_COLOR,
// progress on stderr, exit codes from errors.ts, secret redaction, and the
// Markdown summary for $GITHUB_STEP_SUMMARY.
import { appendFileSync } from 'node:fs';
import minimist from 'minimist';
import { Chalk } from 'chalk';
import { UsageError, CheckFailed, exitCodeOf, formatFailure } from './errors.ts';

export interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  description: string;
  /** shown in --help; the value itself is applied by the command */
  default?: string | boolean;
  valueName?: string;
}

export interface CommandSpec {
  /** e.g. `build-target.ts` */
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec[];
  /**
   * a script with subcommands (`publish-all.ts stage`): the first argument
   * names one; parseFlags puts it in flags.command and its operand, if it
   * takes one, in flags.operand. An option a subcommand does not list is a
   * usage error.
   */
  commands?: SubcommandSpec[];
  /** flags that are gone, each with what replaces it: a usage error that says so */
  retired?: Record<string, string>;
  /** extra paragraphs for --help (environment variables, exit codes, examples) */
  details?: string;
}

export interface SubcommandSpec {
  name: string;
  summary: string;
  /** the name of the one operand it takes (`reject <stage-id>`), if any */
  operand?: string;
  /** the names of the options it takes (--json and --help go everywhere) */
  options: string[];
}

export type Flags = Record<string, string | boolean | undefined>;

export interface Result {
  /** what --json prints on stdout */
  json: unknown;
  /** Markdown written to $GITHUB_STEP_SUMMARY when set */
  summary?: string;
  /** human-readable closing lines on stdout when not --json */
  text?: string;
  exitCode?: number;
}

/** --pin, read by pinPath() in pin.ts: the same flag in every script. */
export const PIN_OPTION: OptionSpec = {
  name: 'pin',
  type: 'string',
  valueName: 'file',
  description: 'source pin giving the version X.Y.Z',
  default: 'native/pin.json or $XSNAP_PIN',
};

/** --dist, read by distDir() in paths.ts; `what` says what the script finds or writes there. */
export const distOption = (what: string): OptionSpec => ({
  name: 'dist',
  type: 'string',
  valueName: 'dir',
  description: what,
  default: 'dist or $XSNAP_DIST_DIR',
});

const COMMON_OPTIONS: OptionSpec[] = [
  {
    name: 'json',
    type: 'boolean',
    description: 'print a machine-readable result on stdout (progress stays on stderr)',
  },
  { name: 'help', type: 'boolean', description: 'show this help' },
];

// ---------------------------------------------------------------- secrets

const secrets = new Set<string>();

/** Never print this value: every log line and error message passes through redact(). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

// ---------------------------------------------------------------- logging

const useColor = !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb' && Boolean(process.stderr.isTTY);
export const color = new Chalk({ level: useColor ? 1 : 0 });

export interface Log {
  step(msg: string): void;
  info(msg: string): void;
  ok(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

function write(line: string): void {
  process.stderr.write(redact(line) + '\n');
}

export const log: Log = {
  step: (m) => write(color.bold.cyan('==> ') + color.bold(m)),
  info: (m) => write('    ' + m),
  ok: (m) => write(color.green('  ✓ ') + m),
  warn: (m) => write(color.yellow('  ! ') + m),
  error: (m) => write(color.red('  ✗ ') + m),
};

/** Time a long step, printing its start and its duration. */
export async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  log.step(label);
  const t0 = performance.now();
  const value = await fn();
  log.info(color.dim(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`));
  return value;
}

// ---------------------------------------------------------------- flags

export function helpText(spec: CommandSpec): string {
  const all = [...spec.options, ...COMMON_OPTIONS];
  const lines = all.map((o) => {
    const left = o.type === 'string' ? `--${o.name} <${o.valueName ?? 'value'}>` : `--${o.name}`;
    const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : '';
    return `  ${left.padEnd(30)} ${o.description}${def}`;
  });
  const commands = (spec.commands ?? []).map((c) => {
    const left = c.operand ? `${c.name} <${c.operand}>` : c.name;
    const takes = c.options.length ? ` (${c.options.map((o) => `--${o}`).join(', ')})` : '';
    return `  ${left.padEnd(30)} ${c.summary}${takes}`;
  });
  return [
    `${spec.name}: ${spec.summary}`,
    '',
    `Usage: ${spec.usage}`,
    '',
    ...(commands.length ? ['Commands:', ...commands, ''] : []),
    'Options:',
    ...lines,
    '',
    spec.details?.trim() ?? '',
    '',
    'Exit codes: 0 success, 1 a check or operation failed, 2 usage error.',
    'Environment: NO_COLOR disables colour; GITHUB_STEP_SUMMARY receives a Markdown summary.',
  ].join('\n');
}

export function parseFlags(spec: CommandSpec, argv: string[]): Flags {
  const all = [...spec.options, ...COMMON_OPTIONS];
  const strings = all.filter((o) => o.type === 'string').map((o) => o.name);
  // minimist reads --no-x as x=false, so a "no-x" option is declared as x (default true)
  const booleans = all.filter((o) => o.type === 'boolean').map((o) => o.name.replace(/^no-/, ''));
  const negated = Object.fromEntries(
    all.filter((o) => o.type === 'boolean' && o.name.startsWith('no-')).map((o) => [o.name.slice(3), true]),
  );
  const unknown: string[] = [];
  const positional: string[] = [];
  const parsed = minimist(argv, {
    string: strings,
    boolean: booleans,
    default: negated,
    unknown: (arg) => {
      const retired = spec.retired?.[arg.replace(/=.*$/, '')];
      if (retired) throw new UsageError(`${arg.replace(/=.*$/, '')} is gone: ${retired}`);
      if (spec.commands && !arg.startsWith('-')) positional.push(arg);
      else unknown.push(arg);
      return false;
    },
  });
  if (unknown.length) {
    throw new UsageError(`unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.join(' ')} (see --help)`);
  }
  const flags: Flags = {};
  if (spec.commands && !parsed.help) Object.assign(flags, parseSubcommand(spec, spec.commands, positional, parsed));
  for (const o of all) {
    const v = parsed[o.name];
    if (o.type === 'string') {
      if (Array.isArray(v)) throw new UsageError(`--${o.name} given more than once`);
      // an empty value never means "the default": `--registry=` would otherwise be the public registry
      if (v === '') throw new UsageError(`--${o.name} needs a value (an empty one is not its default)`);
      flags[o.name] = v as string | undefined;
    } else if (o.name.startsWith('no-')) {
      flags[o.name] = parsed[o.name.slice(3)] === false;
    } else {
      flags[o.name] = Boolean(v);
    }
  }
  return flags;
}

/** The subcommand and its operand; an option it does not take is a usage error. */
function parseSubcommand(
  spec: CommandSpec,
  commands: SubcommandSpec[],
  positional: string[],
  parsed: minimist.ParsedArgs,
): Flags {
  const names = commands.map((c) => (c.operand ? `${c.name} <${c.operand}>` : c.name)).join(', ');
  const [name, ...rest] = positional;
  const command = commands.find((c) => c.name === name);
  if (!command)
    throw new UsageError(
      name === undefined ? `say what to do: ${spec.name} ${names}` : `unknown command "${name}": one of ${names}`,
    );
  const operands = command.operand ? 1 : 0;
  if (rest.length !== operands) {
    throw new UsageError(
      command.operand && !rest.length
        ? `${command.name} needs its <${command.operand}>`
        : `unknown argument${rest.length - operands > 1 ? 's' : ''} ${rest.slice(operands).join(' ')} (see --help)`,
    );
  }
  const common = new Set(COMMON_OPTIONS.map((o) => o.name));
  for (const o of spec.options) {
    const v = parsed[o.name.replace(/^no-/, '')];
    const given = o.type === 'string' ? v !== undefined : o.name.startsWith('no-') ? v === false : v === true;
    if (given && !common.has(o.name) && !command.options.includes(o.name)) {
      const takers = commands.filter((c) => c.options.includes(o.name)).map((c) => c.name);
      throw new UsageError(
        `--${o.name} does not go with ${command.name}` + (takers.length ? ` (it goes with ${takers.join(', ')})` : ''),
      );
    }
  }
  return { command: command.name, ...(command.operand ? { operand: rest[0] } : {}) };
}

export function stringFlag(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

// ---------------------------------------------------------------- running

function writeStepSummary(markdown: string | undefined): void {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file || !markdown) return;
  appendFileSync(file, redact(markdown.trimEnd()) + '\n\n');
}

/**
 * Run a script's main: parse flags, call `main`, report the result, and exit
 * with the code the error kind says. `main` gets the parsed flags.
 */
export async function runCommand(
  spec: CommandSpec,
  main: (flags: Flags) => Promise<Result>,
  argv = process.argv.slice(2),
): Promise<never> {
  let json = argv.includes('--json');
  let exitCode: number;
  try {
    const flags = parseFlags(spec, argv);
    json = Boolean(flags.json);
    if (flags.help) {
      process.stdout.write(helpText(spec) + '\n');
      process.exit(0);
    }
    const result = await main(flags);
    exitCode = result.exitCode ?? 0;
    if (json) process.stdout.write(redact(JSON.stringify(result.json, null, 2)) + '\n');
    else if (result.text) process.stdout.write(redact(result.text) + '\n');
    writeStepSummary(result.summary);
  } catch (err) {
    exitCode = exitCodeOf(err);
    const message = redact(err instanceof Error ? err.message : String(err));
    const failures = err instanceof CheckFailed ? err.failures : undefined;
    if (exitCode === 2)
      write(
        color.red(`${spec.name}: usage error: `) + message + '\n' + color.dim(`Run ${spec.name} --help for usage.`),
      );
    else write(color.red(`${spec.name}: failed: `) + message);
    if (process.env.XSNAP_DEBUG && err instanceof Error && err.stack) write(err.stack);
    if (json) {
      process.stdout.write(redact(JSON.stringify({ ok: false, exitCode, error: message, failures }, null, 2)) + '\n');
    }
    writeStepSummary(
      `### ${spec.name}: failed\n\n` +
        (failures
          ? failures.map((f) => `- ${formatFailure(f).replace(/\n\s+/g, '; ')}`).join('\n')
          : '```\n' + message + '\n```'),
    );
  }
  process.exit(exitCode);
}
