// The embedded registry's workarounds for Verdaccio 9 bugs (scripts/lib/publish/verdaccio-workarounds.mjs).
// Its racing package-list writes, on a stand-in fs whose writes take as long as
// the test says: chosen files are written one at a time, in call order, whole
// (temporary file then rename); other files go straight through.
import t from 'tap';
import { createServer, ServerResponse, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ignoreLateContentLength,
  writeWholeOneAtATime,
  type WritableFs,
} from '../../scripts/lib/publish/verdaccio-workarounds.mjs';

function standInFs() {
  const files = new Map<string, string>();
  const events: string[] = [];
  let active = 0;
  let overlapped = false;
  const fs: WritableFs & { failNext?: boolean } = {
    async writeFile(file, data) {
      const path = String(file);
      events.push(`start ${path.replace(/\.\d+\.\d+\.tmp$/, '.tmp')}`);
      active++;
      if (active > 1) overlapped = true;
      // a longer text takes longer: unserialized, the short write would finish first
      await new Promise((r) => setTimeout(r, String(data).length));
      active--;
      if (fs.failNext) {
        fs.failNext = false;
        throw new Error('disk full (planted)');
      }
      files.set(path, String(data));
    },
    async rename(from, to) {
      files.set(to, files.get(from)!);
      files.delete(from);
      events.push(`rename -> ${to}`);
    },
  };
  return { fs, files, events, overlapped: () => overlapped };
}

const DB = '/storage/.verdaccio-db.json';
const chosen = (f: string) => f.endsWith('/.verdaccio-db.json');

t.test('chosen writes go one at a time, in call order, and the last call wins', async (t) => {
  const s = standInFs();
  writeWholeOneAtATime(s.fs, chosen);
  const long = JSON.stringify({ list: ['a', 'b', 'c'], pad: 'x'.repeat(40) });
  const short = JSON.stringify({ list: ['a'] });
  await Promise.all([s.fs.writeFile(DB, long), s.fs.writeFile(DB, short)]);
  t.notOk(s.overlapped(), 'no two writes of the list were in flight together');
  t.equal(s.files.get(DB), short, 'the file holds the last call, whole');
  t.same(
    s.events,
    [`start ${DB}.tmp`, `rename -> ${DB}`, `start ${DB}.tmp`, `rename -> ${DB}`],
    'each write lands by a rename',
  );
  t.same([...s.files.keys()], [DB], 'no temporary file is left');
});

t.test('a failed write is reported to its caller and does not stop the next one', async (t) => {
  const s = standInFs();
  writeWholeOneAtATime(s.fs, chosen);
  s.fs.failNext = true;
  const [first, second] = await Promise.allSettled([
    s.fs.writeFile(DB, '{"list":[1]}'),
    s.fs.writeFile(DB, '{"list":[2]}'),
  ]);
  t.equal(first.status, 'rejected');
  t.match((first as PromiseRejectedResult).reason.message, /disk full/);
  t.equal(second.status, 'fulfilled');
  t.equal(s.files.get(DB), '{"list":[2]}');
});

t.test('other files are written as before: straight through, in parallel', async (t) => {
  const s = standInFs();
  writeWholeOneAtATime(s.fs, chosen);
  await Promise.all([
    s.fs.writeFile('/storage/a/package.json', 'x'.repeat(30)),
    s.fs.writeFile('/storage/b/package.json', 'y'),
  ]);
  t.ok(s.overlapped(), 'the two writes were in flight together');
  t.same(
    s.events,
    ['start /storage/a/package.json', 'start /storage/b/package.json'],
    'no temporary files, no renames',
  );
});

t.test('without the wrapper the stand-in shows the race it guards against', async (t) => {
  const s = standInFs();
  await Promise.all([s.fs.writeFile(DB, 'x'.repeat(30)), s.fs.writeFile(DB, 'y')]);
  t.ok(s.overlapped(), 'writes overlap');
  t.equal(s.files.get(DB), 'x'.repeat(30), 'and the earlier call, finishing last, wins');
});

// ---------------------------------------------------------------- a Content-Length set after the body began
// A real HTTP server: the handler starts the body, then sets Content-Length, as
// Verdaccio's staged-tarball download does when its fstat comes back late.
async function lateHeader(
  proto: typeof ServerResponse.prototype,
  name = 'Content-Length',
): Promise<{ thrown: string | null; body: string }> {
  let thrown: string | null = null;
  const server = createServer((req, res) => {
    res.write('part one, ');
    try {
      proto.setHeader.call(res, name, '100');
    } catch (e) {
      thrown = (e as NodeJS.ErrnoException).code ?? String(e);
    }
    res.end('part two');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return { thrown, body: await res.text() };
  } finally {
    server.close();
  }
}

t.test('a Content-Length set after the body began is ignored, not thrown; earlier ones still apply', async (t) => {
  const asShipped = await lateHeader(ServerResponse.prototype);
  t.equal(asShipped.thrown, 'ERR_HTTP_HEADERS_SENT', 'Node throws without the workaround (what took Verdaccio down)');
  // a copy of the prototype, so the real one stays as Node ships it for the other tests
  const proto = Object.create(ServerResponse.prototype) as typeof ServerResponse.prototype;
  ignoreLateContentLength(proto);
  const fixed = await lateHeader(proto);
  t.equal(fixed.thrown, null, 'with it, nothing is thrown');
  t.equal(fixed.body, 'part one, part two', 'and the client gets the whole body');
  const early = new ServerResponse({ method: 'GET' } as IncomingMessage);
  proto.setHeader.call(early, 'Content-Length', '7');
  t.equal(early.getHeader('content-length'), '7', 'before the headers go out it is set as usual');
  t.equal((await lateHeader(proto, 'X-Other')).thrown, 'ERR_HTTP_HEADERS_SENT', 'other late headers still throw');
});
