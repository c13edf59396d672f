// Client-side helpers for cancelling MCP calls with an AbortSignal, with SDK 1.x. Copy what you need:
//
// - classifyCallFailure: why did this call fail? cancelled, timed out, connection lost, or failed.
// - closeWhenServerGone: a lost server does not fail a pending call (it waits for its timeout);
//   ping while calls are pending, and close the client when a ping fails.
// - withCallSignal: one AbortController per call, linked to a longer-lived signal only while the call runs.
// - holdCancelsUntilSent: a cancel never leaves before the request it names has reached the server.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/ping
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  isJSONRPCNotification,
  isJSONRPCRequest,
  McpError,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

export type CallFailure = 'cancelled' | 'timed out' | 'connection lost' | 'failed';

/**
 * Why a call failed. Call it in the `catch`, with the signal you passed to the call.
 *
 * SDK 1.x rejects a call aborted through its signal with McpError -32001 (RequestTimeout), the same
 * code as a real timeout, so the code alone cannot tell them apart. The caller's own signal can:
 * if it aborted, the caller (or something it delegated to, like AbortSignal.timeout) stopped the call.
 */
export function classifyCallFailure(error: unknown, signal: AbortSignal | undefined): CallFailure {
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof DOMException && reason.name === 'TimeoutError' ? 'timed out' : 'cancelled';
  }
  if (error instanceof McpError) {
    // The SDK's own `timeout` option: -32001 with the limit in `data`.
    const data = error.data as { timeout?: unknown } | undefined;
    if (error.code === ErrorCode.RequestTimeout && typeof data?.timeout === 'number') return 'timed out';
    // Client.close() rejects every pending call with this.
    if (error.code === ErrorCode.ConnectionClosed && error.message === 'MCP error -32000: Connection closed')
      return 'connection lost';
  }
  // The request could not be sent: nothing listens (fetch failed), or the session is gone (HTTP 404).
  if (error instanceof TypeError && error.message === 'fetch failed') return 'connection lost';
  if (error instanceof StreamableHTTPError && error.code === 404) return 'connection lost';
  return 'failed';
}

/**
 * With SDK 1.x over Streamable HTTP, a call whose server dies does not fail: the transport reports
 * "SSE stream disconnected" to `onerror`, and the call waits for its own timeout (60 s by default).
 * The spec's answer is ping (SHOULD periodically ping; a timeout SHOULD count as a connection
 * failure). This pings every `everyMs`, and at once on a transport error; when a ping fails it
 * closes the client, which rejects every pending call with McpError -32000 "Connection closed".
 * For 2025-11-25 only: protocol 2026-07-28 removed ping (see the README, section 2).
 */
export function closeWhenServerGone(
  client: Client,
  {
    everyMs = 1000,
    timeoutMs = 1000,
    onLost,
  }: { everyMs?: number; timeoutMs?: number; onLost?: (why: unknown) => void } = {},
): { stop(): void } {
  let checking = false;
  let stopped = false;
  const check = async () => {
    if (checking || stopped) return;
    checking = true;
    try {
      await client.ping({ timeout: timeoutMs });
    } catch (error) {
      if (stopped) return;
      stop();
      onLost?.(error);
      await client.close();
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), everyMs);
  const previousOnError = client.onerror;
  client.onerror = (error) => {
    previousOnError?.(error);
    void check();
  };
  function stop() {
    stopped = true;
    clearInterval(timer);
    client.onerror = previousOnError;
  }
  return { stop };
}

/**
 * Runs `call` with a fresh AbortSignal of its own, which `parent` aborts only while the call is
 * pending. SDK 1.x adds an 'abort' listener to the signal of every call and never removes it, so a
 * signal shared by many calls collects listeners, and aborting it later sends a
 * `notifications/cancelled` for every call it ever served. `AbortSignal.any([perCall, parent])` does
 * not help: `parent` shows no listeners, yet aborting it still cancels the calls that completed.
 */
export async function withCallSignal<T>(
  parent: AbortSignal | undefined,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const perCall = new AbortController();
  const forward = () => perCall.abort(parent?.reason);
  if (parent?.aborted) forward();
  else parent?.addEventListener('abort', forward, { once: true });
  try {
    return await call(perCall.signal);
  } finally {
    parent?.removeEventListener('abort', forward);
  }
}

/**
 * Makes the transport send a `notifications/cancelled` only after the request it names has been
 * sent, that is, after the server answered that request's POST. Without this, aborting just after
 * the call starts sends the cancel POST while the request POST is still on its way; if the cancel
 * arrives first, the server ignores it (unknown id) and then runs the request to the end.
 * The SDK's server registers a request before it answers the POST, so a cancel sent after that finds it.
 */
export function holdCancelsUntilSent(transport: Transport): void {
  const sending = new Map<string, Promise<unknown>>();
  const keyOf = (id: RequestId) => `${typeof id}:${String(id)}`;
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    if (isJSONRPCRequest(message)) {
      const sent = send(message, options);
      const key = keyOf(message.id);
      sending.set(
        key,
        sent.catch(() => {}),
      );
      try {
        return await sent;
      } finally {
        sending.delete(key);
      }
    }
    if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      const requestId = (message.params as { requestId?: RequestId } | undefined)?.requestId;
      if (requestId !== undefined) await sending.get(keyOf(requestId));
    }
    return send(message, options);
  };
}
