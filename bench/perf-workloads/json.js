// JSON.stringify and JSON.parse of nested structures
(() => {
  const doc = {
    list: Array.from({ length: 300 }, (_, i) => ({
      id: i,
      name: `item-${i}`,
      tags: ['a', 'b', String(i % 7)],
      nested: { v: i / 4, ok: i % 2 === 0 },
    })),
  };
  let n = 0;
  for (let i = 0; i < 150; i++) {
    const text = JSON.stringify(doc);
    n += JSON.parse(text).list.length + text.length;
  }
  return n;
})();
