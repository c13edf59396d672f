// Lesson 08 exercise: server.ts with its point taken out. Its `export_log` sends every batch of lines
// the moment it is made, and SDK 1.x queues whatever the client has not read in this process: a reader
// that stalls buries the server in its own output, and a cancel has no wait to end. Fix it where the
// EXERCISE comments are, then check it: `npm run learn -- 08` (the README's Exercise says more).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
//       https://modelcontextprotocol.io/specification/2025-11-25/server/tools#resource-links
import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel } from '../01-cancel-by-id/cancellation.ts';
import { registerJobStatusTool } from '../shared/jobs.ts';
import { serveMcpOrExit, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { cappedResult, exportLogOutputSchema } from './capped-result.ts';
import { clearOutputs, registerOutputResource } from './export-outputs.ts';
import { LiveView } from './live-view.ts';
import { logLines } from './log-lines.ts';
import { sendAtOnce } from './send-at-once.ts';
import { maxQueuedBytes, naive, outputFolder, outputLabel, port, whenFull } from './server-flags.ts';
import { registerServerMemoryTool } from './server-memory.ts';
import { noteStreamClosed, recordStop, reportCompleted } from './server-report.ts';

const log = createTimeline('server');

function createServer({ transport, jobs, responseFor, sessionId }: NewSession) {
  // `logging` lets the tool send its lines as notifications/message on the call's own stream.
  const server = new McpServer({ name: 'lesson-08-backpressure', version: '1.0.0' }, { capabilities: { logging: {} } });

  server.registerTool(
    'export_log',
    {
      title: 'Export a large log',
      description:
        'Produces `lines` log lines: streams them live as notifications/message, writes all of them to a file, ' +
        'and returns the first `maxResultBytes` of them with a resource_link to the full output.',
      inputSchema: {
        lines: z.number().int().min(1).max(5_000_000).default(20_000).describe('how many log lines to produce'),
        maxResultBytes: z
          .number()
          .int()
          .min(256)
          .max(1_000_000)
          .default(2048)
          .describe('the most output the result itself carries; the rest is behind the link'),
      },
      outputSchema: exportLogOutputSchema, // status, lines, bytes, sha256, linesInResult, truncated, uri, live view counts
    },
    async ({ lines, maxResultBytes }, extra) => {
      const id = extra.requestId;
      const name = `export-${sessionId()?.slice(0, 8)}-${id}.log`;
      const partial = join(outputFolder, `${name}.partial`);
      const batches = Math.ceil(lines / BATCH_LINES);
      const job = jobs.start(id, { tool: 'export_log', file: name, chunksTotal: batches });
      log.event(`tools/call #${id}: export_log ${lines} lines in ${batches} batches${naive ? ' (naive)' : ''}`);

      const progressToken = extra._meta?.progressToken;
      // EXERCISE 1: every batch is sent below the moment it is made, and sendNotification resolves read or not.
      // Send only when the call's response (responseFor(id)) has room, and wait for room when it has none.
      // EXERCISE 2: a cancel must end that wait at once (extra.signal), not when the reader reads again.
      const file = await open(partial, 'w');
      job.fileHandle = 'open';
      job.resources['output file'] = `writing ${name}.partial`;
      const hash = createHash('sha256');
      let bytes = 0;
      let head = ''; // the first maxResultBytes of output, for the result
      try {
        for (let first = 0; first < lines; first += BATCH_LINES) {
          // Checked before every batch: after a cancel, not one more line is made or written.
          extra.signal.throwIfAborted();
          const batch = logLines(first, Math.min(first + BATCH_LINES, lines));
          const text = batch.join('');
          await file.write(text);
          hash.update(text);
          bytes += Buffer.byteLength(text);
          if (head.length < maxResultBytes) head += text.slice(0, maxResultBytes - head.length);
          job.chunksDone++;
          await sendAtOnce(extra.sendNotification, batch, first + batch.length, lines, progressToken); // EXERCISE 1
        }
        await file.close();
        job.fileHandle = 'closed';
        // Only a complete output gets the final name: a reader never mistakes a partial one for it.
        await rename(partial, join(outputFolder, name));
        job.resources['output file'] = `complete: ${name}`;
        job.state = 'completed';
      } catch (error) {
        await file.close();
        job.fileHandle = 'closed';
        await rm(partial, { force: true });
        job.resources['output file'] = 'deleted (partial)';
        if (!extra.signal.aborted) {
          job.state = 'failed';
          log.fail(`#${id} failed: ${(error as Error).message}; partial output deleted`);
          throw error;
        }
        recordStop(job, { linesSent: job.chunksDone * BATCH_LINES }, extra.signal, log);
        await answerCancelled(transport, job, log, { linesWritten: job.chunksDone * BATCH_LINES });
        return { content: [] }; // SDK 1.x drops this: the request was cancelled
      }

      const sha256 = hash.digest('hex');
      const done = { lines, bytes, sha256, liveLinesSent: lines, liveLinesSkipped: 0, waitsForRoom: 0 };
      const toolResult = cappedResult(name, head, done); // at most maxResultBytes, and a resource_link
      job.reply = 'result';
      reportCompleted(job, done, log);
      await sendResultAfterLateCancel(transport, extra, job, toolResult, log);
      return toolResult;
    },
  );

  registerOutputResource(server, outputFolder, outputLabel); // resources/read of a completed output
  registerServerMemoryTool(server);
  registerJobStatusTool(server, jobs);
  return server;
}

/** Lines per batch: one file write, one offer to the live view, one cancel check. */
const BATCH_LINES = 1000;

// ---------------------------------------------------------------------------------------------
// Start-up.

const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: (session, message) => noteCancel(session.jobs, message, log),
  onResponseStreamClosed: noteStreamClosed(log),
});
// Once the port is ours: a second copy that finds it in use must not delete the first one's outputs.
clearOutputs(outputFolder);
log.ok(
  `listening on ${running.url}  (${naive ? 'naive: every line sent at once' : `live view: --when-full ${whenFull}, queue ${maxQueuedBytes} bytes`}; outputs in ${outputLabel})`,
);
