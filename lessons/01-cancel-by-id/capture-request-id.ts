// How a client learns the id of its tools/call before it cancels it: taught here (lesson 01), and
// imported from here by the later lessons' clients that cancel by id.
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isJSONRPCRequest, type JSONRPCRequest, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { deferred } from '../shared/wait.ts';

/**
 * SDK 1.x has no public "next request id" API (the counter is private). Wrapping the transport's
 * `send` sees every message as it leaves, so the id captured is the id on the wire, whatever
 * numbering the SDK uses. The Transport interface is public; the counter is not.
 *
 * It resolves once the server has answered the POST (the SSE stream's headers): SDK 1.x's server
 * hands the request to its handler before it answers (server/webStandardStreamableHttp.js), so a
 * cancel sent from then on cannot overtake the request and find nothing to cancel (the race in
 * the spec's Cancellation, Timing Considerations).
 */
export function captureRequestId(
  transport: StreamableHTTPClientTransport,
  matches: (request: JSONRPCRequest) => boolean,
): Promise<RequestId> {
  const captured = deferred<RequestId>();
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    const sent = send(message, options);
    if (isJSONRPCRequest(message) && matches(message)) {
      const answered = () => captured.resolve(message.id);
      sent.then(answered, answered); // a failed send is reported by callTool itself
    }
    return sent;
  };
  return captured.promise;
}

/**
 * The same for a client that makes several calls: returns a function that resolves with the id of
 * the next `tools/call` of `toolName` as it leaves. Call it before `callTool`, await it after.
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
