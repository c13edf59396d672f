// Lesson 01 server, SDK 2.x: the same `process_large_file`, served by `@modelcontextprotocol/server`
// in the 2025-11-25 era with sessions (one transport + server per session, as server.ts). The
// cancel and its cost are unchanged: 2.x drops what a cancelled handler returns and, like 1.x,
// holds that request's SSE stream open until something answers it. So the handler answers itself.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { McpServer, type JSONRPCMessage } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { REQUEST_CANCELLED, stopReason } from './cancellation.ts';
import { ignoreSignal, keepAliveMs, policy, port } from './server-flags.ts';
import { registerJobStatusV2, serveSessionsV2 } from './sessions-v2.ts';
import { lessonDataFolder, resolveInDataFolder } from '../shared/data-folder.ts';
import { trackJob, type JobBook } from '../shared/jobs.ts';
import { createTimeline } from '../shared/timeline.ts';

const log = createTimeline('server');
const data = lessonDataFolder(import.meta.dirname, 'sample.txt', 1024 * 1024);

/** One McpServer per session (sessions-v2.ts calls this for each initialize). */
function createServer(transport: NodeStreamableHTTPServerTransport, jobs: JobBook) {
  const server = new McpServer({ name: 'lesson-01-cancel-by-id-v2', version: '1.0.0' });

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Reads a file from the lesson data folder in `chunks` equal chunks, hashing each (SHA-256), waiting `chunkDelayMs` after each so a run lasts long enough to cancel. Try path "sample.txt".',
      inputSchema: z.object({
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(250).describe('pause after each chunk, in ms'),
      }),
      outputSchema: z.object({
        status: z.enum(['completed', 'cancelled']),
        chunksDone: z.number(),
        chunksTotal: z.number(),
        bytesRead: z.number(),
        sha256: z.string().optional().describe('of the whole file; only when completed'),
      }),
    },
    async ({ path, chunks, chunkDelayMs }, ctx) => {
      const { id, signal } = ctx.mcpReq; // 1.x: extra.requestId, extra.signal
      const file = resolveInDataFolder(data.folder, path, data.label);
      const fields = { tool: 'process_large_file', file: path, chunksTotal: chunks };
      const job = trackJob(jobs, id, fields, `${path}, ${chunks} chunks, ${chunkDelayMs} ms apart`, log);

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
          await sleep(chunkDelayMs, undefined, { signal: ignoreSignal ? undefined : signal });
        }
        job.completed();
      } catch (error) {
        if (!signal.aborted) throw job.failed(error);
        job.stopped(stopReason(signal));
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

      if (!signal.aborted) {
        log.ok(`#${id} completed: replying with the result`);
        job.reply = 'result';
        return toolResult;
      }
      // Aborted: SDK 2.x, like 1.x, drops whatever this returns (protocol: `if (signal.aborted) return`)
      // and holds the request's SSE stream open until a final message for its id goes out. So the
      // handler sends one itself, through the transport, as server.ts does: error -32800 by default.
      const details = { reason: job.cancel?.reason, chunksDone: job.chunksDone, chunksTotal: chunks };
      const error = { code: REQUEST_CANCELLED, message: 'Request cancelled', data: details };
      let answer: JSONRPCMessage | undefined;
      if (job.cancel && !done && policy === 'error') answer = { jsonrpc: '2.0', id, error };
      else if ((job.cancel && !done && policy === 'result') || (done && !ignoreSignal))
        answer = { jsonrpc: '2.0', id, result: toolResult }; // a clean-cancel result, or work done before the abort
      if (answer) {
        const what = 'error' in answer ? `error ${REQUEST_CANCELLED}` : done ? 'result' : 'clean-cancel result';
        log.highlight(`#${id} replying: ${'error' in answer ? `${what} "Request cancelled"` : `"${text}"`}`);
        await transport.send(answer).then(
          () => void (job.reply = what),
          (failed: Error) => void (job.reply = `nothing (send failed: ${failed.message})`),
        );
      } else if (done) {
        job.reply = 'nothing (the SDK dropped the result: the request had been cancelled)';
        log.warn(`#${id} ran to the end despite the cancel; the SDK drops its result`);
      } else {
        job.reply = job.cancel ? 'nothing' : `nothing (${stopReason(signal)})`;
        if (job.cancel)
          log.highlight(`#${id} replying: nothing (policy: none); the SDK holds this request's SSE stream open`);
      }
      return toolResult;
    },
  );

  registerJobStatusV2(server, jobs);
  return server;
}

const running = await serveSessionsV2({ port, keepAliveMs, log, createServer });
log.ok(
  `listening on ${running.url}  (SDK 2.x, 2025-11-25 with sessions; cancel policy: ${policy}; data folder: ${data.label})`,
);
if (ignoreSignal) log.warn('--ignore-signal: process_large_file ignores cancels');
