// The determinism corpus: seeded, generated inputs for every numeric operation
// a vat can reach, run inside xsnap-worker, results written as raw bits.
//
// This one file runs in two engines: inside the worker (where results are
// computed) and in Node (scripts/lib/behaviour/determinism.ts), which generates
// the inputs (encodeInputs, sent to the worker's runInputs) and names the first
// one that differs. So input generation uses nothing that could round
// differently between engines or machines: a 32-bit integer PRNG (Math.imul,
// >>>) and doubles assembled from raw bits through a DataView. Results are
// computed only in the worker. run() generates in the worker too: the same
// bytes, five times the work under qemu (the harness checks they agree).
//
// Output of run(name, seed, count), an ArrayBuffer:
//   kind "number": count little-endian float64 values. Every NaN is written as
//     0x7ff8000000000000, so that a family measures values, not NaN signs;
//     the NaN bit patterns themselves are measured by the family "nan-bits".
//   kind "string": count strings, UTF-8, each followed by "\n".
//
// `source` says where a family's results come from:
//   "xs"     computed by XS itself, or by libm functions that IEEE 754 requires
//            to be exact (sqrt, floor, ceil, trunc, fmod, fabs): must agree on
//            every target and host, in either math profile.
//   "libm"   computed by a libm function that rounds (sin, pow, cbrt, ...):
//            host-dependent under the "system" profile, must agree under
//            "portable".
//   "hardware" the bit pattern of NaNs made by arithmetic (x86-64 makes
//            0xfff8..., arm64 0x7ff8...).
globalThis.determinism = (() => {
  const scratch = new DataView(new ArrayBuffer(8));

  // ---------------------------------------------------------------- PRNG
  // xoshiro128** on four 32-bit words, seeded by splitmix32 from (seed, family).
  function hashString(s) {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
    return h;
  }
  function rng(seed, name) {
    let x = (seed ^ hashString(name)) >>> 0;
    const split = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    let a = split(), b = split(), c = split(), d = split();
    const u32 = () => {
      const r = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)) >>> 0, 9) >>> 0;
      const t = (b << 9) >>> 0;
      c = (c ^ a) >>> 0; d = (d ^ b) >>> 0; b = (b ^ c) >>> 0; a = (a ^ d) >>> 0;
      c = (c ^ t) >>> 0; d = ((d << 11) | (d >>> 21)) >>> 0;
      return r;
    };
    /** an integer in [lo, hi] (hi - lo < 2**32) */
    const int = (lo, hi) => lo + (u32() % (hi - lo + 1));
    const pick = (list) => list[u32() % list.length];
    /** a double from raw bits: unbiased exponent in [e0, e1], random 52-bit fraction, sign if `signed` */
    const double = (e0, e1, signed) => {
      const e = int(e0, e1) + 1023;
      const neg = signed && (u32() & 1) ? 0x80000000 : 0;
      scratch.setUint32(0, (neg | (e << 20) | (u32() & 0xfffff)) >>> 0);
      scratch.setUint32(4, u32());
      return scratch.getFloat64(0);
    };
    /** a subnormal double */
    const subnormal = (signed) => {
      scratch.setUint32(0, ((signed && (u32() & 1) ? 0x80000000 : 0) | (u32() & 0xfffff)) >>> 0);
      scratch.setUint32(4, u32() | 1);
      return scratch.getFloat64(0);
    };
    const digits = (alphabet, n) => {
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[u32() % alphabet.length];
      return s;
    };
    return { u32, int, pick, double, subnormal, digits };
  }

  const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1, -1, 0.5, -0.5, 2, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, 2.2250738585072014e-308, Math.PI, Math.E, 1e308, 1e-308];
  /** mostly `main()`, sometimes a special value (1 in 32), sometimes a subnormal (1 in 64) */
  const mix = (r, main) => {
    const k = r.u32() & 63;
    if (k === 0) return r.pick(SPECIAL);
    if (k === 1) return r.subnormal(true);
    if (k === 2) return r.pick(SPECIAL);
    return main(r);
  };
  const DIGITS36 = '0123456789abcdefghijklmnopqrstuvwxyz';
  const DEC = '0123456789';

  // ---------------------------------------------------------------- families
  // gen(r) -> argument list; apply(args) -> result; show(args) -> the call as text.
  const families = [];
  const unary = (fn, source, gen) => families.push({
    name: `Math.${fn}`, source, kind: 'number',
    gen: (r) => [mix(r, () => gen(r))],
    apply: (a) => Math[fn](a[0]),
    show: (a) => `Math.${fn}(${show(a[0])})`,
  });
  const wide = (r) => r.double(-1022, 1023, true);
  unary('sin', 'libm', (r) => (r.u32() & 7 ? r.double(-30, 30, true) : wide(r)));
  unary('cos', 'libm', (r) => (r.u32() & 7 ? r.double(-30, 30, true) : wide(r)));
  unary('tan', 'libm', (r) => (r.u32() & 7 ? r.double(-30, 30, true) : wide(r)));
  unary('asin', 'libm', (r) => r.double(-40, -1, true));
  unary('acos', 'libm', (r) => r.double(-40, -1, true));
  unary('atan', 'libm', (r) => r.double(-40, 60, true));
  unary('sinh', 'libm', (r) => r.double(-30, 9, true));
  unary('cosh', 'libm', (r) => r.double(-30, 9, true));
  unary('tanh', 'libm', (r) => r.double(-30, 5, true));
  unary('asinh', 'libm', (r) => r.double(-30, 60, true));
  unary('acosh', 'libm', (r) => r.double(0, 60, false));
  unary('atanh', 'libm', (r) => r.double(-40, -1, true));
  unary('exp', 'libm', (r) => r.double(-30, 9, true));
  unary('expm1', 'libm', (r) => r.double(-40, 9, true));
  unary('log', 'libm', (r) => r.double(-1022, 1023, false));
  unary('log1p', 'libm', (r) => (r.u32() & 1 ? r.double(-40, 60, false) : r.double(-40, -1, true)));
  unary('log2', 'libm', (r) => r.double(-1022, 1023, false));
  unary('log10', 'libm', (r) => r.double(-1022, 1023, false));
  unary('cbrt', 'libm', wide);
  unary('sqrt', 'xs', (r) => r.double(-1022, 1023, false));
  unary('abs', 'xs', wide);
  unary('floor', 'xs', (r) => r.double(-10, 60, true));
  unary('ceil', 'xs', (r) => r.double(-10, 60, true));
  unary('trunc', 'xs', (r) => r.double(-10, 60, true));
  unary('round', 'xs', (r) => r.double(-10, 60, true));
  unary('sign', 'xs', wide);
  unary('fround', 'xs', (r) => r.double(-160, 140, true));
  families.push({
    name: 'Math.clz32,imul', source: 'xs', kind: 'number',
    gen: (r) => [r.u32(), r.u32() | 0, r.double(-10, 40, true)],
    apply: (a) => Math.imul(a[0], a[1]) + Math.clz32(a[2]) * 2 ** 32,
    show: (a) => `Math.imul(${a[0]}, ${a[1]}) + Math.clz32(${show(a[2])}) * 2 ** 32`,
  });
  families.push({
    name: 'Math.max,min', source: 'xs', kind: 'number',
    gen: (r) => [mix(r, () => r.double(-30, 30, true)), mix(r, () => r.double(-30, 30, true)), r.pick([0, -0, NaN, 1])],
    apply: (a) => Math.max(a[0], a[1], a[2]) - Math.min(a[0], a[1], a[2]) * 3,
    show: (a) => `Math.max(${a.map(show)}) - Math.min(${a.map(show)}) * 3`,
  });
  const binary = (name, source, gen, apply, text) => families.push({ name, source, kind: 'number', gen, apply, show: (a) => text(a.map(show)) });
  binary('Math.atan2', 'libm', (r) => [mix(r, () => r.double(-30, 30, true)), mix(r, () => r.double(-30, 30, true))], (a) => Math.atan2(a[0], a[1]), (s) => `Math.atan2(${s})`);
  binary('Math.hypot(a,b)', 'libm', (r) => [mix(r, () => r.double(r.u32() & 1 ? -30 : -600, r.u32() & 1 ? 30 : 600, true)), mix(r, () => r.double(-30, 30, true))], (a) => Math.hypot(a[0], a[1]), (s) => `Math.hypot(${s})`);
  binary('Math.hypot(a,b,c)', 'xs', (r) => [r.double(-30, 30, true), r.double(-30, 30, true), mix(r, () => r.double(-30, 30, true))], (a) => Math.hypot(a[0], a[1], a[2]), (s) => `Math.hypot(${s})`);
  const powArgs = (r) => {
    const k = r.u32() & 3;
    if (k === 0) return [r.double(-8, 8, true), r.int(-60, 60)]; // integer exponents, negative bases
    if (k === 1) return [mix(r, () => r.double(-1022, 1023, false)), mix(r, () => r.double(-30, 10, true))];
    return [r.double(-10, 10, false), r.double(-10, 6, true)];
  };
  binary('Math.pow', 'libm', powArgs, (a) => Math.pow(a[0], a[1]), (s) => `Math.pow(${s})`);
  binary('**', 'libm', powArgs, (a) => a[0] ** a[1], (s) => `${s[0]} ** ${s[1]}`);
  binary('%', 'xs', (r) => [mix(r, () => r.double(-30, 60, true)), mix(r, () => r.double(-30, 60, true))], (a) => a[0] % a[1], (s) => `${s[0]} % ${s[1]}`);

  // number text
  families.push({
    name: 'parseInt', source: 'xs', kind: 'number',
    gen: (r) => {
      const radix = r.int(2, 36);
      const body = r.digits(DIGITS36.slice(0, radix), r.int(16, 35));
      return [r.pick(['', '', '', '-', ' ', '+']) + (r.u32() & 7 ? body : body.toUpperCase()), radix];
    },
    apply: (a) => parseInt(a[0], a[1]),
    show: (a) => `parseInt(${JSON.stringify(a[0])}, ${a[1]})`,
  });
  const decimal = (r) => {
    const int = r.digits(DEC, r.int(0, 25));
    const frac = r.u32() & 1 ? `.${r.digits(DEC, r.int(1, 30))}` : '';
    const exp = r.u32() & 1 ? `${r.pick(['e', 'E'])}${r.pick(['', '+', '-'])}${r.int(0, 350)}` : '';
    return `${r.pick(['', '', '-', '+'])}${int || (frac ? '' : '0')}${frac}${exp}`;
  };
  families.push({ name: 'parseFloat', source: 'xs', kind: 'number', gen: (r) => [decimal(r)], apply: (a) => parseFloat(a[0]), show: (a) => `parseFloat(${JSON.stringify(a[0])})` });
  families.push({
    name: 'Number(string)', source: 'xs', kind: 'number',
    gen: (r) => {
      const k = r.u32() & 7;
      if (k === 0) return [`0x${r.digits('0123456789abcdefABCDEF', r.int(1, 30))}`];
      if (k === 1) return [`0b${r.digits('01', r.int(1, 80))}`];
      if (k === 2) return [`0o${r.digits('01234567', r.int(1, 30))}`];
      if (k === 3) return [` ${decimal(r)}\n`];
      return [decimal(r)];
    },
    apply: (a) => Number(a[0]),
    show: (a) => `Number(${JSON.stringify(a[0])})`,
  });
  const strings = (name, gen, apply, text) => families.push({ name, source: 'xs', kind: 'string', gen, apply, show: (a) => text(a) });
  strings('toString(radix)', (r) => [mix(r, () => r.double(-60, 80, true)), r.int(2, 36)], (a) => a[0].toString(a[1]), (a) => `(${show(a[0])}).toString(${a[1]})`);
  strings('toFixed', (r) => [mix(r, () => r.double(-20, 72, true)), r.int(0, 100)], (a) => a[0].toFixed(a[1]), (a) => `(${show(a[0])}).toFixed(${a[1]})`);
  strings('toPrecision', (r) => [mix(r, () => r.double(-330, 330, true)), r.int(1, 100)], (a) => a[0].toPrecision(a[1]), (a) => `(${show(a[0])}).toPrecision(${a[1]})`);
  strings('toExponential', (r) => [mix(r, () => r.double(-330, 330, true)), r.int(0, 100)], (a) => a[0].toExponential(a[1]), (a) => `(${show(a[0])}).toExponential(${a[1]})`);
  strings('String(number)', (r) => [mix(r, wide)], (a) => String(a[0]), (a) => `String(${show(a[0])})`);

  // dates
  const frac = (r, lo, hi) => (r.u32() & 1 ? r.int(lo, hi) : r.int(lo, hi) + r.double(-30, -1, false));
  families.push({
    name: 'Date.UTC', source: 'xs', kind: 'number',
    gen: (r) => [r.u32() & 3 ? r.int(1900, 2200) : r.int(-271821, 275760), frac(r, -30, 40), frac(r, -40, 70), frac(r, -50, 80), frac(r, -100, 160), frac(r, -100, 160), frac(r, -2000, 4000)],
    apply: (a) => Date.UTC(a[0], a[1], a[2], a[3], a[4], a[5], a[6]),
    show: (a) => `Date.UTC(${a.map(show)})`,
  });
  const SETTERS = ['setUTCFullYear', 'setUTCMonth', 'setUTCDate', 'setUTCHours', 'setUTCMinutes', 'setUTCSeconds', 'setUTCMilliseconds', 'setTime'];
  families.push({
    name: 'Date setters', source: 'xs', kind: 'number',
    gen: (r) => [r.int(-8640000, 8640000) * 1e6 + r.int(0, 999999), r.pick(SETTERS), frac(r, -5000, 5000), frac(r, -100, 100)],
    apply: (a) => {
      const d = new Date(a[0]);
      if (a[1] === 'setTime') return d.setTime(a[2] * 1e9 + a[3]);
      return d[a[1]](a[2], a[3]);
    },
    show: (a) => `new Date(${show(a[0])}).${a[1]}(${a[1] === 'setTime' ? `${show(a[2])} * 1e9 + ${show(a[3])}` : `${show(a[2])}, ${show(a[3])}`})`,
  });
  const pad = (n, w) => String(n).padStart(w, '0');
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  families.push({
    name: 'Date.parse', source: 'xs', kind: 'number',
    gen: (r) => {
      const y = r.int(1, 9999), mo = r.int(1, 12), d = r.int(1, 31), h = r.int(0, 24), mi = r.int(0, 59), s = r.int(0, 59), ms = r.int(0, 999);
      const k = r.u32() & 3;
      if (k === 0) return [`${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(ms, 3)}${r.pick(['Z', '+05:30', '-11:00', 'Z'])}`];
      if (k === 1) return [`${r.pick(['+', '-'])}${pad(r.int(0, 275760), 6)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}Z`];
      if (k === 2) return [`${DAYS[r.int(0, 6)]}, ${pad(d, 2)} ${MONTHS[mo - 1]} ${y} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)} GMT`];
      return [`${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}`];
    },
    apply: (a) => Date.parse(a[0]),
    show: (a) => `Date.parse(${JSON.stringify(a[0])})`,
  });

  // BigInt and JSON
  families.push({
    name: 'BigInt to Number', source: 'xs', kind: 'number',
    gen: (r) => [`${r.pick(['', '-'])}0x${r.pick(['1', '3', '7', 'f'])}${r.digits('0123456789abcdef', r.int(0, 64))}`],
    apply: (a) => (a[0][0] === '-' ? -Number(BigInt(a[0].slice(1))) : Number(BigInt(a[0]))),
    show: (a) => `Number(BigInt(${JSON.stringify(a[0])}))`,
  });
  families.push({
    name: 'Number to BigInt', source: 'xs', kind: 'string',
    gen: (r) => [Math.trunc(r.double(0, 200, true))],
    apply: (a) => BigInt(a[0]).toString(36),
    show: (a) => `BigInt(${show(a[0])}).toString(36)`,
  });
  families.push({
    name: 'JSON.parse', source: 'xs', kind: 'number',
    gen: (r) => [`${r.pick(['', '-'])}${r.u32() & 3 ? `${r.int(1, 9)}${r.digits(DEC, r.int(0, 24))}` : '0'}${r.u32() & 1 ? `.${r.digits(DEC, r.int(1, 30))}` : ''}${r.u32() & 1 ? `e${r.pick(['', '+', '-'])}${r.int(0, 340)}` : ''}`],
    apply: (a) => JSON.parse(a[0]),
    show: (a) => `JSON.parse(${JSON.stringify(a[0])})`,
  });
  families.push({ name: 'JSON.stringify', source: 'xs', kind: 'string', gen: (r) => [mix(r, wide)], apply: (a) => JSON.stringify([a[0]]), show: (a) => `JSON.stringify([${show(a[0])}])` });

  // NaN bit patterns, written as they are (the only family that does).
  const NAN_MAKERS = ['0/0', 'Infinity-Infinity', 'Infinity*0', 'Math.sqrt(-1)', 'Math.log(-1)', 'NaN', 'Number("x")', 'parseInt("x")', 'Math.sin(Infinity)', '(-8)**0.5'];
  families.push({
    name: 'nan-bits', source: 'hardware', kind: 'bits',
    gen: (r) => [r.pick(NAN_MAKERS), r.double(-4, 4, true)],
    apply: (a) => {
      const z = a[1] - a[1]; // 0, computed so nothing is folded
      switch (a[0]) {
        case '0/0': return z / z;
        case 'Infinity-Infinity': return Infinity + z - Infinity;
        case 'Infinity*0': return (Infinity + z) * z;
        case 'Math.sqrt(-1)': return Math.sqrt(z - 1);
        case 'Math.log(-1)': return Math.log(z - 1);
        case 'NaN': return NaN;
        case 'Number("x")': return Number('x');
        case 'parseInt("x")': return parseInt('x');
        case 'Math.sin(Infinity)': return Math.sin(Infinity + z);
        default: return (z - 8) ** 0.5;
      }
    },
    show: (a) => `new Float64Array([${a[0]}])`,
  });

  // Local time: not in the digest set; run under two TZ values to see if the worker depends on the host's zone.
  families.push({
    name: 'Date local time', source: 'xs', kind: 'string', local: true,
    gen: (r) => [r.int(-2208988800, 4102444800) * 1000 + r.int(0, 999)],
    apply: (a) => {
      const d = new Date(a[0]);
      return `${d.getTimezoneOffset()} ${d.getHours()}:${d.getMinutes()} ${d.getDate()} ${d.getDay()} ${new Date(2020, 5, 1, 12).getTime()} ${d.toString()}`;
    },
    show: (a) => `new Date(${a[0]}) local fields`,
  });

  function show(x) {
    if (typeof x !== 'number') return JSON.stringify(x);
    if (Object.is(x, -0)) return '-0';
    if (x !== x) return 'NaN';
    scratch.setFloat64(0, x);
    const hex = `0x${scratch.getUint32(0).toString(16).padStart(8, '0')}${scratch.getUint32(4).toString(16).padStart(8, '0')}`;
    return `${String(x)} /* ${hex} */`;
  }

  /** count results of family f, each from the arguments next() gives */
  function results(f, count, next) {
    if (f.kind === 'string') {
      const parts = [];
      for (let i = 0; i < count; i++) parts.push(String(f.apply(next())));
      const text = parts.join('\n') + '\n';
      // TextEncoder is native and linear; indexing a long XS string (UTF-8 inside) is not
      const bytes = new TextEncoder().encode(text);
      return bytes.buffer;
    }
    const out = new DataView(new ArrayBuffer(count * 8));
    for (let i = 0; i < count; i++) {
      const v = f.apply(next());
      if (v !== v && f.kind !== 'bits') {
        out.setUint32(i * 8 + 4, 0x7ff80000, true);
      } else {
        out.setFloat64(i * 8, v, true);
      }
    }
    return out.buffer;
  }

  const byName = {};
  for (const f of families) byName[f.name] = f;
  const family = (name) => {
    const f = byName[name];
    if (!f) throw Error(`no determinism family ${name}`);
    return f;
  };

  return {
    /** family name, source and kind, in corpus order */
    families: families.map((f) => ({ name: f.name, source: f.source, kind: f.kind, local: !!f.local })),
    /** the inputs of a family, as text, for reports and for checking the generator */
    inputs(name, seed, count) {
      const f = family(name);
      const r = rng(seed, name);
      const out = [];
      for (let i = 0; i < count; i++) out.push(f.show(f.gen(r)));
      return out;
    },
    /** the results of a family as bytes (see the top of this file), inputs generated here */
    run(name, seed, count) {
      const f = family(name);
      const r = rng(seed, name);
      return results(f, count, () => f.gen(r));
    },
    /**
     * The inputs of a family as bytes, for runInputs: the harness generates them in Node with this same generator
     * and sends them, so the worker computes only the results (generating them in XS cost ~90% of run(), 5x more
     * under qemu). Every result is the same as run()'s. Layout (little-endian, as every target is):
     *   u32 count, u32 numbers, u32 tags, u32 text bytes; then the numbers as float64; then per input its argument
     *   count and a tag per argument (0 a number, 1 a string); then the strings, ASCII, each ended by a 0 byte.
     */
    encodeInputs(name, seed, count) {
      const f = family(name);
      const r = rng(seed, name);
      const nums = [], tags = [], text = [];
      for (let i = 0; i < count; i++) {
        const args = f.gen(r);
        tags.push(args.length);
        for (const a of args) {
          if (typeof a === 'number') {
            tags.push(0);
            nums.push(a);
            continue;
          }
          tags.push(1);
          for (let k = 0; k < a.length; k++) {
            const c = a.charCodeAt(k);
            if (c === 0 || c > 127) throw Error(`${name}: input ${i} is not ASCII without NUL: ${JSON.stringify(a)}`);
            text.push(c);
          }
          text.push(0);
        }
      }
      const bytes = new ArrayBuffer(16 + nums.length * 8 + tags.length + text.length);
      const head = new DataView(bytes, 0, 16);
      [count, nums.length, tags.length, text.length].forEach((n, i) => head.setUint32(i * 4, n, true));
      new Float64Array(bytes, 16, nums.length).set(nums);
      new Uint8Array(bytes, 16 + nums.length * 8, tags.length).set(tags);
      new Uint8Array(bytes, 16 + nums.length * 8 + tags.length, text.length).set(text);
      return bytes;
    },
    /** the results of a family as bytes, as run() gives them, from encodeInputs' bytes */
    runInputs(name, bytes) {
      const f = family(name);
      const head = new DataView(bytes, 0, 16);
      const [count, numCount, tagCount, textCount] = [0, 1, 2, 3].map((i) => head.getUint32(i * 4, true));
      const nums = new Float64Array(bytes, 16, numCount);
      const tags = new Uint8Array(bytes, 16 + numCount * 8, tagCount);
      const text = new Uint8Array(bytes, 16 + numCount * 8 + tagCount, textCount);
      let n = 0, t = 0, s = 0;
      const next = () => {
        const args = [];
        for (let k = tags[t++]; k > 0; k--) {
          if (t >= tagCount) throw Error(`${name}: the inputs do not match their header`);
          if (tags[t++] === 0) {
            args.push(nums[n++]);
            continue;
          }
          let end = s;
          while (end < textCount && text[end] !== 0) end++;
          if (end === textCount) throw Error(`${name}: the inputs do not match their header`);
          args.push(String.fromCharCode.apply(null, text.subarray(s, end)));
          s = end + 1;
        }
        return args;
      };
      const out = results(f, count, next);
      if (n !== numCount || t !== tagCount || s !== textCount) throw Error(`${name}: the inputs do not match their header`);
      return out;
    },
  };
})();
