// generators and closures: every resume is metered
(() => {
  function* range(n) {
    for (let i = 0; i < n; i++) yield i;
  }
  const adders = Array.from({ length: 100 }, (_, k) => (x) => x + k);
  let t = 0;
  for (let r = 0; r < 200; r++) for (const i of range(1000)) t = adders[i % 100](t) % 1000003;
  return t;
})();
