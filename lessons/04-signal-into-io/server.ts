// Lesson 04 server: `process_large_file` reads its data from one of four kinds of I/O (a slow HTTP
// upstream, a child process, a file stream, a database) and hands `extra.signal` to every I/O call,
// so a cancel stops the I/O itself, not only the handler. --wrong-way shows the difference.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { join, relative } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { ensureSampleFile } from '../shared/data-folder.ts';
import { registerJobStatusTool, trackJob, type Job } from '../shared/jobs.ts';
import { serveMcpOrExit, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';
import { openDatabase } from './database.ts';
import { SOURCES, type LayerRun, type Source } from './layers.ts';
import { startUpstreamForJobs } from './slow-upstream.ts';
import { io, layersFile, port, wrongWay } from './server-flags.ts';

const log = createTimeline('server');

function createServer({ transport, jobs }: NewSession) {
  const server = new McpServer({ name: 'lesson-04-signal-into-io', version: '1.0.0' });

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file, from one of four sources',
      description:
        'Reads `chunks` chunks of data from `source`, each taking about `chunkDelayMs`: "http" streams them from ' +
        'a slow HTTP upstream, "child" from a child process, "file" from a large file, "db" from SQL statements.',
      inputSchema: {
        source: z.enum(SOURCES).describe('where the data comes from: http, child, file or db'),
        chunks: z.number().int().min(1).max(1000).default(20).describe('how many chunks to read'),
        chunkDelayMs: z.number().int().min(0).max(10_000).default(250).describe('how long each chunk takes, in ms'),
      },
      outputSchema: {
        status: z.enum(['completed', 'cancelled']),
        source: z.enum(SOURCES),
        chunksDone: z.number(),
        chunksTotal: z.number(),
        bytes: z.number(),
      },
    },
    async ({ source, chunks, chunkDelayMs }, extra) => {
      const id = extra.requestId;
      const fields = { tool: 'process_large_file', file: source, chunksTotal: chunks };
      const job = trackJob(jobs, id, fields, `from ${source}, ${chunks} chunks, ${chunkDelayMs} ms each`, log);
      let bytes = 0;
      const onChunk = (size: number) => {
        bytes += size;
        job.chunksDone++;
        if (job.state === 'running') log.detail(`#${id} ${source} chunk ${job.chunksDone}/${chunks}`);
        else log.warn(`#${id} ${source} chunk ${job.chunksDone}/${chunks}, after the handler stopped`);
      };
      const run: LayerRun = { job, chunks, chunkDelayMs, log, onChunk };

      try {
        if (wrongWay) await stopWaitingOnAbort(layers[source](run, undefined), extra.signal, job);
        else await layers[source](run, extra.signal); // every I/O call inside gets the signal
        job.completed();
      } catch (error) {
        if (!extra.signal.aborted) throw job.failed(error); // McpServer turns it into a tool error result
        job.stopped(stopReason(extra.signal));
      }

      const result = {
        status: job.state === 'completed' ? 'completed' : 'cancelled',
        source,
        chunksDone: job.chunksDone,
        chunksTotal: chunks,
        bytes,
      } as const;
      if (job.state === 'cancelled') {
        if (job.cancel) await answerCancelled(transport, job, log, { source });
        else job.reply = `nothing (${stopReason(extra.signal)})`;
        return toolResult(result, `Cancelled after ${job.chunksDone} of ${chunks} chunks`); // SDK 1.x drops this
      }
      job.reply = 'result';
      log.ok(`#${id} completed: ${job.chunksDone} chunks, ${bytes} bytes from ${source}`);
      return toolResult(result, `Read ${job.chunksDone} chunks (${bytes} bytes) from ${source}`);
    },
  );

  registerJobStatusTool(server, jobs);
  return server;
}

// ---------------------------------------------------------------------------------------------
// The four layers, and start-up.

const largeFile = ensureSampleFile(join(import.meta.dirname, 'data'), 'large.txt', 8 * 1024 * 1024);

const upstream = await startUpstreamForJobs(log);

const layers: Record<Source, (run: LayerRun, signal: AbortSignal | undefined) => Promise<void>> = {
  http: (run, signal) => io.fetchFromUpstream(run, upstream.urlFor(run.job, run.chunks, run.chunkDelayMs), signal),
  child: (run, signal) => io.runChildProcess(run, signal),
  file: (run, signal) => io.readLargeFile(run, largeFile, signal),
  db: (run, signal) => io.queryDatabase(run, db, signal),
};

const toolResult = (structuredContent: Record<string, unknown>, text: string) => ({
  content: [{ type: 'text' as const, text }],
  structuredContent,
});

/**
 * The wrong way (--wrong-way): the handler returns as soon as its signal fires, but the I/O was
 * never given the signal, so it goes on, unseen, until it ends by itself.
 */
async function stopWaitingOnAbort(io: Promise<void>, signal: AbortSignal, job: Job): Promise<void> {
  void io.then(
    () => job.state !== 'running' && log.warn(`#${job.requestId} its I/O ran to the end, after the handler stopped`),
    () => {},
  );
  const aborted = new Promise<never>((_, reject) => {
    signal.throwIfAborted();
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {});
  await Promise.race([io, aborted]);
}

const databaseOpen = deferred<void>();
const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: (session, message) => noteCancel(session.jobs, message, log),
  servesAfter: databaseOpen.promise, // a client that comes early waits for the database
});
// The database after the port: a busy port is reported at once, not after PGlite's seconds.
const db = await openDatabase(process.env.DATABASE_URL, log).catch((error: Error) => {
  log.fail(`cannot open the database at DATABASE_URL: ${error.message}`);
  process.exit(1);
});
databaseOpen.resolve();
log.ok(`listening on ${running.url}  (database: ${db.label})`);
log.detail(`slow upstream on ${upstream.url}; large file ${relative(join(import.meta.dirname, '../..'), largeFile)}`);
if (wrongWay) log.warn('--wrong-way: handlers stop waiting on a cancel, but their I/O is not given the signal');
if (layersFile) log.warn(`the layers come from ${layersFile}, not layers.ts`);
