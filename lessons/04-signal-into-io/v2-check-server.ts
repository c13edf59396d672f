// For lesson.test.ts's "lesson 04 in SDK 2.x" tests only: server.ts's process_large_file served by
// `@modelcontextprotocol/server` 2.x (2025-11-25, with sessions; lesson 01's sessions-v2.ts wiring),
// reading through the very same four layers (layers.ts) handed `ctx.mcpReq.signal` where server.ts
// hands `extra.signal`, and answering a cancel with the same -32800 (lesson 01's answerCancelled).
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { answerCancelled, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { registerJobStatusV2, serveSessionsV2 } from '../01-cancel-by-id/sessions-v2.ts';
import { ensureSampleFile } from '../shared/data-folder.ts';
import { trackJob } from '../shared/jobs.ts';
import { createTimeline } from '../shared/timeline.ts';
import { openDatabase } from './database.ts';
import { SOURCES, type LayerRun, type Source } from './layers.ts';
import { io, port } from './server-flags.ts';
import { startUpstreamForJobs } from './slow-upstream.ts';

const log = createTimeline('server');
const largeFile = ensureSampleFile(join(import.meta.dirname, 'data'), 'large.txt', 8 * 1024 * 1024);
const upstream = await startUpstreamForJobs(log);
const db = await openDatabase(undefined, log); // PGlite
const layers: Record<Source, (run: LayerRun, signal: AbortSignal) => Promise<void>> = {
  http: (run, signal) => io.fetchFromUpstream(run, upstream.urlFor(run.job, run.chunks, run.chunkDelayMs), signal),
  child: (run, signal) => io.runChildProcess(run, signal),
  file: (run, signal) => io.readLargeFile(run, largeFile, signal),
  db: (run, signal) => io.queryDatabase(run, db, signal),
};

const running = await serveSessionsV2({
  port,
  keepAliveMs: 15_000,
  log,
  createServer(transport, jobs) {
    const server = new McpServer({ name: 'lesson-04-signal-into-io-v2', version: '1.0.0' });
    server.registerTool(
      'process_large_file',
      {
        inputSchema: z.object({
          source: z.enum(SOURCES),
          chunks: z.number().int().min(1).max(1000).default(20),
          chunkDelayMs: z.number().int().min(0).max(10_000).default(250),
        }),
      },
      async ({ source, chunks, chunkDelayMs }, ctx) => {
        const { id, signal } = ctx.mcpReq;
        const fields = { tool: 'process_large_file', file: source, chunksTotal: chunks };
        const job = trackJob(jobs, id, fields, `from ${source}, ${chunks} chunks`, log);
        const onChunk = () => void job.chunksDone++;
        try {
          await layers[source]({ job, chunks, chunkDelayMs, log, onChunk }, signal); // every I/O call gets the signal
          job.completed();
          job.reply = 'result';
          return { content: [{ type: 'text', text: `Read ${job.chunksDone} chunks from ${source}` }] };
        } catch (error) {
          if (!signal.aborted) throw job.failed(error);
          job.stopped(stopReason(signal));
          if (job.cancel) await answerCancelled(transport, job, log, { source });
          else job.reply = `nothing (${stopReason(signal)})`;
          return { content: [{ type: 'text', text: 'cancelled' }] }; // dropped by the SDK
        }
      },
    );
    registerJobStatusV2(server, jobs);
    return server;
  },
});
log.ok(`listening on ${running.url}  (SDK 2.x, 2025-11-25 with sessions; database: ${db.label})`);
