// property access, classes, object literals, spread
(() => {
  class P {
    constructor(x, y) {
      this.x = x;
      this.y = y;
    }
    add(o) {
      return new P(this.x + o.x, this.y + o.y);
    }
  }
  let acc = new P(0, 0);
  let total = 0;
  for (let i = 0; i < 60000; i++) {
    const o = { a: i, b: i * 2, c: { d: i & 7 } };
    const q = { ...o, e: o.c.d };
    total += q.a + q.b + q.e;
    acc = acc.add(new P(i & 3, i & 5));
  }
  return total + acc.x + acc.y;
})();
