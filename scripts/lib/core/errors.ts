// Error kinds and their exit codes: usage errors exit 2, failed checks and
// failed operations exit 1. Every message names what failed and what to do next.

/** Bad flags, unknown or unsupported target, bad version: exit 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/**
 * One failed check: which file/target, what was expected, what was found. `C` narrows the check's name where a
 * module declares its names (scripts/lib/verify/).
 */
export interface Failure<C extends string = string> {
  check: C;
  subject: string;
  expected?: string;
  actual?: string;
  hint?: string;
}

/** How a user runs one of our scripts, for a hint: `npx tsx scripts/<script> <args>`. */
export function scriptHint(script: string, ...args: string[]): string {
  return ['npx tsx', `scripts/${script}`, ...args].join(' ');
}

/** What to do next, as the last line of a message (indented under an error's first line): every message ends so. */
export function nextStep(what: string, indent = '    '): string {
  return `\n${indent}next: ${what}`;
}

export function formatFailure(f: Failure): string {
  let s = `[${f.check}] ${f.subject}`;
  if (f.expected !== undefined) s += `\n    expected: ${f.expected}`;
  if (f.actual !== undefined) s += `\n    actual:   ${f.actual}`;
  if (f.hint) s += `\n    next:     ${f.hint}`;
  return s;
}

/** One or more checks failed: exit 1, listing every failure. */
export class CheckFailed extends Error {
  readonly exitCode = 1;
  constructor(
    readonly failures: Failure[],
    summary?: string,
  ) {
    super(
      summary ??
        `${failures.length} check${failures.length === 1 ? '' : 's'} failed:\n` +
          failures.map((f) => '  ' + formatFailure(f)).join('\n'),
    );
  }
}

/** An operation (download, build, publish) failed: exit 1. */
export class OperationError extends Error {
  readonly exitCode = 1;
}

export function exitCodeOf(err: unknown): number {
  if (
    err &&
    typeof err === 'object' &&
    'exitCode' in err &&
    typeof (err as { exitCode: unknown }).exitCode === 'number'
  ) {
    return (err as { exitCode: number }).exitCode;
  }
  return 1;
}
