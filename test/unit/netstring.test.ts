import t from 'tap';
import {
  encodeNetstring,
  NetstringDecoder,
  NetstringError,
  parseOkay,
} from '../../scripts/lib/behaviour/worker-protocol.ts';

t.test('encode frames the concatenation of its parts', async (t) => {
  t.equal(encodeNetstring('e', '1+1').toString(), '4:e1+1,');
  t.equal(encodeNetstring('').toString(), '0:,');
  // length counts bytes, not characters
  t.equal(encodeNetstring('é😀').toString('utf8'), '6:é😀,');
  t.equal(
    encodeNetstring(Buffer.from([0, 1, 2]), new Uint8Array([3])).toString('hex'),
    Buffer.from('4:\x00\x01\x02\x03,', 'latin1').toString('hex'),
  );
});

t.test('decode: several messages in one chunk, and the empty message', async (t) => {
  const d = new NetstringDecoder();
  t.same(d.push(Buffer.from('1:a,0:,3:xyz,')).map(String), ['a', '', 'xyz']);
  t.equal(d.pending, 0);
});

t.test('decode: a message split at every byte boundary', async (t) => {
  const wire = Buffer.concat([encodeNetstring('.{"compute":1}\x01hello'), encodeNetstring('?é'), encodeNetstring('')]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const d = new NetstringDecoder();
    const got = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))].map((b) => b.toString('utf8'));
    t.same(got, ['.{"compute":1}\x01hello', '?é', ''], `cut at ${cut}`);
  }
  // one byte at a time
  const d = new NetstringDecoder();
  const got: string[] = [];
  for (const byte of wire) got.push(...d.push(Buffer.from([byte])).map(String));
  t.equal(got.length, 3);
  t.equal(d.pending, 0);
});

t.test('decode: a partial message is held, not returned', async (t) => {
  const d = new NetstringDecoder();
  t.same(d.push(Buffer.from('10:abc')), []);
  t.equal(d.pending, 6);
  t.same(d.push(Buffer.from('defghij,')).map(String), ['abcdefghij']);
});

t.test('decode: malformed input fails with a clear error and stays failed', async (t) => {
  const cases: [string, RegExp][] = [
    ['x:abc,', /must start with a decimal length, got byte 0x78/],
    [':abc,', /must start with a decimal length/],
    ['3;abc,', /must be followed by ':', got byte 0x3b/],
    ['3:abcd', /must end with ',', got byte 0x64/],
    ['1234567890:', /more than 9 digits/],
    ['-1:', /decimal length/],
  ];
  for (const [wire, re] of cases) {
    const d = new NetstringDecoder();
    t.throws(() => d.push(Buffer.from(wire)), re, wire);
    let again: unknown;
    try {
      d.push(Buffer.from('1:a,'));
    } catch (e) {
      again = e;
    }
    t.ok(again instanceof NetstringError, `${wire}: no resynchronisation after an error`);
  }
  const small = new NetstringDecoder(5);
  t.throws(() => small.push(Buffer.from('6:')), /exceeds the limit of 5/);
});

t.test('parseOkay splits the meter JSON from the result bytes', async (t) => {
  const r = parseOkay(
    Buffer.from('.{"currentHeapCount":3,"compute":42,"allocate":7,"timestamps":[1.5,2.5]}\x01\x00\x01ab', 'latin1'),
  );
  t.same(r.meter, { currentHeapCount: 3, compute: 42, allocate: 7 }, 'timestamps (wall clock) are dropped');
  t.same([...r.reply], [0, 1, 0x61, 0x62], 'result bytes kept exactly, including 0x01');
  t.same(parseOkay(Buffer.from('.')), { meter: {}, reply: Buffer.alloc(0) });
});
