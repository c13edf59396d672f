// Lesson 07 exercise: flood.ts with its point taken out. Its flood_progress checks its cancel signal
// before every send, yet a cancel sent mid-flood is read only after the last notification: the
// progress goes on after the cancel. Fix it where the EXERCISE comment is, then: `npm run learn -- 07`.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { z } from 'zod';
import { answerCancelled } from '../01-cancel-by-id/cancellation.ts';
import type { JobBook } from '../shared/jobs.ts';
import type { Timeline } from '../shared/timeline.ts';

export function registerFloodProgress(
  server: McpServer,
  jobs: JobBook,
  transport: StreamableHTTPServerTransport,
  log: Timeline,
) {
  server.registerTool(
    'flood_progress',
    {
      title: 'Send progress notifications as fast as possible',
      description:
        'Sends `notifications` progress notifications in a loop, checking its cancel signal before each. ' +
        'yieldEveryNotification: false awaits each send and nothing else (the starving loop); true also ' +
        'yields to the event loop after each send (the fix). Needs a progressToken.',
      inputSchema: {
        notifications: z.number().int().min(1).max(1_000_000).default(100_000),
        yieldEveryNotification: z.boolean().default(true),
      },
    },
    async ({ notifications, yieldEveryNotification }, extra) => {
      const id = extra.requestId;
      const token = extra._meta?.progressToken;
      if (token === undefined) throw new Error('flood_progress needs a progressToken: call it with onprogress');
      const job = jobs.start(id, { tool: 'flood_progress', file: '-', chunksTotal: notifications });
      const loop = yieldEveryNotification ? 'yields after each send' : 'tight loop';
      log.event(`tools/call #${id}: flood_progress, ${notifications} notifications, ${loop}`);
      for (let i = 1; i <= notifications; i++) {
        if (extra.signal.aborted) break; // checked every time: a cancel the server has read stops the loop
        const params = { progressToken: token, progress: i, total: notifications, message: `flood ${i}` };
        await extra.sendNotification({ method: 'notifications/progress', params });
        job.chunksDone = i;
        // EXERCISE: yieldEveryNotification (the default) is meant to let a cancel in between two sends,
        // and nothing here does: the loop never gives the event loop a turn to read the cancel POST.
      }
      job.stoppedAt = performance.now();
      job.state = extra.signal.aborted ? 'cancelled' : 'completed';
      job.resources['progress'] = `${job.chunksDone} sent of ${notifications}`;
      log.highlight(`#${id} flood ${job.state} after ${job.chunksDone}/${notifications} notifications`);
      if (job.state === 'cancelled') {
        if (job.cancel) await answerCancelled(transport, job, log);
        return { content: [{ type: 'text', text: 'cancelled' }] };
      }
      job.reply = 'result';
      return { content: [{ type: 'text', text: `Sent ${notifications} progress notifications` }] };
    },
  );
}
