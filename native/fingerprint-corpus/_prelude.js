// Evaluated first in every fingerprint worker (files starting with "_" are not
// workloads). A workload file sets globalThis.workload = { run, resume } and
// evaluates to fp.define(workload). The harness then delivers the commands
// "run" and "resume" through handleCommand, the path agoric-sdk uses for every
// vat delivery; each answer is the JSON text of what the function returned
// (awaited, so promise jobs run before the answer is read).
(() => {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  // JSON that keeps what JSON.stringify would lose: -0, NaN, Infinity, BigInt, undefined.
  const replacer = (key, v) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'number' && (Object.is(v, -0) || !Number.isFinite(v))) return Object.is(v, -0) ? '-0' : String(v);
    if (v === undefined) return 'undefined';
    return v;
  };
  const out = (value) => encoder.encode(JSON.stringify(value, replacer)).buffer;
  globalThis.fp = {
    out,
    define(workload) {
      globalThis.workload = workload;
      return out(Object.keys(workload));
    },
  };
  globalThis.handleCommand = (request) => {
    const command = decoder.decode(request);
    const step = globalThis.workload[command];
    if (typeof step !== 'function') throw Error(`workload has no step ${command}`);
    // `{ result }` is read by the worker after its promise queue has drained.
    const box = {};
    Promise.resolve(step()).then(
      (v) => { box.result = out(v); },
      (e) => { box.result = out({ rejected: String(e) }); },
    );
    return box;
  };
})();
