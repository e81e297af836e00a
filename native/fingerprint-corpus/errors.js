// Error messages and error objects: their text reaches other vats and the
// chain's state, so it must be the same on every platform. (Not stack
// overflow: XS aborts the whole worker on it, exit 12.)
const messages = [];
const attempt = (f) => { try { f(); return 'no error'; } catch (e) { return `${e.name}: ${e.message}`; } };
fp.define({
  run() {
    const cases = [
      () => null.x,
      () => undefined(),
      () => ({}).f(),
      () => new Array(-1),
      () => 'x'.repeat(-1),
      () => (1).toFixed(101),
      () => BigInt(1.5),
      () => 1n + 1,
      () => JSON.parse('{bad'),
      () => new RegExp('['),
      () => Object.defineProperty(harden({}), 'a', { value: 1 }),
      () => { 'use strict'; Object.freeze([1]).push(2); },
      () => decodeURIComponent('%'),
      () => Symbol() + '',
      () => structuredClone,
      () => { throw new AggregateError([new Error('a')], 'agg'); },
    ];
    for (const c of cases) messages.push(attempt(c));
    const e = new Error('msg', { cause: 'why' });
    return { messages, cause: e.cause, own: Object.getOwnPropertyNames(e).sort(), proto: String(Object.getPrototypeOf(new RangeError()).name) };
  },
  resume() {
    return { count: messages.length, again: attempt(() => null.y) };
  },
});
