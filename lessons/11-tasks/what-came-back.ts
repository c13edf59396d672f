// What the lesson 11 client was answered, as it prints it, and what it observed in the end: said,
// and handed to its test (proof.ts).
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import type { Outcome } from './client-flags.ts';

/** An McpError's code and the message as it came over the wire (the SDK client prefixes "MCP error N: "). */
export const wireError = (error: unknown): { code?: number; message: string } =>
  error instanceof McpError
    ? { code: error.code, message: error.message.replace(/^MCP error -?\d+: /, '') }
    : { message: (error as Error).message };

export function describeError(error: unknown): string {
  const { code, message } = wireError(error);
  return code === undefined ? `error "${message}"` : `error ${code} "${message}"`;
}

/** Says whether what came back is what `--expect` asked for; exit code 1 when it is not. */
export function judge(observed: Outcome, expected: Outcome, log: Timeline): void {
  prove({ type: 'outcome', observed, expected });
  if (observed === expected) {
    log.ok(`observed: ${observed}, as expected`);
  } else {
    log.fail(`observed: ${observed}, expected: ${expected}`);
    process.exitCode = 1;
  }
}
