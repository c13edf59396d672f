// Lesson 08 server: `export_log` produces far more output than a client may read quickly. It writes
// every line to a file, streams a live view in bounded memory (waiting for room, never piling up),
// stops at once on a cancel even while it waits for a slow reader, and returns a result capped in
// size with a link to the full output. `--naive` shows the stock way, and what it costs.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
//       https://modelcontextprotocol.io/specification/2025-11-25/server/tools#resource-links
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';
import { registerJobStatusTool, type Job } from '../shared/jobs.ts';
import { serveMcpOrExit, type McpSession, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { LiveView, logMessage, WHEN_FULL } from './live-view.ts';
import { logLines } from './log-lines.ts';

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
      outputSchema: {
        status: z.literal('completed'),
        lines: z.number(),
        bytes: z.number(),
        sha256: z.string().describe('of the full output'),
        linesInResult: z.number(),
        truncated: z.boolean(),
        uri: z.string().describe('the full output, as a resource'),
        liveLinesSent: z.number(),
        liveLinesSkipped: z.number(),
        waitsForRoom: z.number(),
      },
    },
    async ({ lines, maxResultBytes }, extra) => {
      const id = extra.requestId;
      const name = `export-${sessionId()?.slice(0, 8)}-${id}.log`;
      const partial = join(outputFolder, `${name}.partial`);
      const batches = Math.ceil(lines / BATCH_LINES);
      const job = jobs.start(id, { tool: 'export_log', file: name, chunksTotal: batches });
      log.event(`tools/call #${id}: export_log ${lines} lines in ${batches} batches${naive ? ' (naive)' : ''}`);

      const progressToken = extra._meta?.progressToken;
      const view = new LiveView({
        response: responseFor(id),
        signal: extra.signal,
        send: (notification) => extra.sendNotification(notification),
        maxQueuedBytes,
        whenFull,
        progress: progressToken === undefined ? undefined : { token: progressToken, total: lines },
        onState: (state) => (job.resources['live view'] = state),
      });
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
          if (naive) await sendAtOnce(extra.sendNotification, batch, first + batch.length, lines, progressToken);
          else await view.offer(batch, first + batch.length);
        }
        if (!naive) await view.finish();
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
        await stopped(job, view, extra.signal);
        await answerCancelled(transport, job, log, { linesWritten: job.chunksDone * BATCH_LINES });
        return { content: [] }; // SDK 1.x drops this: the request was cancelled
      }

      const linesInResult = head.split('\n').length - 1;
      const truncated = linesInResult < lines;
      const result = {
        status: 'completed' as const,
        lines,
        bytes,
        sha256: hash.digest('hex'),
        linesInResult,
        truncated,
        uri: outputUri(name),
        liveLinesSent: naive ? lines : view.linesSent,
        liveLinesSkipped: view.linesSkipped,
        waitsForRoom: view.waitsForRoom,
      };
      job.reply = 'result';
      log.ok(
        `#${id} completed: ${lines} lines, ${megabytes(bytes)} in ${name}; live view sent ${result.liveLinesSent}, ` +
          `left out ${result.liveLinesSkipped}, waited for room ${result.waitsForRoom} times`,
      );
      const note = truncated
        ? `\n[truncated: ${linesInResult} of ${lines} lines shown (${head.length} of ${bytes} bytes). The full output is ${outputUri(name)}]`
        : '';
      const toolResult = {
        content: [
          { type: 'text' as const, text: head.slice(0, head.lastIndexOf('\n') + 1) + note },
          { type: 'resource_link' as const, uri: outputUri(name), name, mimeType: 'text/plain', size: bytes },
        ],
        structuredContent: result,
      };
      await sendResultAfterLateCancel(transport, extra, job, toolResult, log);
      return toolResult;
    },
  );

  server.registerResource(
    'export output',
    new ResourceTemplate('backpressure://outputs/{name}', { list: undefined }),
    { title: 'The full output of an export_log call', mimeType: 'text/plain' },
    async (uri, { name }) => {
      const file = completedOutput(String(name));
      const { size } = await stat(file);
      if (size > MAX_READ_BYTES) {
        throw new Error(
          `${name} is ${megabytes(size)}, more than one resources/read returns here (${megabytes(MAX_READ_BYTES)}); ` +
            `read it from ${outputLabel}/${name}`,
        );
      }
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: await readFile(file, 'utf8') }] };
    },
  );

  server.registerTool(
    'server_memory',
    {
      title: 'Server memory',
      description: "This server process's memory, from process.memoryUsage(), in bytes.",
      outputSchema: { rss: z.number(), heapUsed: z.number(), external: z.number(), arrayBuffers: z.number() },
    },
    async () => {
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
      const memory = { rss, heapUsed, external, arrayBuffers };
      return { content: [{ type: 'text', text: JSON.stringify(memory) }], structuredContent: memory };
    },
  );

  registerJobStatusTool(server, jobs);
  return server;
}

