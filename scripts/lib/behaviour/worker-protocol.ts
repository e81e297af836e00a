// Driving an xsnap-worker over its own protocol, the way @agoric/xsnap does
// (src/xsnap.js), so that what we measure is what validators run.
//
// The protocol (xsnap-native/xsnap/sources/xsnap-worker.c): netstrings
// `<len>:<bytes>,` on fd 3 (parent -> worker) and fd 4 (worker -> parent).
// Parent -> worker, first byte is the command:
//   e<js>     evaluate; the reply carries the completion value if it is an
//             ArrayBuffer (or an object whose `result` is one, read after the
//             promise queue has drained)
//   ?<bytes>  call globalThis.handleCommand(ArrayBuffer), same reply rules
//   w<path>   write a heap snapshot to <path>; the reply body is its size
//   R         is-ready: answers `.` with nothing else
//   q         quit (no reply; the worker exits 0)
// Worker -> parent:
//   .<meter JSON>\x01<result bytes>   success (meter: currentHeapCount,
//                                     compute, allocate, timestamps)
//   !<text>                           uncaught exception, with its string
//   ?<bytes>                          issueCommand(ArrayBuffer) from inside
//                                     the worker; it blocks until the parent
//                                     answers `/<bytes>`
// Any other prefix is a protocol error; the worker itself exits on one.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { OperationError } from '../core/errors.ts';
import { minimalEnv } from '../core/exec.ts';

// ---------------------------------------------------------------------------
// Netstrings

/** The worker reads the length with fscanf("%9lu"): nine digits at most. */
export const MAX_NETSTRING_LENGTH = 999_999_999;

export class NetstringError extends Error {}

/** One netstring holding the concatenation of `parts`. */
export function encodeNetstring(...parts: (Buffer | Uint8Array | string)[]): Buffer {
  const body = Buffer.concat(
    parts.map((p) =>
      typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength),
    ),
  );
  if (body.length > MAX_NETSTRING_LENGTH)
    throw new NetstringError(
      `netstring of ${body.length} bytes is longer than the worker accepts (${MAX_NETSTRING_LENGTH})`,
    );
  return Buffer.concat([Buffer.from(`${body.length}:`, 'ascii'), body, Buffer.from(',', 'ascii')]);
}

/**
 * Incremental netstring decoder: feed it chunks as they arrive (a message may
 * be split anywhere, or several may share a chunk); it returns the complete
 * messages. Malformed input throws NetstringError, after which the stream is
 * unusable (there is no way to resynchronise a netstring stream).
 */
export class NetstringDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private broken: NetstringError | null = null;

  constructor(private readonly maxLength = MAX_NETSTRING_LENGTH) {}

  push(chunk: Buffer): Buffer[] {
    if (this.broken) throw this.broken;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    try {
      for (;;) {
        const msg = this.next();
        if (!msg) break;
        out.push(msg);
      }
    } catch (e) {
      this.broken = e as NetstringError;
      throw e;
    }
    return out;
  }

  /** Bytes received that do not yet form a whole message. */
  get pending(): number {
    return this.buf.length;
  }

  private next(): Buffer | null {
    const buf = this.buf;
    let i = 0;
    while (i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39) i++;
    const digits = buf.subarray(0, i).toString('ascii');
    if (i > 9)
      throw new NetstringError(
        `netstring length prefix ${JSON.stringify(digits.slice(0, 12))}... has more than 9 digits`,
      );
    if (i === buf.length) return null; // length still arriving
    if (i === 0)
      throw new NetstringError(
        `netstring must start with a decimal length, got byte 0x${buf[0].toString(16).padStart(2, '0')}`,
      );
    if (buf[i] !== 0x3a)
      throw new NetstringError(
        `netstring length ${digits} must be followed by ':', got byte 0x${buf[i].toString(16).padStart(2, '0')}`,
      );
    const length = Number(digits);
    if (length > this.maxLength)
      throw new NetstringError(`netstring of ${length} bytes exceeds the limit of ${this.maxLength}`);
    const end = i + 1 + length;
    if (buf.length <= end) return null; // body or trailer still arriving
    if (buf[end] !== 0x2c)
      throw new NetstringError(
        `netstring of length ${length} must end with ',', got byte 0x${buf[end].toString(16).padStart(2, '0')}`,
      );
    const msg = Buffer.from(buf.subarray(i + 1, end)); // copy: do not pin the chunk
    this.buf = buf.subarray(end + 1);
    return msg;
  }
}

// ---------------------------------------------------------------------------
// Replies

/** The worker's meter report, without `timestamps` (wall-clock, never deterministic). */
export type Meter = Record<string, number>;

export interface WorkerReply {
  meter: Meter;
  /** the result bytes (empty when the completion value was not an ArrayBuffer) */
  reply: Buffer;
}

