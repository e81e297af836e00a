// Transcendental functions: XS calls the C library's libm, which is where
// platforms (glibc x64 vs arm64, macOS) are most likely to round differently.
// Kept apart from numbers.js so a difference names its cause.
const xs = [0.5, 1, 2, 3.141592653589793, 10, 1e-8, 123.456, -7.25, 1e10];
let trail = 0;
fp.define({
  run() {
    const fns = ['sin', 'cos', 'tan', 'exp', 'expm1', 'log', 'log1p', 'log2', 'log10', 'sqrt', 'cbrt', 'atan', 'asinh', 'sinh', 'cosh', 'tanh'];
    const table = {};
    for (const f of fns) table[f] = xs.map((x) => Math[f](x));
    table.pow = xs.map((x) => [Math.pow(x, 0.5), x ** 3.3, Math.pow(-x, 3)]);
    table.atan2 = xs.map((x) => Math.atan2(x, -1.5));
    for (let i = 0; i < 500; i++) trail += Math.sin(i) * Math.exp(-i / 100);
    return { table, trail };
  },
  resume() {
    return { trail, more: [Math.asin(0.3), Math.acos(-0.7), Math.atanh(0.5), Math.acosh(2.5)] };
  },
});
