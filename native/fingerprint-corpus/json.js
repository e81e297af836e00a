// JSON: property order (integer keys first), escaping, number formatting,
// reviver/replacer order, deep nesting.
let doc;
fp.define({
  run() {
    const src = '{"b":1,"a":[1.5e300,-0,1e-400,12345678901234567890],"2":"two","1":{"x":"\\u00e9\\ud83d\\ude00","y":null},"__proto__":{"p":1}}';
    const seen = [];
    doc = JSON.parse(src, function (k, v) { seen.push(k); return v; });
    const nested = [];
    let cur = nested;
    for (let i = 0; i < 200; i++) { const n = []; cur.push(i, n); cur = n; }
    return {
      roundTrip: JSON.stringify(doc),
      keys: Object.keys(doc),
      seen,
      pretty: JSON.stringify({ a: [1, { b: 2 }], c: 'x' }, null, '\t'),
      replacer: JSON.stringify({ a: 1, b: [1, 2], c: { d: 3 } }, ['c', 'a', 'd']),
      special: JSON.stringify([NaN, Infinity, -0, undefined, () => 1, Symbol('s'), new Date(0)]),
      nestedLength: JSON.stringify(nested).length,
      errors: ['{', '[1,]', '{"a":1,}', 'tru', '"\\x"'].map((s) => { try { JSON.parse(s); return 'ok'; } catch (e) { return e.name; } }),
    };
  },
  resume() {
    doc.added = { when: 'resume' };
    return JSON.stringify(doc);
  },
});
