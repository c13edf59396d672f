import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isJSONRPCRequest, type RequestId } from '@modelcontextprotocol/sdk/types.js';

/**
 * SDK 1.x has no public API for a request's id; wrapping the transport's `send` sees each one as it
 * leaves (lesson 01 explains). Returns a function that resolves with the id of the next `tools/call`
 * of `toolName`: call it before `callTool`, await it after.
 */
export function watchCallIds(transport: StreamableHTTPClientTransport, toolName: string): () => Promise<RequestId> {
  let waiting: ((id: RequestId) => void) | undefined;
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (isJSONRPCRequest(message) && message.method === 'tools/call' && message.params?.name === toolName) {
      waiting?.(message.id);
    }
    return send(message, options);
  };
  return () => new Promise((resolve) => (waiting = resolve));
}
