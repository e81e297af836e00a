// Objects, classes, Maps/Sets/WeakMaps, typed arrays and DataView: iteration
// order, sort stability, property enumeration, byte order.
const registry = new Map();
const weak = new WeakMap();
fp.define({
  run() {
    const o = { z: 1, 10: 'a', b: 2, 2: 'b', [Symbol.iterator]: 0, '-1': 'n', 1.5: 'f' };
    delete o.b;
    o.b = 3;
    class Point { #x; constructor(x, y) { this.#x = x; this.y = y; } get x() { return this.#x; } static of(...a) { return new Point(...a); } }
    const pts = Array.from({ length: 40 }, (_, i) => Point.of((i * 7919) % 13, i));
    pts.sort((p, q) => p.x - q.x); // stable: equal x keep y order
    for (const p of pts) registry.set(`k${p.y % 11}`, (registry.get(`k${p.y % 11}`) ?? 0) + p.x);
    const set = new Set([3, 1, 3, 'a', 1, NaN, NaN]); // -0 keys: see signed-zero-keys.js
    const keys = pts.map((p) => ({ p }));
    keys.forEach((k, i) => weak.set(k, i));
    const buf = new ArrayBuffer(16);
    const dv = new DataView(buf);
    dv.setFloat64(0, Math.PI, true);
    dv.setUint32(8, 0xdeadbeef, false);
    dv.setInt16(12, -2, true);
    const f32 = new Float32Array([1 / 3, 1e40, -0, 16777217]);
    const proxyLog = [];
    const p = new Proxy({ a: 1 }, { get(t, k, r) { proxyLog.push(String(k)); return Reflect.get(t, k, r); }, ownKeys(t) { proxyLog.push('ownKeys'); return Reflect.ownKeys(t); } });
    Object.keys(p); p.a; p.missing;
    function* gen() { let i = 0; while (i < 5) yield i++ * 2; }
    return {
      ownKeys: Reflect.ownKeys(o).map(String),
      json: JSON.stringify(o),
      sortedY: pts.map((q) => q.y),
      registry: [...registry],
      set: [...set],
      hasWeak: keys.filter((k) => weak.has(k)).length,
      bytes: [...new Uint8Array(buf)],
      f32: [...f32],
      u8clamped: [...new Uint8ClampedArray([-5, 1.5, 2.5, 300])],
      proxyLog,
      gen: [...gen()],
      frozen: (() => { const h = harden({ a: { b: 1 } }); return [Object.isFrozen(h), Object.isFrozen(h.a)]; })(),
      spread: { ...{ a: 1, b: 2 }, ...['x', 'y'] },
      flat: [1, [2, [3, [4]]]].flat(Infinity),
      symbols: [Symbol('d').description, Symbol.for('g') === Symbol.for('g'), Symbol.iterator.toString()],
    };
  },
  resume() {
    registry.set('resumed', registry.size);
    return [...registry.entries()];
  },
});
