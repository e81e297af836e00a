/** Types for verdaccio-workarounds.mjs (plain JavaScript: it runs on the registry's own Node). */
export interface WritableFs {
  writeFile(file: unknown, data: unknown, options?: unknown): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}
export function writeWholeOneAtATime(fsPromises: WritableFs, chosen: (file: string) => boolean): void;
export function ignoreLateContentLength(responsePrototype: {
  setHeader(name: string, value: number | string | readonly string[]): unknown;
}): void;
