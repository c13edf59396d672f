// For lesson.test.ts's "lesson 03 in SDK 2.x" tests only: server.ts's process_large_file served by
// `@modelcontextprotocol/server` 2.x (2025-11-25, with sessions; lesson 01's sessions-v2.ts wiring),
// running the very same strategies (strategies.ts) with `ctx.mcpReq.signal` where server.ts passes
// `extra.signal`, and answering a cancel with the same -32800 (lesson 01's answerCancelled).
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { answerCancelled, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { registerJobStatusV2, serveSessionsV2 } from '../01-cancel-by-id/sessions-v2.ts';
import { ensureSampleFile } from '../shared/data-folder.ts';
import { createTimeline } from '../shared/timeline.ts';
import { port, run } from './server-flags.ts';
import { STRATEGIES } from './strategies.ts';

const log = createTimeline('server');
const file = ensureSampleFile(join(import.meta.dirname, 'data'), 'sample.txt', 1024 * 1024);

const running = await serveSessionsV2({
  port,
  keepAliveMs: 15_000,
  log,
  createServer(transport, jobs) {
    const server = new McpServer({ name: 'lesson-03-cooperative-handlers-v2', version: '1.0.0' });
    server.registerTool(
      'process_large_file',
      {
        inputSchema: z.object({
          strategy: z.enum(STRATEGIES),
          chunks: z.number().int().min(1).max(10_000).default(40),
          chunkMs: z.number().int().min(0).max(10_000).default(50),
        }),
      },
      async ({ strategy, chunks, chunkMs }, ctx) => {
        const { id, signal } = ctx.mcpReq;
        const job = jobs.start(id, {
          tool: `process_large_file (${strategy})`,
          file: 'sample.txt',
          chunksTotal: chunks,
        });
        const note = (message: string) => log.detail(`#${id} ${message}`);
        try {
          const digest = await run[strategy]({ file, chunks, chunkMs, job, signal, note });
          job.state = 'completed';
          job.reply = 'result';
          return { content: [{ type: 'text', text: `digest ${digest}` }] };
        } catch (error) {
          if (!signal.aborted) throw error;
          job.state = 'cancelled';
          job.stoppedAt = performance.now();
          if (job.cancel) await answerCancelled(transport, job, log, { strategy });
          else job.reply = `nothing (${stopReason(signal)})`;
          return { content: [{ type: 'text', text: 'cancelled' }] }; // dropped by the SDK
        }
      },
    );
    registerJobStatusV2(server, jobs);
    return server;
  },
});
log.ok(`listening on ${running.url}  (SDK 2.x, 2025-11-25 with sessions)`);
