// Two bugs of the pinned Verdaccio 9 (9.0.0-next-9.31) that break the embedded
// registry under load, worked around in its server process (registry-server.mjs)
// until Verdaccio fixes them. bench/registry-races.ts measures both, with and without.
// Plain JavaScript: it runs on the registry's own Node.

/**
 * Verdaccio's local storage rewrites its package list (.verdaccio-db.json) with
 * fs/promises.writeFile from every publish, unserialized: two approvals landing
 * together interleave their writes, the file keeps another write's tail, and the
 * next start refuses it ("Database is locked"), or a package drops out of it.
 * This replaces `fsPromises.writeFile` (node:fs/promises, or a stand-in in tests)
 * with one that writes files for which `chosen(path)` holds one at a time, in
 * call order (the last call carries the newest list), whole (a temporary file,
 * then a rename); every other write goes straight through.
 */
export function writeWholeOneAtATime(fsPromises, chosen) {
  const writeFile = fsPromises.writeFile;
  const rename = fsPromises.rename;
  const pending = new Map();
  let count = 0;
  fsPromises.writeFile = function writeFileWhole(file, data, options) {
    if (typeof file !== 'string' || !chosen(file)) return writeFile.call(fsPromises, file, data, options);
    const temporary = `${file}.${process.pid}.${++count}.tmp`;
    const write = () =>
      writeFile.call(fsPromises, temporary, data, options).then(() => rename.call(fsPromises, temporary, file));
    const done = (pending.get(file) ?? Promise.resolve()).then(write, write);
    pending.set(
      file,
      done.catch(() => undefined),
    );
    return done;
  };
}

/**
 * Verdaccio's staged-tarball download (GET /-/stage/:id/tarball) sets
 * Content-Length when an fstat after the file opens comes back; on a busy
 * machine the body has started by then, Node throws ERR_HTTP_HEADERS_SENT from
 * an event handler, and the whole registry exits mid-release. A Content-Length
 * set after the headers went out cannot reach the client anyway: on the given
 * ServerResponse prototype, that one call is ignored instead of thrown.
 */
export function ignoreLateContentLength(responsePrototype) {
  const setHeader = responsePrototype.setHeader;
  responsePrototype.setHeader = function setHeaderUnlessLateLength(name, value) {
    if (this.headersSent && String(name).toLowerCase() === 'content-length') return this;
    return setHeader.call(this, name, value);
  };
}
