// a fixed LCG, sorting, map/filter/reduce
(() => {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  let sum = 0;
  for (let round = 0; round < 12; round++) {
    const a = Array.from({ length: 6000 }, next);
    a.sort((x, y) => x - y);
    sum += a
      .filter((x) => x % 3 === 0)
      .map((x) => x % 1000)
      .reduce((p, x) => p + x, 0);
  }
  return sum;
})();
