// Promise job order, async functions, setImmediate (xsnap has no
// queueMicrotask or timers), and issueCommand(): a
// synchronous round trip to the host in the middle of a delivery. The
// fingerprint host answers a command with the sha256 hex of its bytes.
const order = [];
const ask = (text) => new TextDecoder().decode(issueCommand(new TextEncoder().encode(text).buffer));
fp.define({
  async run() {
    const p = Promise.resolve();
    p.then(() => order.push('then1')).then(() => order.push('then2'));
    (async () => { order.push('async-start'); await null; order.push('async-after-await'); })();
    setImmediate(() => order.push('immediate'));
    order.push('sync');
    const answers = [ask('hello'), ask(''), ask('é😀'.repeat(100))];
    await Promise.all([1, Promise.resolve(2), new Promise((r) => r(3))]);
    const settled = await Promise.allSettled([Promise.reject(new TypeError('nope')), 4]);
    const raced = await Promise.race([new Promise(() => {}), Promise.resolve('fast')]);
    const any = await Promise.any([Promise.reject(1), Promise.resolve('any')]);
    return { answers, order, settled: settled.map((s) => [s.status, String(s.reason ?? s.value)]), raced, any };
  },
  resume() {
    return { order, answer: ask(JSON.stringify(order)) };
  },
});
