// Lesson 10 exercise: server.ts with its point taken out. This one also stops a call itself when a
// cancel names it, from one table for the process keyed by String(requestId): so "14" stops #14, and
// a cancel on one session stops another's call with the same id. Fix it where the EXERCISE comments
// are, then check it: `npm run learn -- 10` (the README's Exercise says more).
//
// Lesson 10 server: process_large_file, cancellable by request id, that stays correct when cancels
// race with completion, repeat, name unknown ids, carry the wrong id type, or come from another session.
// Every log line names its session, because request ids repeat across sessions.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool } from '../shared/jobs.ts';
import { serveMcpOrExit, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline, type Timeline } from '../shared/timeline.ts';
import { port } from './server-flags.ts';

const log = createTimeline('server');

// EXERCISE 1: one table for the process, by String(requestId): "14" and 14 are the same key here,
// and so are session A's #1 and session B's #1 (the later call takes the entry). A cancel must stop
// only the request it names: the same id, of the same JSON type, in the session it came on.
const stoppers = new Map<string, AbortController>();

/** A cancel stops the call it names, through that call's controller. */
function stopByCancel(message: JSONRPCMessage) {
  if (!('method' in message) || message.method !== 'notifications/cancelled') return;
  const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
  stoppers.get(String(requestId))?.abort('cancelled by the client');
}

function createServer({ transport, jobs, sessionId }: NewSession) {
  const server = new McpServer({ name: 'lesson-10-races-and-ids', version: '1.0.0' });

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Reads a file from the lesson data folder in `chunks` equal chunks, hashing each (SHA-256), ' +
        'waiting `chunkDelayMs` after each so a run lasts long enough to cancel. Try path "sample.txt".',
      inputSchema: {
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(10).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(100).describe('pause after each chunk, in ms'),
      },
      outputSchema: {
        chunksDone: z.number(),
        chunksTotal: z.number(),
        bytesRead: z.number(),
        sha256: z.string(),
      },
    },
    async ({ path, chunks, chunkDelayMs }, extra) => {
      const slog = sessionLog(sessionId());
      const id = JSON.stringify(extra.requestId); // "1" and 1 are different ids: show which
      const file = resolveInDataFolder(dataFolder, path, dataLabel); // throws a clear message for ../../etc/passwd
      const job = jobs.start(extra.requestId, { tool: 'process_large_file', file: path, chunksTotal: chunks });
      slog.event(`tools/call #${id}: process_large_file ${path}, ${chunks} chunks, ${chunkDelayMs} ms apart`);
      // EXERCISE 2: the handler listens to this table's controller beside extra.signal.
      const stopper = new AbortController();
      stoppers.set(String(extra.requestId), stopper);
      const signal = AbortSignal.any([extra.signal, stopper.signal]);

      const handle = await open(file, 'r');
      job.fileHandle = 'open';
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
          job.chunksDone++;
          slog.detail(`#${id} chunk ${job.chunksDone}/${chunks}`);
          await sleep(chunkDelayMs, undefined, { signal });
        }
        job.state = 'completed';
      } catch (error) {
        if (!signal.aborted) {
          job.state = 'failed';
          throw error; // McpServer turns it into a tool error result
        }
        job.state = 'cancelled';
        job.stoppedAt = performance.now();
        const why = job.cancel
          ? `on the cancel (reason: ${JSON.stringify(job.cancel.reason ?? '')})`
          : stopReason(signal);
        slog.highlight(`#${id} handler stopped after chunk ${job.chunksDone}/${chunks}, ${why}`);
      } finally {
        if (stoppers.get(String(extra.requestId)) === stopper) stoppers.delete(String(extra.requestId));
        await handle.close();
        job.fileHandle = 'closed';
        if (job.state === 'cancelled') slog.highlight(`#${id} file handle closed`);
      }

      if (job.state === 'cancelled') {
        if (job.cancel) await answerCancelled(transport, job, slog);
        else job.reply = `nothing (${stopReason(signal)})`;
        // SDK 1.x drops whatever a handler returns once its request was cancelled: answerCancelled replied.
        return {
          content: [{ type: 'text', text: `Cancelled after ${job.chunksDone} of ${chunks} chunks` }],
          isError: true,
        };
      }
      if (job.cancel) {
        // noteCancel saw a cancel for this job, yet the SDK never aborted it: SDK 1.x skips a falsy id such as 0.
        slog.warn(`#${id} completed although a cancel for it arrived: SDK 1.x ignores cancels for id ${id}`);
      }
      job.reply = 'result';
      slog.ok(`#${id} completed all ${chunks} chunks: replying with the result`);
      const result = { chunksDone: job.chunksDone, chunksTotal: chunks, bytesRead, sha256: hash.digest('hex') };
      const toolResult = {
        content: [
          {
            type: 'text' as const,
            text: `Processed ${path}: ${chunks} chunks, ${bytesRead} bytes, sha256 ${result.sha256}`,
          },
        ],
        structuredContent: result,
      };
      await sendResultAfterLateCancel(transport, extra, job, toolResult, slog);
      return toolResult;
    },
  );

  registerJobStatusTool(server, jobs);
  return server;
}

const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

/** The server's timeline, each line prefixed with the session it is about: `[c1b1ef12] #1 chunk 2/10`. */
function sessionLog(sessionId: string | undefined): Timeline {
  const tag = `[${(sessionId ?? 'no session').slice(0, 8)}]`;
  return {
    event: (message) => log.event(`${tag} ${message}`),
    highlight: (message) => log.highlight(`${tag} ${message}`),
    ok: (message) => log.ok(`${tag} ${message}`),
    warn: (message) => log.warn(`${tag} ${message}`),
    fail: (message) => log.fail(`${tag} ${message}`),
    detail: (message) => log.detail(`${tag} ${message}`),
  };
}

const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: (session, message) => {
    noteCancel(session.jobs, message, sessionLog(session.id));
    stopByCancel(message);
  },
  onResponseStreamClosed: (session, requestId) => {
    if (session.jobs.get(requestId)?.state === 'cancelled')
      sessionLog(session.id).detail(`#${JSON.stringify(requestId)} response stream closed`);
  },
});
log.ok(`listening on ${running.url}  (data folder: ${dataLabel})`);
