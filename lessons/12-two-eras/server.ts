// Lesson 12 server: lesson 01's `process_large_file`, served by the SDK 2.x packages in protocol
// 2026-07-28. There is no session and no initialize; each request is its own HTTP exchange, and
// the client cancels a call by closing that exchange's response stream. Nothing else is sent.
//
// Spec: https://modelcontextprotocol.io/specification/2026-07-28/basic/patterns/cancellation
//       https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http#cancellation
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMcpExpressApp } from '@modelcontextprotocol/express';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer, type RequestId } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { intFlag, parseFlags } from '../shared/cli.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { jobReportSchema, type Job } from '../shared/jobs.ts';
import { exitCannotServe, listenOn } from '../shared/listen.ts';
import { createTimeline } from '../shared/timeline.ts';
import { shutDownGracefully } from '../09-disconnects-and-shutdown/shutdown.ts';
import { closeOpenExchanges, currentExchange, recordExchange, replyWritten, type Exchange } from './exchanges.ts';

const log = createTimeline('server');

// createMcpHandler calls this once for every POST it serves, with the era that request speaks.
const handler = createMcpHandler(({ era }) => {
  const server = new McpServer({ name: 'lesson-12-two-eras', version: '1.0.0' });
  const eraLabel = era === 'modern' ? '2026-07-28' : '2025 era, served statelessly';

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Reads a file from the lesson data folder in `chunks` equal chunks, hashing each (SHA-256), ' +
        'waiting `chunkDelayMs` after each so a run lasts long enough to cancel. Try path "sample.txt".',
      inputSchema: z.object({
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(250).describe('pause after each chunk, in ms'),
      }),
    },
    async ({ path, chunks, chunkDelayMs }, ctx) => {
      const id = ctx.mcpReq.id;
      const signal = ctx.mcpReq.signal;
      const file = resolveInDataFolder(dataFolder, path, dataLabel);
      let finish!: () => void;
      const job: StatelessJob = {
        requestId: id,
        tool: 'process_large_file',
        file: path,
        state: 'running',
        chunksTotal: chunks,
        chunksDone: 0,
        startedAt: performance.now(),
        fileHandle: 'not opened',
        resources: {},
        era: eraLabel,
        exchange: currentExchange(),
        finished: false,
        done: new Promise((resolve) => (finish = resolve)),
      };
      jobs.push(job);
      log.event(
        `tools/call #${id} (${eraLabel}): process_large_file ${path}, ${chunks} chunks, ${chunkDelayMs} ms apart`,
      );

      // In this era the cancel is the client closing this request's response stream. The SDK
      // aborts ctx.mcpReq.signal when that happens; this only notes when, for the report.
      job.exchange?.onEnd.add((exchange) => {
        if (exchange.ended !== 'closed by the client' || job.state !== 'running') return;
        job.cancel = {
          receivedAt: performance.now(),
          chunksDoneThen: job.chunksDone,
        };
        log.highlight(`#${id} the client closed the response stream: that is the cancel`);
      });

      const handle = await open(file, 'r');
      job.fileHandle = 'open';
      const hash = createHash('sha256');
      try {
        const { size } = await handle.stat();
        const chunkSize = Math.ceil(size / chunks);
        const buffer = Buffer.alloc(chunkSize);
        for (let i = 0; i < chunks; i++) {
          const read = await handle.read(buffer, 0, chunkSize, i * chunkSize);
          hash.update(buffer.subarray(0, read.bytesRead));
          job.chunksDone++;
          log.detail(`#${id} chunk ${job.chunksDone}/${chunks}`);
          await sleep(chunkDelayMs, undefined, { signal }); // the same abortable wait as lesson 01
        }
        job.state = 'completed';
      } catch (error) {
        if (!signal.aborted) {
          job.state = 'failed';
          throw error;
        }
        job.state = 'cancelled';
        job.stoppedAt = performance.now();
        // No message carried the client's reason: the signal's reason is the SDK's own.
        if (job.cancel) job.cancel.reason = String(signal.reason);
        const why = job.cancel
          ? `${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after the stream closed`
          : `signal: ${String(signal.reason)}`;
        log.highlight(`#${id} handler stopped after chunk ${job.chunksDone}/${chunks} (${why})`);
      } finally {
        await handle.close();
        job.fileHandle = 'closed';
        if (job.state === 'cancelled') log.highlight(`#${id} file handle closed`);
        job.finished = true;
        finish();
      }

      if (job.state === 'cancelled') {
        // The stream is gone, so there is nowhere to reply, and the spec says not to: the server
        // "MUST NOT send any further messages" for it. None of this return value reaches the wire.
        log.highlight(`#${id} replying: nothing (there is no stream left to reply on)`);
        return { content: [{ type: 'text', text: `Cancelled after ${job.chunksDone} of ${chunks} chunks` }] };
      }
      log.ok(`#${id} completed: replying with the result`);
      const text = `Processed ${path}: ${chunks} chunks, sha256 ${hash.digest('hex')}`;
      return { content: [{ type: 'text', text }] };
    },
  );

  server.registerTool(
    'get_job_status',
    {
      title: 'Job status',
      description:
        'Reports the latest process_large_file call with this JSON-RPC request id: running, completed or ' +
        'cancelled; chunks done; whether its file handle and response stream were released; what was replied. ' +
        'There are no sessions in this era, so ids are not scoped to one client: use a fresh server per run.',
      inputSchema: z.object({
        requestId: z.union([z.number().int(), z.string()]).describe('the id of the tools/call request'),
      }),
      outputSchema: z.object({
        ...jobReportSchema,
        era: z.string().describe('the protocol era the call was served in'),
        responseStreamEnded: z.enum(['finished by the server', 'closed by the client']).optional(),
      }),
    },
    async ({ requestId }) => {
      const job = latestJob(requestId);
      if (!job) {
        const ids = JSON.stringify(jobs.map((j) => j.requestId));
        throw new Error(`No job with request id ${JSON.stringify(requestId)}. Jobs so far: ${ids}.`);
      }
      const status = report(job);
      return { content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status };
    },
  );

  return server;
});

