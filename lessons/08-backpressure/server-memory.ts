// The lesson's inspection tool, server_memory: how the slow reader watches the server's memory
// while it stalls (and so whether a live view stays bounded).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

export function registerServerMemoryTool(server: McpServer) {
  server.registerTool(
    'server_memory',
    {
      title: 'Server memory',
      description: "This server process's memory, from process.memoryUsage(), in bytes.",
      outputSchema: { rss: z.number(), heapUsed: z.number(), external: z.number(), arrayBuffers: z.number() },
    },
    async () => {
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
      const memory = { rss, heapUsed, external, arrayBuffers };
      return { content: [{ type: 'text', text: JSON.stringify(memory) }], structuredContent: memory };
    },
  );
}
