/** Types for registry-rules.mjs (plain JavaScript: it runs inside the registry's own Node). */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
export function totp(secretHex: string, ms?: number, digits?: number): string;
export function npmRulesGate(
  readRules: () => Record<string, unknown>,
  next: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void;
export function installNpmRules(server: Server, rulesFile: string): void;
