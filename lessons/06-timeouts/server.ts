// Lesson 06 server: a `process_large_file` tool that works under two signals at once, the client's
// cancel (extra.signal) and its own deadline (a timer), tells from `signal.reason`
// which one fired, and answers each the way the caller needs. It sends rate-limited
// notifications/progress when the request carries a progressToken.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/lifecycle#timeouts
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/progress
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { open } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool, trackJob } from '../shared/jobs.ts';
import { serveMcpOrExit, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { recordStop, TIMEOUT_MESSAGE, type StopCause } from './deadline.ts';
import { progressReporter } from './progress.ts';
import { port, progressEveryMs, serverDeadlineMs } from './server-flags.ts';

const log = createTimeline('server');

function createServer({ transport, jobs }: NewSession) {
  const server = new McpServer({ name: 'lesson-06-timeouts', version: '1.0.0' });

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file, within a deadline',
      description:
        'Reads a file from the lesson data folder in `chunks` chunks, waiting `chunkDelayMs` after each. ' +
        `Stops at its deadline: \`deadlineMs\` if given, and never later than the server's ${serverDeadlineMs} ms; ` +
        'then it answers with a tool error naming the deadline. Sends notifications/progress when asked to.',
      inputSchema: {
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(100).describe('pause after each chunk, in ms'),
        deadlineMs: z
          .number()
          .int()
          .min(1)
          .max(3_600_000)
          .optional()
          .describe("stop after this many ms (the server's own deadline applies if it is shorter)"),
      },
      outputSchema: {
        status: z.enum(['completed', 'deadline passed', 'cancelled']),
        chunksDone: z.number(),
        chunksTotal: z.number(),
        deadlineMs: z.number(),
      },
    },
    async ({ path, chunks, chunkDelayMs, deadlineMs: askedMs }, extra) => {
      const file = resolveInDataFolder(dataFolder, path, dataLabel);
      const id = extra.requestId;
      const deadlineMs = Math.min(askedMs ?? serverDeadlineMs, serverDeadlineMs);
      const fields = { tool: 'process_large_file', file: path, chunksTotal: chunks };
      const summary = `${path}, ${chunks} chunks, ${chunkDelayMs} ms apart, deadline ${deadlineMs} ms`;
      const job = trackJob(jobs, id, fields, summary + (askedMs === undefined ? " (the server's)" : ''), log);
      // One signal for everything that can stop this job: the client's cancel or the deadline. The
      // deadline is a timer of our own, cleared when the job ends. Not AbortSignal.timeout: on Node 20
      // AbortSignal.any holds it weakly, so a garbage collection before it fires loses the deadline
      // (nodejs/node#57736; the test shows it). The reason is the one AbortSignal.timeout gives.
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new DOMException(TIMEOUT_MESSAGE, 'TimeoutError')), deadlineMs);
      const signal = AbortSignal.any([extra.signal, deadline.signal]);
      const progress = progressReporter(extra, chunks, progressEveryMs, log);

      const handle = await open(file, 'r');
      job.fileOpened();
      let cause: StopCause | undefined;
      try {
        const { size } = await handle.stat();
        const chunkSize = Math.ceil(size / chunks);
        const buffer = Buffer.alloc(chunkSize);
        for (let i = 0; i < chunks; i++) {
          signal.throwIfAborted();
          await handle.read(buffer, 0, chunkSize, i * chunkSize);
          job.chunkDone();
          await progress.report(job.chunksDone);
          await sleep(chunkDelayMs, undefined, { signal });
        }
        job.completed();
      } catch (error) {
        if (!signal.aborted) throw job.failed(error); // McpServer turns it into a tool error result
        cause = recordStop(job, signal.reason, deadlineMs, log); // the deadline, the cancel or the session end
      } finally {
        clearTimeout(timer);
        await handle.close();
        job.fileHandle = 'closed';
        if (cause) log.highlight(`#${id} file handle closed`);
      }
      if (progress.sent > 0) job.resources['progress notifications'] = `${progress.sent} sent`;

      const result = { chunksDone: job.chunksDone, chunksTotal: chunks, deadlineMs };
      if (job.state === 'completed') {
        job.reply = 'result';
        log.ok(`#${id} completed: replying with the result (${progress.sent} progress notifications sent)`);
        const text = `Processed ${path}: ${chunks} chunks`;
        const toolResult = {
          content: [{ type: 'text' as const, text }],
          structuredContent: { status: 'completed', ...result },
        };
        await sendResultAfterLateCancel(transport, extra, job, toolResult, log);
        return toolResult;
      }
      if (cause === 'deadline') {
        // Not a cancel: the client is still waiting for an answer, so it gets one. A tool error
        // (isError: true), not a JSON-RPC error: the call was valid, the work ran out of time, and
        // the spec reports tool execution errors in the result, where the model can read them.
        const text = `Deadline of ${deadlineMs} ms passed after ${job.chunksDone} of ${chunks} chunks`;
        job.reply = `tool error "${text}"`;
        log.highlight(`#${id} replying: tool error "${text}" (isError: true)`);
        return {
          content: [{ type: 'text', text }],
          structuredContent: { status: 'deadline passed', ...result },
          isError: true,
        };
      }
      // -32800 releases the stream in SDK 1.x; a session that ended has nobody left to answer.
      if (cause === 'client cancel') await answerCancelled(transport, job, log);
      else job.reply = `nothing (${stopReason(extra.signal)})`;
      // SDK 1.x drops whatever a handler returns once its request was cancelled.
      const text = `Cancelled after ${job.chunksDone} of ${chunks} chunks`;
      return { content: [{ type: 'text', text }], structuredContent: { status: 'cancelled', ...result } };
    },
  );

  registerJobStatusTool(server, jobs);
  return server;
}

// ---------------------------------------------------------------------------------------------
// Start-up.

const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: (session, message) => noteCancel(session.jobs, message, log),
});
log.ok(
  `listening on ${running.url}  (deadline cap: ${serverDeadlineMs} ms; progress at most every ${progressEveryMs} ms)`,
);
