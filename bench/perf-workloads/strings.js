// concatenation, split/join, templates, regular expressions
(() => {
  let s = '';
  let n = 0;
  for (let i = 0; i < 30000; i++) {
    const w = `w${i % 97}-${(i * 31) % 1000}`;
    s += w + ' ';
    if (s.length > 4000) {
      n += s
        .split(' ')
        .map((x) => x.toUpperCase())
        .join(',')
        .replace(/W(\d+)-/g, '$1:').length;
      s = '';
    }
  }
  return n;
})();
