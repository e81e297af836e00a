// Arithmetic and number formatting done by XS itself (no libm): integer
// overflow into doubles (the __has_builtin split noted in xsnap-worker.c),
// dtoa shortest round-trip output, rounding modes of toFixed/toPrecision.
let acc;
fp.define({
  run() {
    const ints = [];
    let x = 1;
    for (let i = 0; i < 70; i++) { x = x * 3 + (i % 7); ints.push(x); }
    const m = 0x7fffffff;
    const overflow = [m + 1, m * m, (m * m) | 0, -m - 2, 2 ** 53 + 1, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER * 3, (2 ** 31) * 2 ** 31];
    const floats = [0.1 + 0.2, 1 / 3, 2 / 3, 5e-324, 1.7976931348623157e308, 123456789012345680000, 1e21, 1e-7, 123e-20, -0, 0 / 0, 1 / 0, -1 / 0, 0.000001, 4.35, 1.005, 100 / 7];
    const fmt = floats.map((f) => [String(f), f.toFixed(2), f.toPrecision(6), f.toExponential(3)].join('|'));
    const parse = ['0x1fz', '1e1000', '-0', '  12.5e-3  ', '.5', '5.', '0b101', '1_000', '9007199254740993', '2.2250738585072011e-308'].map((s) => [Number(s), parseFloat(s), parseInt(s)]);
    const bits = [~5, -1 >>> 0, 1 << 31, -17 >> 2, -17 >>> 28, 5 ^ 3, Math.imul(0x7fffffff, 7), Math.clz32(1), Math.fround(0.1), Math.round(-2.5), Math.round(2.5), -7 % 3, 7 % -3, 5.5 % 2, -0 % 5];
    const radix = [255, -255.5, 0.1, 1e21, 2 ** 60].map((n) => [2, 7, 16, 36].map((r) => n.toString(r)));
    acc = ints.reduce((a, b) => (a + b) % 1e15, 0);
    return { ints: ints.slice(-5), overflow, fmt, parse, bits, radix, acc };
  },
  resume() {
    let sum = 0;
    for (let i = 1; i <= 2000; i++) sum += 1 / i - (i % 3) * 1e-9;
    return { acc, sum, sumStr: sum.toPrecision(17), exact: Math.sqrt(2), hyp: Math.hypot(3, 4, 12) };
  },
});
