// Lesson 01 server: a `process_large_file` tool that stops within one chunk of a cancel,
// releases its file handle, and answers the cancelled request the way --on-cancel says.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import {
  logStreamEnded,
  noteCancel,
  replyToCancelled,
  resultDropped,
  sendResultAfterLateCancel,
  stopReason,
} from './cancellation.ts';
import { ignoreSignal, keepAliveMs, policy, port } from './server-flags.ts';
import { lessonDataFolder, resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool, trackJob } from '../shared/jobs.ts';
import { serveMcpOrExit, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';

const log = createTimeline('server');
const data = lessonDataFolder(import.meta.dirname, 'sample.txt', 1024 * 1024);

/** One McpServer per session (the shared wiring calls this). */
function createServer({ transport, jobs }: NewSession) {
  const server = new McpServer({ name: 'lesson-01-cancel-by-id', version: '1.0.0' });

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Reads a file from the lesson data folder in `chunks` equal chunks, hashing each (SHA-256), waiting `chunkDelayMs` after each so a run lasts long enough to cancel. Try path "sample.txt".',
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
      const file = resolveInDataFolder(data.folder, path, data.label); // a clear message for ../../etc/passwd
      const fields = { tool: 'process_large_file', file: path, chunksTotal: chunks };
      const job = trackJob(jobs, extra.requestId, fields, `${path}, ${chunks} chunks, ${chunkDelayMs} ms apart`, log);

      const handle = await open(file, 'r');
      job.fileOpened();
      const hash = createHash('sha256');
      let bytesRead = 0;
      try {
        const { size } = await handle.stat();
        const chunkSize = Math.ceil(size / chunks);
        const buffer = Buffer.alloc(chunkSize);
        for (let i = 0; i < chunks; i++) {
          const read = await handle.read(buffer, 0, chunkSize, i * chunkSize);
          hash.update(buffer.subarray(0, read.bytesRead));
          bytesRead += read.bytesRead;
          job.chunkDone();
          // The wait itself is abortable: a cancel ends it at once, not after the delay.
          await sleep(chunkDelayMs, undefined, { signal: ignoreSignal ? undefined : extra.signal });
        }
        job.completed();
      } catch (error) {
        if (!extra.signal.aborted) throw job.failed(error); // McpServer turns it into a tool error result
        job.stopped(stopReason(extra.signal));
      } finally {
        await handle.close();
        job.fileClosed();
      }

      const done = job.state === 'completed';
      const sha256 = done ? hash.digest('hex') : undefined;
      const text = done
        ? `Processed ${path}: ${chunks} chunks, ${bytesRead} bytes, sha256 ${sha256}`
        : `Cancelled after ${job.chunksDone} of ${chunks} chunks`;
      const status = done ? ('completed' as const) : ('cancelled' as const);
      const structuredContent = { status, chunksDone: job.chunksDone, chunksTotal: chunks, bytesRead, sha256 };
      const toolResult = { content: [{ type: 'text' as const, text }], structuredContent, isError: false };

      if (!extra.signal.aborted) {
        log.ok(`#${extra.requestId} completed: replying with the result`);
        job.reply = 'result';
        return toolResult;
      }
      // Aborted: SDK 1.x drops what a handler now returns (protocol.js), so any answer is its own to send.
      if (job.cancel && !done) await replyToCancelled(transport, job, toolResult, policy, log);
      else if (!done) job.reply = `nothing (${stopReason(extra.signal)})`;
      else if (ignoreSignal)
        resultDropped(job, log); // --ignore-signal: SDK 1.x drops it, the stream stays open
      else await sendResultAfterLateCancel(transport, extra, job, toolResult, log);
      return toolResult;
    },
  );

  registerJobStatusTool(server, jobs);
  return server;
}

const running = await serveMcpOrExit({
  port,
  timeline: log,
  keepAliveMs,
  createServer,
  onClientMessage: (session, message) => noteCancel(session.jobs, message, log),
  onResponseStreamClosed: logStreamEnded(log),
});
log.ok(`listening on ${running.url}  (cancel policy: ${policy}; data folder: ${data.label})`);
if (ignoreSignal) log.warn('--ignore-signal: process_large_file ignores cancels');
