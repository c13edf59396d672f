// Lesson 07 server: `process_large_file` reports its progress with notifications/progress, rate-limited,
// only when the client asked for it, and never after it stopped; it also writes log messages
// (notifications/message), which are a different thing. `flood_progress` shows how a tight
// notification loop starves cancellation, and the one-line fix.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/progress
//       https://modelcontextprotocol.io/specification/2025-11-25/server/utilities/logging
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { open } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCMessage, LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool, type JobBook } from '../shared/jobs.ts';
import { serveMcpOrExit, type McpSession, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { registerFloodProgress } from './flood.ts';
import { progressReporter, recordProgress } from './progress.ts';
import { port, progressEveryMs } from './server-flags.ts';

const log = createTimeline('server');

function createServer({ transport, jobs, sessionId }: NewSession) {
  // Declaring `logging` lets the server send notifications/message and makes the SDK answer
  // logging/setLevel; sendLoggingMessage then drops messages below the level the client set.
  const server = new McpServer({ name: 'lesson-07-progress', version: '1.0.0' }, { capabilities: { logging: {} } });
  const sendLog = (level: LoggingLevel, data: string) =>
    server.sendLoggingMessage({ level, logger: 'process_large_file', data }, sessionId()).catch(() => {});

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file, reporting progress',
      description:
        'Reads a file from the lesson data folder in `chunks` chunks, waiting `chunkDelayMs` after each. ' +
        'Sends notifications/progress (rate-limited) when the request carries _meta.progressToken, and log ' +
        'messages (notifications/message) at info and debug level.',
      inputSchema: {
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(100).describe('pause after each chunk, in ms'),
      },
    },
    async ({ path, chunks, chunkDelayMs }, extra) => {
      const file = resolveInDataFolder(dataFolder, path, dataLabel);
      const id = extra.requestId;
      const job = jobs.start(id, { tool: 'process_large_file', file: path, chunksTotal: chunks });
      const progress = progressReporter(extra, chunks, progressEveryMs);
      log.event(
        `tools/call #${id}: process_large_file ${path}, ${chunks} chunks, ${chunkDelayMs} ms apart, ` +
          (progress.token === undefined ? 'no progressToken' : `progressToken ${JSON.stringify(progress.token)}`),
      );
      await sendLog('info', `reading ${path} in ${chunks} chunks`);

      const handle = await open(file, 'r');
      job.fileHandle = 'open';
      try {
        const { size } = await handle.stat();
        const chunkSize = Math.ceil(size / chunks);
        const buffer = Buffer.alloc(chunkSize);
        for (let i = 0; i < chunks; i++) {
          await handle.read(buffer, 0, chunkSize, i * chunkSize);
          job.chunksDone++;
          const sentBefore = progress.counts.sent;
          await progress.report(job.chunksDone, `read chunk ${job.chunksDone} of ${chunks}`);
          log.detail(
            `#${id} chunk ${job.chunksDone}/${chunks}` +
              (progress.counts.sent > sentBefore ? `, progress ${job.chunksDone}/${chunks} sent` : ''),
          );
          await sendLog('debug', `chunk ${job.chunksDone}: ${chunkSize} bytes at offset ${i * chunkSize}`);
          await sleep(chunkDelayMs, undefined, { signal: extra.signal });
        }
        job.state = 'completed';
        job.stoppedAt = performance.now();
      } catch (error) {
        if (!extra.signal.aborted) {
          job.state = 'failed';
          throw error; // McpServer turns it into a tool error result
        }
        job.state = 'cancelled';
        job.stoppedAt = performance.now();
        const why = job.cancel ? '' : ` (${stopReason(extra.signal)})`; // a cancel was logged as it came
        log.highlight(`#${id} handler stopped after chunk ${job.chunksDone}/${chunks}${why}`);
      } finally {
        progress.stop();
        recordProgress(job, progress);
        await handle.close();
        job.fileHandle = 'closed';
        if (job.state === 'cancelled') log.highlight(`#${id} file handle closed; progress stopped`);
      }

      if (job.state === 'completed') {
        job.reply = 'result';
        log.ok(`#${id} completed: ${job.resources['progress']}; replying with the result`);
        await sendLog('info', `finished ${path}`);
        const toolResult = { content: [{ type: 'text' as const, text: `Processed ${path}: ${chunks} chunks` }] };
        await sendResultAfterLateCancel(transport, extra, job, toolResult, log);
        return toolResult;
      }
      log.detail(`#${id} ${job.resources['progress']}`);
      if (job.cancel) await answerCancelled(transport, job, log);
      else job.reply = `nothing (${stopReason(extra.signal)})`;
      // SDK 1.x drops whatever a handler returns once its request was cancelled.
      return { content: [{ type: 'text', text: `Cancelled after ${job.chunksDone} of ${chunks} chunks` }] };
    },
  );

  registerFloodProgress(server, jobs, transport, log); // flood.ts: the loop that starves a cancel, and its fix
  registerJobStatusTool(server, jobs);
  return server;
}

// ---------------------------------------------------------------------------------------------
// Start-up, and the cancels that come too late.

const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

/**
 * noteCancel, plus a note on jobs the cancel came too late for: with a starved event loop the
 * cancel is read only after the job finished, and this is how the job's record shows it.
 */
function onClientMessage(session: McpSession, message: JSONRPCMessage) {
  noteCancel(session.jobs, message, log);
  if (!('method' in message) || message.method !== 'notifications/cancelled') return;
  const job = findJob(session.jobs, message.params?.requestId);
  if (job && job.state !== 'running' && job.stoppedAt !== undefined && !job.cancel) {
    job.resources['cancel'] =
      `read ${(performance.now() - job.stoppedAt).toFixed(1)} ms after the job had ${job.state}`;
  }
}

const findJob = (jobs: JobBook, requestId: unknown) =>
  typeof requestId === 'string' || typeof requestId === 'number' ? jobs.get(requestId) : undefined;

const running = await serveMcpOrExit({ port, timeline: log, createServer, onClientMessage });
log.ok(`listening on ${running.url}  (progress at most every ${progressEveryMs} ms; data folder: ${dataLabel})`);
