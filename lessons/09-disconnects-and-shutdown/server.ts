// Lesson 09 server: what stops a running tool call when the client is gone, what a cancelled
// request leaves behind in SDK 1.x, and a shutdown that lets every handler clean up before exit.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#sending-messages-to-the-server
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel } from '../01-cancel-by-id/cancellation.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool, type Job } from '../shared/jobs.ts';
import { exitCannotServe } from '../shared/listen.ts';
import { serveMcpOverHttp, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { closeOrLeaveStream, type Extra } from './cancel-answers.ts';
import { registerCountHeldResourcesTool } from './count-held-tool.ts';
import { disconnectPolicy, recordStop, stopAtShutdown, stoppers, whileRunning } from './own-stop.ts';
import { dataFolder, dataLabel, disconnectMeansCancel, keepAliveMs, onCancel, port } from './server-flags.ts';
import { scratchFolder, shutdownDeadlineMs } from './server-flags.ts';
import { shutDownGracefully } from './shutdown-choice.ts'; // shutdown.ts's, or --shutdown F's

const log = createTimeline('server');

function createServer({ transport, jobs, sessionId }: NewSession) {
  const server = new McpServer({ name: 'lesson-09-disconnects-and-shutdown', version: '1.0.0' });
  // The SDK reports a reply it could not deliver here (its stream is gone): say so, plainly.
  server.server.onerror = (error) => log.detail(`SDK: ${error.message}`);

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Reads a file from the lesson data folder in `chunks` chunks, hashing each (SHA-256) into a scratch ' +
        'file that it removes when done, waiting `chunkDelayMs` after each chunk. Try path "sample.txt".',
      inputSchema: {
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(250).describe('pause after each chunk, in ms'),
      },
    },
    async ({ path, chunks, chunkDelayMs }, extra) => {
      const file = resolveInDataFolder(dataFolder, path, dataLabel); // throws a clear message for ../../etc/passwd
      const job = jobs.start(extra.requestId, { tool: 'process_large_file', file: path, chunksTotal: chunks });
      return await whileRunning(processFile(job, file, chunkDelayMs, extra)); // a shutdown waits for it
    },
  );

  /** The job in chunks: stops on the SDK's signal (cancel, DELETE, transport closed) or the server's own. */
  async function processFile(job: Job, file: string, chunkDelayMs: number, extra: Extra) {
    const id = extra.requestId;
    // The SDK's controller is private: a disconnect or a shutdown stops the job through this one.
    const stopper = new AbortController();
    stoppers.set(job, stopper);
    const signal = AbortSignal.any([extra.signal, stopper.signal]);
    log.event(`tools/call #${id}: process_large_file ${job.file}, ${job.chunksTotal} chunks, ${chunkDelayMs} ms apart`);

    let source: FileHandle | undefined;
    let scratch: FileHandle | undefined;
    let completed: ReturnType<typeof textResult> | undefined;
    const scratchPath = join(scratchFolder, `${process.pid}-${String(id)}.part`);
    try {
      source = await open(file, 'r');
      job.fileHandle = 'open';
      scratch = await open(scratchPath, 'w');
      job.resources['scratch file'] = 'written';
      const { size } = await source.stat();
      const chunkSize = Math.ceil(size / job.chunksTotal);
      const buffer = Buffer.alloc(chunkSize);
      const whole = createHash('sha256');
      while (job.chunksDone < job.chunksTotal) {
        const read = await source.read(buffer, 0, chunkSize, job.chunksDone * chunkSize);
        const bytes = buffer.subarray(0, read.bytesRead);
        whole.update(bytes);
        await scratch.write(`${createHash('sha256').update(bytes).digest('hex')}\n`);
        job.chunksDone++;
        log.detail(`#${id} chunk ${job.chunksDone}/${job.chunksTotal}`);
        await sleep(chunkDelayMs, undefined, { signal });
      }
      job.state = 'completed';
      const ranOn = job.resources['response stream'] === 'closed before the reply';
      log.ok(`#${id} completed all ${job.chunksTotal} chunks${ranOn ? ', though its client had disconnected' : ''}`);
      completed = textResult(`Processed ${job.file}: ${job.chunksTotal} chunks, sha256 ${whole.digest('hex')}`);
      return completed;
    } catch (error) {
      if (!signal.aborted) {
        job.state = 'failed';
        throw error; // McpServer turns it into a tool error result
      }
      const why = recordStop(job, stopper.signal, extra.signal, log); // a cancel, a disconnect, a shutdown, a DELETE
      return textResult(`Stopped after ${job.chunksDone} of ${job.chunksTotal} chunks: ${why}`, true);
    } finally {
      // Every way out: completed, stopped, failed. A shutdown waits for this block.
      await source?.close();
      if (source) job.fileHandle = 'closed';
      await scratch?.close();
      await rm(scratchPath, { force: true });
      if (scratch) job.resources['scratch file'] = 'removed';
      if (job.state !== 'completed') log.highlight(`#${id} file handle closed, scratch file removed`);
      await afterStop(job, extra);
      // A cancel that arrived while this block ran: the SDK drops the return value, so send it.
      if (completed) await sendResultAfterLateCancel(transport, extra, job, completed, log);
    }
  }

  /** A stopped job's reply: a client cancel gets the answer --on-cancel names; other stops are replied by the SDK. */
  async function afterStop(job: Job, extra: Extra) {
    if (job.state !== 'cancelled' || !extra.signal.aborted) return;
    if (!job.cancel) job.reply = 'nothing (the session ended)';
    else if (onCancel === 'error') await answerCancelled(transport, job, log);
    else closeOrLeaveStream(onCancel, transport, job, extra, log); // close-stream, extra-close-stream, none
  }

  registerJobStatusTool(server, jobs);
  registerCountHeldResourcesTool(server, transport, sessionId, () => running);
  return server;
}

const textResult = (text: string, isError = false) => ({ content: [{ type: 'text' as const, text }], isError });

// ---------------------------------------------------------------------------------------------
// Start-up.

ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);
mkdirSync(scratchFolder, { recursive: true });

const running = await serveMcpOverHttp({
  port,
  timeline: log,
  keepAliveMs,
  createServer,
  onClientMessage: (session, message) => noteCancel(session.jobs, message, log),
  onResponseStreamClosed: disconnectPolicy(disconnectMeansCancel, log),
}).catch((error: Error) => exitCannotServe(log, error));

shutDownGracefully({
  log,
  deadlineMs: shutdownDeadlineMs,
  ...stopAtShutdown(running.sessions), // stopAll, stillBusy: with the server's own controllers, not the SDK's
  close: () => running.close(),
  afterClose: () => `${readdirSync(scratchFolder).length} scratch file(s) left`,
});

log.ok(
  `listening on ${running.url}  (on cancel: ${onCancel}; disconnect means cancel: ${disconnectMeansCancel ? 'yes' : 'no'})`,
);
