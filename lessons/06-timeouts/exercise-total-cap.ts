// Lesson 06 exercise: total-cap.ts with its point taken out, a total cap that sends stale cancels.
//
// The SDK's own `maxTotalTimeout` cannot do this today: it is ignored without
// `resetTimeoutOnProgress`, checked only when a progress notification arrives, and when it does
// fire it sends no cancel (upstream issue #2695; lesson.test.ts pins all three). An AbortSignal
// of your own has none of those problems: the SDK cancels the request the moment it aborts.
//
// But SDK 1.x never removes the abort listener it adds to that signal (shared/protocol.js), and
// sends `notifications/cancelled` whenever the signal aborts, even long after the call finished.
// The spec allows a cancel only for a request "believed to still be in-progress"
// (https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation).
// This one caps the call with `AbortSignal.timeout(totalMs)`, joined to the caller's signal: when
// the cap passes or the caller aborts after the call completed, the SDK cancels a call that is over.
// Fix it where the EXERCISE comments are, then check it: `npm run learn -- 06` (see the README).
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  ErrorCode,
  McpError,
  type CallToolRequest,
  type CallToolResult,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';

export interface CappedCallOptions {
  /** The most the whole call may take, whatever progress arrives. */
  totalMs: number;
  /** Give up when nothing (no progress, no reply) arrives for this long; each progress resets it. */
  idleMs: number;
  /** The caller's own cancel, e.g. a Stop button. Aborting it after the call settled sends nothing. */
  signal?: AbortSignal;
  onprogress?: (progress: Progress) => void;
}

export type CallStop =
  | { kind: 'total cap'; totalMs: number }
  | { kind: 'caller cancel'; reason: unknown }
  | { kind: 'idle timeout'; idleMs: number };

/** Why a capped call ended without a reply. `cause` is the SDK's error (McpError -32001 in every case). */
export class CallStoppedError extends Error {
  override name = 'CallStoppedError';
  constructor(
    readonly stop: CallStop,
    cause: unknown,
  ) {
    const why =
      stop.kind === 'total cap'
        ? `the total cap of ${stop.totalMs} ms passed`
        : stop.kind === 'idle timeout'
          ? `nothing arrived for ${stop.idleMs} ms`
          : `the caller cancelled (${String(stop.reason)})`;
    super(`call stopped: ${why}`, { cause });
  }
}

/**
 * `client.callTool` with an idle timeout that progress resets and a total cap that nothing resets.
 * On any of the three stops the SDK sends `notifications/cancelled` for the request and rejects;
 * once the call has settled, nothing sends a cancel for it.
 */
export async function callToolWithTotalCap(
  client: Client,
  params: CallToolRequest['params'],
  { totalMs, idleMs, signal, onprogress = () => {} }: CappedCallOptions,
): Promise<CallToolResult> {
  // EXERCISE 1: this signal stays abortable after the call settles: the timeout still fires at
  // totalMs, and the caller can still abort. SDK 1.x is listening to it for good, and cancels then.
  const cap = AbortSignal.timeout(totalMs);
  const callSignal = signal ? AbortSignal.any([signal, cap]) : cap;
  try {
    return (await client.callTool(params, undefined, {
      signal: callSignal,
      timeout: idleMs,
      resetTimeoutOnProgress: true,
      onprogress, // the SDK asks for progress (adds a progressToken) only when there is a handler
    })) as CallToolResult;
  } catch (error) {
    // SDK 1.x rejects an abort and a timeout alike, with McpError -32001; what aborted says which it was.
    if (cap.aborted) throw new CallStoppedError({ kind: 'total cap', totalMs }, error);
    if (signal?.aborted) throw new CallStoppedError({ kind: 'caller cancel', reason: signal.reason }, error);
    if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
      throw new CallStoppedError({ kind: 'idle timeout', idleMs }, error);
    }
    throw error;
  }
  // EXERCISE 2: nothing here runs once the call has settled, to make sure nothing aborts its signal later.
}