/** The completion value threw: the worker answered `!<message>`. */
export class WorkerException extends OperationError {
  constructor(
    readonly workerName: string,
    readonly exception: string,
  ) {
    super(`${workerName}: uncaught exception in the worker: ${exception}`);
  }
}

/** Parse `.<meter JSON>\x01<bytes>` (the meter part is optional, as in xsnap.js). */
export function parseOkay(message: Buffer): WorkerReply {
  const sep = message.indexOf(1, 1);
  if (sep < 0) return { meter: {}, reply: message.subarray(1) };
  const raw = JSON.parse(message.subarray(1, sep).toString('utf8')) as Record<string, unknown>;
  const meter: Meter = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'number') meter[k] = v;
  return { meter, reply: message.subarray(sep + 1) };
}

/** Exit codes of xsnap-worker (agoric-sdk packages/xsnap/api.js ErrorMessage). */
export const WORKER_EXIT_CODES: Record<number, string> = {
  1: 'bad usage',
  2: 'I/O error',
  11: 'not enough memory',
  12: 'stack overflow',
  15: 'unhandled exception',
  16: 'no more keys',
  17: 'too much computation (meter limit exceeded)',
};

// ---------------------------------------------------------------------------
// The worker process

export interface WorkerOptions {
  /** the xsnap-worker binary */
  binary: string;
  /** argv prefix to run it on this host ([] natively, qemu for a foreign CPU) */
  runner?: string[];
  /** shown in errors, passed as the worker's first argument like xsnap.js does */
  name?: string;
  /** start from this heap snapshot (`-r`) instead of a fresh machine */
  snapshot?: string;
  /** `-l`: crank metering limit; agoric-sdk's default is 1e8. 0: none */
  meteringLimit?: number;
  /** answers the worker's issueCommand(); the default echoes */
  handleCommand?: (request: Buffer) => Buffer | Promise<Buffer>;
  /** working directory of the worker */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** per request; a worker that does not answer in time is killed */
  timeoutMs?: number;
}

export const DEFAULT_METERING_LIMIT = 100_000_000;

type Pending = { resolve: (m: Buffer) => void; reject: (e: Error) => void; what: string };

/**
 * One running xsnap-worker. Requests are sent one at a time (the protocol has
 * no request ids); issueCommand() calls from the worker are answered while a
 * request is in flight.
 */
export class XsnapWorker {
  readonly name: string;
  private readonly child: ChildProcess;
  private readonly toWorker: Writable;
  private readonly decoder = new NetstringDecoder();
  private readonly handleCommand: (request: Buffer) => Buffer | Promise<Buffer>;
  private readonly timeoutMs: number;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private stderr = '';
  private stdout = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;
  private fatal: Error | null = null;

