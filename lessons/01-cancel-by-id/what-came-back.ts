// What came back for the lesson 01 client's call, named and said: an error -32800, a result, or nothing.
import { McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { REQUEST_CANCELLED } from './cancellation.ts';
import type { Outcome } from './client-flags.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';

export type Settled = { result: CallToolResult } | { error: unknown } | { silent: true };

/** The call's outcome, whichever way it settles. */
export const settle = (call: Promise<unknown>): Promise<Settled> =>
  call.then(
    (result) => ({ result: result as CallToolResult }),
    (error: unknown) => ({ error }),
  );

/** Waits up to `waitMs` for the call to settle; `{ silent: true }` if it has not by then. */
export async function settledWithin(settled: Promise<Settled>, waitMs: number): Promise<Settled> {
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<Settled>((resolve) => (timer = setTimeout(() => resolve({ silent: true }), waitMs)));
  try {
    return await Promise.race([settled, silence]);
  } finally {
    clearTimeout(timer);
  }
}

export function describe(settled: Settled, waitMs: number, expected: Outcome, log: Timeline): Outcome | 'failed' {
  const { error } = settled as { error?: McpError };
  prove({ type: 'came-back', ...settled, ...(error && { error: { code: error.code, data: error.data } }) });
  if ('silent' in settled) {
    log.highlight(`no response within ${waitMs} ms of the cancel: stopped waiting`);
    log.detail('that is the spec default: a receiver SHOULD NOT reply to a cancelled request');
    return 'none';
  }
  if ('error' in settled) {
    if (error instanceof McpError && error.code === REQUEST_CANCELLED) {
      log.highlight(`<- error ${error.code} "Request cancelled", data ${JSON.stringify(error.data)}`);
      log.detail("-32800 is LSP's RequestCancelled code; MCP itself defines no error code for a cancel");
      return 'error';
    }
    log.fail(`<- error: ${error instanceof Error ? error.message : String(error)}`);
    return 'failed';
  }
  const { result } = settled;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ');
  if (result.isError) {
    (expected === 'tool-error' ? log.highlight : log.fail)(`<- tool error: ${text}`);
    return 'tool-error';
  }
  if ((result.structuredContent as { status?: string } | undefined)?.status === 'cancelled') {
    log.highlight(`<- result (isError: false): "${text}"`);
    return 'result';
  }
  log.ok(`<- result: ${text}`);
  return 'completed';
}

/**
 * Says whether what came back is what `--expect` asked for, and hands it to the test (proof.ts);
 * exit code 1 when it is not. The later lessons' clients end the same way, with this.
 */
export function judge<O extends string>(observed: O | 'failed', expected: O, log: Timeline): void {
  prove({ type: 'outcome', observed, expected });
  if (observed === expected) {
    log.ok(`observed: ${observed}, as expected`);
  } else {
    log.fail(`observed: ${observed}, expected: ${expected}`);
    process.exitCode = 1;
  }
}
