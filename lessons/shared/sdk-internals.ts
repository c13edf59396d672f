// What lessons/shared reads of SDK 1.x's private state, in one place: nothing public says which
// methods a server handles, or when a request's handler has finished cleaning up. If the SDK
// renames either, these fail loudly instead of guessing.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';

/** The methods a session's server has a request handler for (private in SDK 1.x, like the map below). */
export function handledMethods(server: McpServer): Map<string, unknown> {
  const handlers = (server.server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  if (!(handlers instanceof Map)) throw new Error('SDK changed: Protocol._requestHandlers is gone');
  return handlers as Map<string, unknown>;
}

/**
 * The request handlers running in a session: the SDK's own record, one AbortController per request,
 * removed once the handler has settled (its `finally` included). It is private in SDK 1.x, read here
 * because nothing public says when a handler has finished cleaning up; if it is gone, this fails loudly.
 */
export function runningHandlers(server: McpServer): Map<RequestId, AbortController> {
  const protocol = server.server as unknown as { _requestHandlerAbortControllers?: unknown };
  const handlers = protocol._requestHandlerAbortControllers;
  if (!(handlers instanceof Map)) {
    throw new Error(
      'SDK changed: Protocol._requestHandlerAbortControllers is gone; the shutdown cannot see running handlers',
    );
  }
  return handlers as Map<RequestId, AbortController>;
}