  constructor(opts: WorkerOptions) {
    this.name = opts.name ?? opts.binary;
    this.handleCommand = opts.handleCommand ?? ((b) => b);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    const args = [this.name.replace(/^-+/, '')];
    if (opts.snapshot) args.push('-r', opts.snapshot);
    const limit = opts.meteringLimit ?? DEFAULT_METERING_LIMIT;
    if (limit) args.push('-l', String(limit));
    const [cmd, ...pre] = [...(opts.runner ?? []), opts.binary];
    this.child = spawn(cmd, [...pre, ...args], {
      cwd: opts.cwd,
      env: opts.env ?? minimalEnv(),
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    this.toWorker = this.child.stdio[3] as Writable;
    const fromWorker = this.child.stdio[4] as Readable;
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout = (this.stdout + d.toString()).slice(-4000)));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    // EPIPE when the worker died: reported through the exit handler instead.
    this.toWorker.on('error', () => {});
    fromWorker.on('data', (chunk: Buffer) => this.onData(chunk));
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.exitInfo ??= { code: null, signal: null };
        this.fail(new OperationError(`${this.name}: cannot start ${cmd}: ${e.message}`));
        resolve();
      });
      this.child.on('close', (code, signal) => {
        this.exitInfo = { code, signal };
        if (this.pending)
          this.fail(
            new OperationError(`${this.name}: worker exited during ${this.pending.what}: ${this.describeExit()}`),
          );
        resolve();
      });
    });
  }

  /** What the worker printed with print() (the last few kB). */
  get printed(): string {
    return this.stdout;
  }

  private describeExit(): string {
    const info = this.exitInfo;
    let s = !info
      ? 'still running'
      : info.signal
        ? `killed by ${info.signal}`
        : `exit ${info.code}${WORKER_EXIT_CODES[info.code ?? -1] ? ` (${WORKER_EXIT_CODES[info.code!]})` : ''}`;
    const tail = this.stderr.trim().split('\n').slice(-10).join('\n');
    if (tail) s += `\n${tail}`;
    return s;
  }

  private fail(e: Error): void {
    this.fatal ??= e;
    const p = this.pending;
    this.pending = null;
    p?.reject(e);
  }

  private onData(chunk: Buffer): void {
    let messages: Buffer[];
    try {
      messages = this.decoder.push(chunk);
    } catch (e) {
      this.fail(new OperationError(`${this.name}: protocol error from the worker: ${(e as Error).message}`));
      this.child.kill('SIGKILL');
      return;
    }
    for (const m of messages) this.onMessage(m);
  }

  private onMessage(m: Buffer): void {
    const prefix = m.length ? String.fromCharCode(m[0]) : '';
    if (prefix === '?') {
      // issueCommand() from inside the worker: it waits for our `/` answer.
      Promise.resolve()
        .then(() => this.handleCommand(m.subarray(1)))
        .then(
          (answer) => this.toWorker.write(encodeNetstring('/', answer)),
          (e) => {
            this.fail(
              new OperationError(`${this.name}: answering the worker's issueCommand failed: ${(e as Error).message}`),
            );
            this.child.kill('SIGKILL');
          },
        );
      return;
    }
    const p = this.pending;
    if (!p) {
      this.fail(
        new OperationError(
          `${this.name}: unexpected message from the worker with no request in flight: ${JSON.stringify(m.subarray(0, 80).toString('latin1'))}`,
        ),
      );
      this.child.kill('SIGKILL');
      return;
    }
    this.pending = null;
    if (prefix === '.') p.resolve(m);
    else if (prefix === '!') p.reject(new WorkerException(this.name, m.subarray(1).toString('utf8')));
    else {
      p.reject(
        new OperationError(
          `${this.name}: protocol error: reply to ${p.what} starts with ${JSON.stringify(prefix)}, expected '.', '!' or '?'`,
        ),
      );
      this.child.kill('SIGKILL');
    }
  }

  /** Send one request and wait for its `.`/`!` reply, killing the worker on timeout. */
  private request(what: string, ...parts: (Buffer | string)[]): Promise<Buffer> {
    const run = () =>
      new Promise<Buffer>((resolve, reject) => {
        if (this.fatal) return reject(this.fatal);
        if (this.exitInfo)
          return reject(
            new OperationError(`${this.name}: worker is not running (${this.describeExit()}), cannot send ${what}`),
          );
        const timer = setTimeout(() => {
          this.fail(
            new OperationError(
              `${this.name}: no answer to ${what} within ${this.timeoutMs / 1000} s; killed the worker`,
            ),
          );
          this.child.kill('SIGKILL');
        }, this.timeoutMs);
        const done =
          <T>(f: (v: T) => void) =>
          (v: T) => {
            clearTimeout(timer);
            f(v);
          };
        this.pending = { resolve: done(resolve), reject: done(reject), what };
        this.toWorker.write(encodeNetstring(...parts));
      });
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  /** `e<js>`: evaluate JavaScript; the reply carries an ArrayBuffer completion value. */
  async evaluate(js: string): Promise<WorkerReply> {
    return parseOkay(await this.request('evaluate', 'e', js));
  }

  /** `?<bytes>`: deliver a command to globalThis.handleCommand in the worker. */
  async command(bytes: Buffer | string): Promise<WorkerReply> {
    return parseOkay(await this.request('command', '?', bytes));
  }

  /** `w<path>`: write a heap snapshot; resolves with its size as the worker reports it. */
  async snapshot(path: string): Promise<{ meter: Meter; size: number }> {
    const r = parseOkay(await this.request(`snapshot to ${path}`, 'w', path));
    return { meter: r.meter, size: Number(r.reply.toString('ascii')) };
  }

  /** `R`: resolves once the worker answers. */
  async ready(): Promise<void> {
    await this.request('is-ready', 'R');
  }

  /**
   * `q`, then wait for the worker to exit; resolves with its exit code. The
   * worker exits with the error of its last evaluation (15 if that threw), so
   * a non-zero code is not by itself a failure; being killed or a protocol
   * error is, and throws.
   */
  async close(): Promise<number> {
    await this.queue;
    if (!this.exitInfo && !this.fatal) {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), this.timeoutMs);
      this.toWorker.end(encodeNetstring('q'));
      await this.exited;
      clearTimeout(timer);
    } else {
      this.kill();
      await this.exited;
    }
    if (this.fatal) throw this.fatal;
    if (this.exitInfo?.code === null || this.exitInfo?.code === undefined)
      throw new OperationError(`${this.name}: worker did not exit after quit: ${this.describeExit()}`);
    return this.exitInfo.code;
  }

  /** Kill the worker now (idempotent). */
  kill(): void {
    if (!this.exitInfo) this.child.kill('SIGKILL');
  }

  /** Resolves when the process has gone. */
  get done(): Promise<void> {
    return this.exited;
  }
}
