// The lesson's inspection tool, count_held_resources: what this server process holds for its
// clients right now (counted in held-resources.ts), so a client can see what a cancelled call leaves.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RunningMcpServer } from '../shared/mcp-http.ts';
import { countHeldResources, heldResourcesSchema } from './held-resources.ts';

/** Registers count_held_resources for one session; `running` is read when the tool is called. */
export function registerCountHeldResourcesTool(
  server: McpServer,
  transport: StreamableHTTPServerTransport,
  sessionId: () => string | undefined,
  running: () => RunningMcpServer,
) {
  server.registerTool(
    'count_held_resources',
    {
      title: 'Count held resources',
      description:
        "What this server process holds right now for its clients: this session's open response streams, " +
        "the SDK's streams (each with a keep-alive timer) and request-to-stream entries, and TCP connections.",
      outputSchema: heldResourcesSchema,
    },
    async (extra) => {
      const streams = running().sessions.get(sessionId() ?? '')?.responseStreams ?? new Map();
      const open = [...streams].filter(([id, record]) => id !== extra.requestId && record.closedAt === undefined);
      const counts = countHeldResources(transport, running().port, extra.requestId, open.length);
      return { content: [{ type: 'text', text: JSON.stringify(counts) }], structuredContent: counts };
    },
  );
}
