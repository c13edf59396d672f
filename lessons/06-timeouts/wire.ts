// Lesson 06 client's record of the wire: every message it sends, as it leaves (the request ids,
// and the cancels the SDK sends on its own), and every message it receives, as it arrives
// (replies the SDK no longer waits for included). what-came-back.ts reads it.
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  CallToolResult,
  CancelledNotification,
  JSONRPCMessage,
  JSONRPCResponse,
  RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import { waitFor } from '../shared/wait.ts';

export type Settled = { result: CallToolResult } | { error: unknown };

export type Wire = ReturnType<typeof recordWire>;

/** How a call settled, as a test reads it (proof.ts): the result, or the error's name, code, message and data. */
const provable = (outcome: Settled) => {
  if ('result' in outcome) return outcome;
  const { name, code, message, data } = outcome.error as Error & { code?: unknown; data?: unknown };
  return { error: outcome.error instanceof Error ? { name, code, message, data } : { message: String(outcome.error) } };
};

/** Wraps the transport's `send`; call `listen()` once connected (connect sets `onmessage`). */
export function recordWire(transport: StreamableHTTPClientTransport) {
  const sent: JSONRPCMessage[] = [];
  const received: JSONRPCMessage[] = [];
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    sent.push(...(Array.isArray(message) ? message : [message]));
    return send(message, options);
  };
  return {
    listen() {
      const onmessage = transport.onmessage;
      transport.onmessage = (message) => {
        received.push(message);
        onmessage?.(message);
      };
    },

    repliesTo: (id: RequestId) =>
      received.filter((m): m is JSONRPCResponse => ('result' in m || 'error' in m) && 'id' in m && m.id === id),

    cancelsSentFor: (id: RequestId) =>
      sent.filter(
        (m): m is CancelledNotification & JSONRPCMessage =>
          'method' in m && m.method === 'notifications/cancelled' && m.params?.requestId === id,
      ),

    /** Starts a tools/call and returns its request id as it left, and how it settles. */
    async start(call: () => Promise<unknown>) {
      const before = sent.length;
      const settled: Promise<Settled> = call().then(
        (result) => ({ result: result as CallToolResult }),
        (error: unknown) => ({ error }),
      );
      const id = await waitFor('the tools/call to leave', () => {
        const message = sent.slice(before).find((m) => 'method' in m && m.method === 'tools/call');
        return message && 'id' in message ? message.id : undefined;
      });
      void settled.then((outcome) => prove({ type: 'came-back', requestId: id, ...provable(outcome) }));
      return { id, settled };
    },
  };
}
