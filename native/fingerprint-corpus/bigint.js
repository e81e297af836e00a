// BigInt: multi-limb multiply/divide, radix conversion, two's complement ops.
let f = 1n;
fp.define({
  run() {
    for (let i = 1n; i <= 150n; i++) f *= i;
    const a = 2n ** 521n - 1n;
    const b = -(3n ** 200n) + 12345n;
    return {
      fact: f.toString(36),
      digits: f.toString().length,
      mersenne: a % 1000000007n,
      div: [a / b, a % b, b / 7n, b % 7n, -7n / 2n, -7n % 2n],
      shifts: [b >> 100n, b << 3n, -1n >> 5n, 1n << 200n],
      bits: [a & b, a | b, a ^ b, ~b],
      asN: [BigInt.asIntN(64, a), BigInt.asUintN(64, b), BigInt.asIntN(8, 255n), BigInt.asUintN(1, -1n)],
      parse: [BigInt('0x' + 'f'.repeat(40)), BigInt('  -123  '), BigInt(Number.MAX_SAFE_INTEGER) + 2n, BigInt.asIntN(32, 2n ** 31n)],
      mixed: [1n < 2, 2n == 2, typeof (5n * 5n), Number(2n ** 64n), String(10n ** 30n)],
    };
  },
  resume() {
    let g = f;
    let steps = 0;
    while (g > 1n) { g /= 97n; steps++; }
    return { steps, gcdLike: (f * 7n) % (2n ** 127n - 1n) };
  },
});
