// Map/Set keys -0 and +0. The spec says they are the same key (SameValueZero).
// Measured with xsnap 0.15.0: gcc -O3 (release) builds treat them as two keys,
// -O0 (debug) builds as one, and in release builds a Map holding both behaves
// differently after a snapshot restore. Likely cause: fxSumEntry (xsMapSet.c)
// normalises with `if (x == 0) x = 0;`, a store that gcc -O2 deletes (checked
// on a copy of that line). Another compiler (clang on macOS) may do either.
// Kept apart so a difference here names its cause.
const map = new Map();
fp.define({
  run() {
    map.set(-0, 'minus').set(0, 'plus');
    const set = new Set([-0, 0, 1, -1, 0.0, -0.0]);
    return {
      mapSize: map.size,
      setSize: set.size,
      hasZero: new Set([-0]).has(0),
      hasMinusZero: new Set([0]).has(-0),
      get: [map.get(0), map.get(-0)],
      keys: [...map.keys()].map((k) => Object.is(k, -0)),
    };
  },
  resume() {
    map.delete(-0);
    return { size: map.size, rest: [...map.values()] };
  },
});
