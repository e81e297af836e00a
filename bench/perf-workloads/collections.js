// Map and Set: insert, look up, delete, iterate
(() => {
  const m = new Map();
  const s = new Set();
  let hits = 0;
  for (let i = 0; i < 50000; i++) {
    m.set(`k${i % 5000}`, i);
    s.add(i % 7919);
    if (m.has(`k${(i * 7) % 5000}`)) hits++;
    if (i % 3 === 0) s.delete((i * 13) % 7919);
  }
  for (const [, v] of m) hits += v & 1;
  return hits + s.size;
})();