// ---------------------------------------------------------------------------------------------
// Flags, helpers and start-up.

export const DEFAULT_PORT = 3112;

const HELP = `
Lesson 12 server: process_large_file served by SDK 2.x, protocol 2026-07-28 (stateless).
A client cancels a call by closing its response stream. 2025-era clients are served too,
statelessly, as SDK 2.x does by default.

Usage: npx tsx lessons/12-two-eras/server.ts [options]

  --port N       port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  -h, --help     show this help
`;

const flags = parseFlags({ port: { type: 'string' } }, HELP);
const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);

const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

/** A job as lesson 01 records it, plus the HTTP exchange that carries its reply. */
interface StatelessJob extends Job {
  era: string;
  exchange?: Exchange;
  /** True once the handler has finished, its clean-up included. */
  finished: boolean;
  done: Promise<void>;
}

// No sessions: one record for the whole server. Request ids are the client's own, and two
// clients may both use id 0, so a lookup by id finds the most recent job with it.
const jobs: StatelessJob[] = [];
const latestJob = (id: RequestId) => jobs.findLast((job) => job.requestId === id);

function report(job: StatelessJob) {
  const ms = (t: number | undefined) => (t === undefined ? undefined : Math.round((t - job.startedAt) * 10) / 10);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    requestId: job.requestId,
    tool: job.tool,
    file: job.file,
    state: job.state,
    chunksDone: job.chunksDone,
    chunksTotal: job.chunksTotal,
    cancelReason: job.cancel?.reason,
    chunksDoneWhenCancelArrived: job.cancel?.chunksDoneThen,
    cancelReceivedAtMs: ms(job.cancel?.receivedAt),
    stoppedAtMs: ms(job.stoppedAt),
    cancelToStopMs:
      job.cancel && job.stoppedAt !== undefined ? round(job.stoppedAt - job.cancel.receivedAt) : undefined,
    fileHandle: job.fileHandle,
    responseStream: !job.exchange ? ('unknown' as const) : job.exchange.ended ? ('closed' as const) : ('open' as const),
    era: job.era,
    responseStreamEnded: job.exchange?.ended,
    // Known once the handler has finished and its response has ended, one way or the other.
    reply: job.finished && job.exchange?.ended ? replyWritten(job.exchange, job.requestId) : undefined,
  };
}

// createMcpExpressApp is express() with express.json() and Host/Origin checks for a loopback bind.
const app = createMcpExpressApp();
const serve = toNodeHandler(handler);
app.all('/mcp', (req, res) => {
  const message = req.body as { method?: string; params?: { requestId?: unknown } } | undefined;
  if (message?.method === 'notifications/cancelled') {
    // A 2025-era habit. Here it lands on a fresh server instance of its own, where nothing runs.
    log.warn(
      `notifications/cancelled for #${JSON.stringify(message.params?.requestId)} arrived as its own request: ` +
        'it reaches a new server instance with nothing running, so it stops nothing',
    );
  }
  recordExchange(req, res, () => void serve(req, res, req.body));
});

const http = createServer(app);
const actual = await listenOn(http, port, '127.0.0.1').catch((error: Error) => exitCannotServe(log, error));
log.event(`listening on http://127.0.0.1:${actual}/mcp  (SDK 2.x, protocol 2026-07-28; data folder: ${dataLabel})`);

// Ctrl-C or SIGTERM: lesson 09's shutdown. handler.close() aborts the 2026-07-28 exchanges in
// flight, but not the 2025-era ones it serves statelessly; closing every open response aborts
// those (a closed response is their cancel too). Then it waits for each handler's finally.
let handlerClosed: Promise<void> | undefined;
shutDownGracefully({
  log,
  stopAll() {
    const running = jobs.filter((job) => !job.finished).length;
    handlerClosed = handler.close();
    closeOpenExchanges();
    return running;
  },
  stillBusy: () => jobs.filter((job) => !job.finished).length,
  closes: 'the listener', // there are no sessions in 2026-07-28
  close: async () => {
    await handlerClosed;
    http.close();
    http.closeAllConnections();
  },
});
