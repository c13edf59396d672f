// Lesson 07 client's record of the wire: what goes out and comes in, as it does: the id and
// progressToken of our call; replies the SDK no longer waits for.
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  isJSONRPCRequest,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCResponse,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';

export type Wire = ReturnType<typeof recordWire>;

/** Wraps the transport's `send`; call `listen()` once connected (connect sets `onmessage`). */
export function recordWire(transport: StreamableHTTPClientTransport) {
  let call: { id: RequestId; progressToken: unknown } | undefined;
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (isJSONRPCRequest(message) && message.method === 'tools/call' && !call) {
      call = { id: message.id, progressToken: message.params?._meta?.progressToken };
      prove({ type: 'call', ...call, tool: message.params?.name });
    }
    return send(message, options);
  };
  const received: JSONRPCMessage[] = [];
  return {
    /** The first tools/call, once it has left: its id and `_meta.progressToken`. */
    get call() {
      return call;
    },
    listen() {
      const onmessage = transport.onmessage;
      transport.onmessage = (message) => {
        received.push(message);
        onmessage?.(message);
      };
    },
    /** The server's final message (result or error) for the request, including one the SDK no longer waits for. */
    finalMessage(requestId: RequestId) {
      return received.find(
        (m): m is JSONRPCResponse | JSONRPCErrorResponse => ('result' in m || 'error' in m) && m.id === requestId,
      );
    },
  };
}
