// Verdaccio's local storage rewrites its package list (.verdaccio-db.json) with
// fs/promises.writeFile from every publish, unserialized: two approvals landing
// together interleave their writes, the file keeps another write's tail, and
// the next start refuses it ("Database is locked"), or it silently loses a
// package. Measured here: 3 of 25 rounds of six concurrent approvals under CPU
// load (bench/registry-db-race.ts). Until Verdaccio serializes
// it, writes to the chosen files go one at a time in call order (the last call
// carries the newest list) and land whole (a temporary file, then a rename).
// Plain JavaScript: loaded by registry-server.mjs on the registry's own Node.

/**
 * Replace `fsPromises.writeFile` (the object given: node:fs/promises, or a
 * stand-in in tests) with one that serializes and renames writes to files for
 * which `chosen(path)` is true; every other write goes straight through.
 */
export function writeWholeOneAtATime(fsPromises, chosen) {
  const writeFile = fsPromises.writeFile;
  const rename = fsPromises.rename;
  const pending = new Map();
  let count = 0;
  fsPromises.writeFile = function writeFileWhole(file, data, options) {
    if (typeof file !== 'string' || !chosen(file)) return writeFile.call(fsPromises, file, data, options);
    const temporary = `${file}.${process.pid}.${++count}.tmp`;
    const write = () => writeFile.call(fsPromises, temporary, data, options).then(() => rename.call(fsPromises, temporary, file));
    const done = (pending.get(file) ?? Promise.resolve()).then(write, write);
    pending.set(file, done.catch(() => undefined));
    return done;
  };
}