// ---------------------------------------------------------------------------------------------
// Flags, helpers and start-up.

export const DEFAULT_PORT = 3108;
/** Lines per batch: one file write, one offer to the live view, one cancel check. */
const BATCH_LINES = 1000;
/** The largest output one resources/read returns; bigger files are read from disk. */
const MAX_READ_BYTES = 16 * 1024 * 1024;

const HELP = `
Lesson 08 server: export_log, a tool with far more output than a slow client reads, in bounded memory.

Usage: npx tsx lessons/08-backpressure/server.ts [options]

  --port N             port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --naive              the stock way: send every batch of lines as soon as it is made; SDK 1.x queues
                       whatever the client has not read yet in the server's memory
  --when-full MODE     when the live view's queue is full because the client reads slowly (default: wait)
                         wait   wait for the client to read (lossless; the job runs at the reader's pace)
                         skip   leave lines out of the live view and say how many (the job runs at full speed)
  --queue-bytes N      the most lines, in bytes, waiting for a slow client (default: 262144)
  --data DIR           where outputs/ goes; its files are removed when the server starts
                       (default: lessons/08-backpressure/data)
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    port: { type: 'string' },
    naive: { type: 'boolean' },
    'when-full': { type: 'string' },
    'queue-bytes': { type: 'string' },
    data: { type: 'string' },
  },
  HELP,
);
const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
const naive = flags.naive ?? false;
const whenFull = choiceFlag('when-full', flags['when-full'], WHEN_FULL, 'wait');
const maxQueuedBytes = intFlag('queue-bytes', flags['queue-bytes'], 256 * 1024, 1024, 64 * 1024 * 1024);

const outputFolder = join(flags.data ?? join(import.meta.dirname, 'data'), 'outputs');
const outputLabel = relative(join(import.meta.dirname, '../..'), outputFolder); // shown in messages
mkdirSync(outputFolder, { recursive: true });

const outputUri = (name: string) => `backpressure://outputs/${name}`;
const megabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

/**
 * The stock way: every batch goes out the moment it is made. `sendNotification` resolves as soon as
 * the SDK has queued the event, whether or not the client reads, so nothing here ever waits for the
 * reader. Yielding a turn per batch only keeps the event loop (and so cancels) moving.
 */
async function sendAtOnce(
  send: (notification: ReturnType<typeof logMessage>) => Promise<void>,
  batch: string[],
  linesDone: number,
  total: number,
  progressToken: string | number | undefined,
) {
  await send(logMessage(batch));
  if (progressToken !== undefined) {
    await send({ method: 'notifications/progress', params: { progressToken, progress: linesDone, total } });
  }
  await nextTurn();
}

async function stopped(job: Job, view: LiveView, signal: AbortSignal) {
  job.state = 'cancelled';
  job.stoppedAt = performance.now();
  const abandoned = job.resources['live view']?.startsWith('waiting for room');
  if (abandoned) job.resources['live view'] = 'abandoned a write waiting for room';
  const why = job.cancel
    ? `${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after the cancel`
    : stopReason(signal);
  log.highlight(
    `#${job.requestId} handler stopped after batch ${job.chunksDone}/${job.chunksTotal} (${why})` +
      (abandoned ? ', abandoning a write that was waiting for room' : ''),
  );
  log.highlight(`#${job.requestId} file handle closed, partial output deleted; live view sent ${view.linesSent} lines`);
}

/** A completed output file by name; partial ones and anything outside the folder are not served. */
function completedOutput(name: string): string {
  if (!/^[\w.-]+\.log$/.test(name) || name.includes('..')) {
    throw new Error(`"${name}" is not an export_log output name (like export-1a2b3c4d-3.log)`);
  }
  if (!readdirSync(outputFolder).includes(name)) {
    throw new Error(`no completed output named "${name}" (a cancelled export leaves none)`);
  }
  return join(outputFolder, name);
}

function noteStreamClosed(session: McpSession, requestId: RequestId) {
  const job = session.jobs.get(requestId);
  if (job?.state === 'cancelled') log.highlight(`#${JSON.stringify(requestId)} response stream closed`);
}

// Outputs of earlier runs: this lesson's exports can be large.
for (const old of readdirSync(outputFolder)) rmSync(join(outputFolder, old), { force: true });

const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: (session, message) => noteCancel(session.jobs, message, log),
  onResponseStreamClosed: noteStreamClosed,
});
log.ok(
  `listening on ${running.url}  (${naive ? 'naive: every line sent at once' : `live view: --when-full ${whenFull}, queue ${maxQueuedBytes} bytes`}; outputs in ${outputLabel})`,
);
