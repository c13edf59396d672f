// Lesson 03 server: one process_large_file tool whose `strategy` argument picks how the handler
// works and waits, so the same cancel can be watched stopping it fast, late, or not at all.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { join, relative } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool } from '../shared/jobs.ts';
import { serveMcpOrExit, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { port, run, strategiesFile } from './server-flags.ts';
import { STRATEGIES, STRATEGY_DESCRIPTIONS } from './strategies.ts';

const log = createTimeline('server');
const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

function createServer({ transport, jobs }: NewSession) {
  const server = new McpServer({ name: 'lesson-03-cooperative-handlers', version: '1.0.0' });

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Processes a file from the lesson data folder in `chunks` chunks of `chunkMs` ms each, the way ' +
        '`strategy` says. The strategies differ only in how the handler waits and works, and so in how ' +
        'fast a cancel stops it.',
      inputSchema: {
        strategy: z.enum(STRATEGIES).describe(STRATEGIES.map((s) => `${s}: ${STRATEGY_DESCRIPTIONS[s]}`).join('; ')),
        path: z.string().min(1).default('sample.txt').describe('a file inside the lesson data folder'),
        chunks: z.number().int().min(1).max(10_000).default(40).describe('how many chunks'),
        chunkMs: z.number().int().min(0).max(10_000).default(50).describe('how long each chunk takes, in ms'),
      },
      outputSchema: {
        status: z.enum(['completed', 'cancelled']),
        strategy: z.enum(STRATEGIES),
        chunksDone: z.number(),
        chunksTotal: z.number(),
        digest: z.string().optional().describe('SHA-256 over the work done; only when completed'),
      },
    },
    async ({ strategy, path, chunks, chunkMs }, extra) => {
      const file = resolveInDataFolder(dataFolder, path, dataLabel);
      const id = `#${extra.requestId}`;
      const job = jobs.start(extra.requestId, {
        tool: `process_large_file (${strategy})`,
        file: path,
        chunksTotal: chunks,
      });
      log.event(`tools/call ${id}: process_large_file, strategy ${strategy}, ${chunks} chunks × ${chunkMs} ms`);
      const note = (message: string) => log.detail(`${id} ${message}`);

      let digest: string;
      try {
        digest = await run[strategy]({ file, chunks, chunkMs, job, signal: extra.signal, note });
      } catch (error) {
        if (!extra.signal.aborted) {
          job.state = 'failed';
          throw error; // McpServer turns it into a tool error result
        }
        // The strategy has stopped and released what it held (its `finally` ran): now answer.
        job.state = 'cancelled';
        job.stoppedAt = performance.now();
        const why = job.cancel
          ? `${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after the cancel, which arrived after chunk ${job.cancel.chunksDoneThen}`
          : stopReason(extra.signal);
        log.highlight(`${id} stopped after chunk ${job.chunksDone}/${chunks} (${why})`);
        if (job.cancel) await answerCancelled(transport, job, log, { strategy });
        else job.reply = `nothing (${stopReason(extra.signal)})`;
        // SDK 1.x drops whatever a cancelled handler returns; answerCancelled already sent the answer.
        return { content: [{ type: 'text', text: `Cancelled after ${job.chunksDone} of ${chunks} chunks` }] };
      }

      job.state = 'completed';
      const result = {
        status: 'completed' as const,
        strategy,
        chunksDone: job.chunksDone,
        chunksTotal: chunks,
        digest,
      };
      const toolResult = {
        content: [
          { type: 'text' as const, text: `Processed ${path} with ${strategy}: ${chunks} chunks, digest ${digest}` },
        ],
        structuredContent: result,
      };
      // A cancel that arrived during the last chunk: a polling strategy ran on to the end.
      if (await sendResultAfterLateCancel(transport, extra, job, toolResult, log)) return toolResult;
      job.reply = 'result';
      log.ok(`${id} completed all ${chunks} chunks: replying with the result`);
      return toolResult;
    },
  );

  registerJobStatusTool(server, jobs);
  return server;
}

const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: (session, message) => noteCancel(session.jobs, message, log),
});
log.ok(`listening on ${running.url}  (data folder: ${dataLabel})`);
if (strategiesFile) log.warn(`the strategies come from ${strategiesFile}, not strategies.ts`);
