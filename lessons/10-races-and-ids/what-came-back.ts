// Lesson 10 client: what came back for a call, as one line (a result, a -32800, another error),
// and the word a scenario's checks compare.
import { McpError, type CallToolResult, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { Timeline } from '../shared/timeline.ts';

export const REQUEST_CANCELLED = -32800; // LSP's RequestCancelled, what the lesson servers answer a cancelled call with

export type Settled = { result: CallToolResult } | { error: unknown };

/** Prints how call `id` settled on `session`; returns 'result', 'tool error', 'cancelled', 'error N' or 'failed'. */
export function describe(session: { log: Timeline; tag: string }, id: RequestId, settled: Settled): string {
  const { log, tag } = session;
  if ('result' in settled) {
    const text = settled.result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
    log.ok(
      `[${tag}] <- #${JSON.stringify(id)} result: ${text.replace(/sha256 ([0-9a-f]{12})[0-9a-f]+/, 'sha256 $1…')}`,
    );
    return settled.result.isError ? 'tool error' : 'result';
  }
  const error = settled.error;
  if (error instanceof McpError) {
    log.highlight(`[${tag}] <- #${JSON.stringify(id)} error ${error.code} "${error.message}"`);
    return error.code === REQUEST_CANCELLED ? 'cancelled' : `error ${error.code}`;
  }
  log.fail(`[${tag}] <- #${JSON.stringify(id)} ${String(error)}`);
  return 'failed';
}
