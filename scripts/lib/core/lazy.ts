// A package loaded the first time it is used, not when a script starts: tar, ssri and
// semver cost tens of milliseconds each to import, and a no-op build uses none of them.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A function returning the package `id` (its CommonJS build), required on the first call. */
export function lazy<T>(id: string): () => T {
  let m: T | undefined;
  return () => (m ??= require(id) as T);
}
