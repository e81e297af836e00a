// Strings, Unicode and regular expressions: case mapping, normalization,
// surrogate pairs, property escapes, named groups, lookbehind, sticky flags.
const text = 'Straße İstanbul ǅemal café cafe\u0301 ﬁnance 𝒳𝒴 😀👍🏽 Ω Å 你好 ١٢٣ ';
let words;
fp.define({
  run() {
    words = text.split(/\s+/u).filter(Boolean);
    return {
      upper: text.toUpperCase(),
      lower: text.toLowerCase(),
      nf: ['NFC', 'NFD', 'NFKC', 'NFKD'].map((f) => [...text.normalize(f)].length),
      units: text.length,
      points: [...text].length,
      codePoints: [...'𝒳😀'].map((c) => c.codePointAt(0)),
      sorted: [...words].sort(),
      compare: words.map((w) => w.localeCompare('café')),
      letters: text.match(/\p{L}+/gu),
      digits: text.match(/\p{Nd}/gu),
      emoji: text.match(/\p{Extended_Pictographic}/gu),
      named: '2024-02-29T12:34'.match(/(?<y>\d{4})-(?<m>\d\d)-(?<d>\d\d)/).groups,
      lookbehind: 'price: $42, €17'.match(/(?<=[$€])\d+/g),
      replaced: 'a-b_c d'.replace(/[-_ ](.)/g, (_, c) => c.toUpperCase()),
      sticky: (() => { const r = /a/y; r.lastIndex = 1; return [r.test('ba'), r.lastIndex]; })(),
      splitLimit: 'a,b,,c'.split(',', 3),
      pad: ['x'.padStart(5, 'ab'), 'x'.padEnd(4, '12')],
      escapes: JSON.stringify('\u2028\u2029\ud800'),
      raw: String.raw`a\n${1 + 1}`,
      trim: '\u00a0\ufeff x \u2003'.trim(),
    };
  },
  resume() {
    const re = /(\w)(\d)?/g;
    const all = [...'a1bc2'.matchAll(re)].map((m) => [m[0], m[1], m[2], m.index]);
    return { words: words.length, all, big: 'ab'.repeat(5000).replace(/ba/g, 'x').length, at: 'hello'.at(-1) };
  },
});
