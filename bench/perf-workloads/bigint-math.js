// BigInt arithmetic and Math
(() => {
  let f = 1n;
  for (let i = 1n; i < 800n; i++) f *= i;
  let x = 0;
  for (let i = 1; i < 200000; i++) x += Math.sqrt(i) * Math.sin(i) + Math.floor(i / 7);
  return Number(f % 1000003n) + Math.round(x);
})();
