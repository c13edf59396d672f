// Lesson 02 server: the same cancellable `process_large_file` as lesson 01, plus two opt-in fixes
// for cancels that SDK 1.x drops on the floor, and a way to crash mid-call (for the client's
// "connection lost" case).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { answerCancelled, sendResultAfterLateCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool, trackJob } from '../shared/jobs.ts';
import { serveMcpOrExit, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { noteDroppedCancels, ownStop } from './dropped-cancels.ts';
import { crashAtChunk, fixes, port } from './server-flags.ts';

const log = createTimeline('server');

function createServer({ transport, jobs }: NewSession) {
  const server = new McpServer({ name: 'lesson-02-abort-signal', version: '1.0.0' });

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Reads a file from the lesson data folder in `chunks` equal chunks, hashing each (SHA-256), ' +
        'waiting `chunkDelayMs` after each so a run lasts long enough to cancel. Try path "sample.txt".',
      inputSchema: {
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(250).describe('pause after each chunk, in ms'),
      },
      outputSchema: {
        status: z.enum(['completed', 'cancelled']),
        chunksDone: z.number(),
        chunksTotal: z.number(),
        bytesRead: z.number(),
        sha256: z.string().optional().describe('of the whole file; only when completed'),
      },
    },
    async ({ path, chunks, chunkDelayMs }, extra) => {
      const file = resolveInDataFolder(dataFolder, path, dataLabel);
      const id = extra.requestId;
      const fields = { tool: 'process_large_file', file: path, chunksTotal: chunks };
      const job = trackJob(jobs, id, fields, `${path}, ${chunks} chunks, ${chunkDelayMs} ms apart`, log);

      // The handler stops on either signal: the SDK's (a normal cancel, or the session ending) or its
      // own, for the cancels SDK 1.x drops (dropped-cancels.ts).
      const own = ownStop(jobs, job, log);
      const signal = AbortSignal.any([extra.signal, own.signal]);

      const handle = await open(file, 'r');
      job.fileOpened();
      const hash = createHash('sha256');
      let bytesRead = 0;
      try {
        signal.throwIfAborted();
        const { size } = await handle.stat();
        const chunkSize = Math.ceil(size / chunks);
        const buffer = Buffer.alloc(chunkSize);
        for (let i = 0; i < chunks; i++) {
          const read = await handle.read(buffer, 0, chunkSize, i * chunkSize);
          hash.update(buffer.subarray(0, read.bytesRead));
          bytesRead += read.bytesRead;
          job.chunkDone();
          if (job.chunksDone === crashAtChunk) crash();
          await sleep(chunkDelayMs, undefined, { signal });
        }
        job.completed();
      } catch (error) {
        if (!signal.aborted) throw job.failed(error); // McpServer turns it into a tool error result
        job.stopped(stopReason(extra.signal));
      } finally {
        own.release();
        await handle.close();
        job.fileClosed();
      }

      const result = {
        status: job.state === 'completed' ? ('completed' as const) : ('cancelled' as const),
        chunksDone: job.chunksDone,
        chunksTotal: chunks,
        bytesRead,
        ...(job.state === 'completed' && { sha256: hash.digest('hex') }),
      };
      if (job.state === 'completed') {
        const text = `Processed ${path}: ${chunks} chunks, ${bytesRead} bytes, sha256 ${result.sha256}`;
        const toolResult = { content: [{ type: 'text' as const, text }], structuredContent: result };
        if (await sendResultAfterLateCancel(transport, extra, job, toolResult, log)) return toolResult;
        if (job.cancel) {
          job.reply = 'result (the SDK ignored the cancel)';
          log.warn(`#${JSON.stringify(id)} completed although a cancel for it arrived: the SDK did not act on it`);
        } else {
          job.reply = 'result';
          log.ok(`#${JSON.stringify(id)} completed: replying with the result`);
        }
        return toolResult;
      }
      if (extra.signal.aborted) {
        // The SDK knows: it drops whatever this handler returns, so the answer goes through the transport.
        if (job.cancel) await answerCancelled(transport, job, log);
        else job.reply = `nothing (${stopReason(extra.signal)})`;
        return { content: [], structuredContent: result };
      }
      // Only our own controller stopped it: the SDK does not know the request was cancelled and
      // sends whatever we return. A tool error says plainly that the job did not finish.
      job.reply = 'tool error "Cancelled"';
      log.highlight(
        `#${JSON.stringify(id)} replying: tool error "Cancelled after ${job.chunksDone} of ${chunks} chunks"`,
      );
      const text = `Cancelled after ${job.chunksDone} of ${chunks} chunks (reason: ${job.cancel?.reason ?? 'none given'})`;
      return { content: [{ type: 'text' as const, text }], isError: true };
    },
  );

  registerJobStatusTool(server, jobs);
  return server;
}

const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

function crash(): never {
  log.fail(`--crash-at-chunk ${crashAtChunk}: the server process kills itself now (SIGKILL)`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: (session, message) => noteDroppedCancels(session.jobs, message, log),
  onResponseStreamClosed: (session, requestId) => {
    const job = session.jobs.get(requestId);
    if (job?.state === 'cancelled') log.highlight(`#${JSON.stringify(requestId)} response stream closed`);
  },
});
log.ok(`listening on ${running.url}  (data folder: ${dataLabel}${fixes.length ? `; ${fixes.join(', ')}` : ''})`);
