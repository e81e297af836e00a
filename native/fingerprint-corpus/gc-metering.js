// Allocation, garbage collection and weak references: the heap counts in the
// meter report and the snapshot bytes depend on exactly when XS collects, and
// liveslots relies on WeakRef/FinalizationRegistry behaving the same
// everywhere.
let keep = [];
const finalized = [];
const registry = new FinalizationRegistry((held) => finalized.push(held));
let refs = [];
fp.define({
  run() {
    for (let round = 0; round < 5; round++) {
      const tmp = [];
      for (let i = 0; i < 3000; i++) tmp.push({ i, s: `item-${round}-${i}`, a: [i, i * 2] });
      keep.push(tmp[round * 7]);
    }
    for (let i = 0; i < 20; i++) {
      const o = { i };
      registry.register(o, i);
      refs.push(new WeakRef(o));
      if (i % 4 === 0) keep.push(o);
    }
    return { kept: keep.length, live: refs.filter((r) => r.deref() !== undefined).length };
  },
  resume() {
    gc();
    // WeakRef targets stay alive until the end of the job that created them.
    return Promise.resolve().then(() => {
      gc();
      return { live: refs.map((r) => (r.deref() ? r.deref().i : null)), finalized: [...finalized].sort((a, b) => a - b), kept: keep.map((o) => o.i) };
    });
  },
});
