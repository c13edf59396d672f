// Lesson 12 exercise: server.ts with its point taken out. This `process_large_file` was ported from
// 2025 with its cancel: it stops when a notifications/cancelled names its id. A 2026-07-28 client
// sends none; it closes the call's response stream, and the handler reads on. Fix it where the
// EXERCISE comments are, then check it: `npm run learn -- 12` (the README's Exercise says more).
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
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { exitCannotServe, listenOn } from '../shared/listen.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { shutDownGracefully } from '../09-disconnects-and-shutdown/shutdown.ts';
import { closeOpenExchanges, recordExchange } from './exchanges.ts';
import { registerStatelessJobStatus, startJob, unfinishedJobs } from './stateless-jobs.ts';
import { port } from './server-flags.ts';

const log = createTimeline('server');
// EXERCISE 1: the 2025 way to hear a cancel, kept from the port: each call's own controller, by id.
// Nothing aborts one unless a notifications/cancelled names its id (below), and ids here are not
// scoped to any session: one client's cancel could stop another client's call with the same id.
const runningCalls = new Map<RequestId, AbortController>();

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
      // EXERCISE 2: this signal fires only for a notifications/cancelled. In 2026-07-28 the client
      // closes this call's response stream instead: nothing here hears that, so the handler reads on.
      const cancel = new AbortController();
      runningCalls.set(id, cancel);
      const signal = cancel.signal;
      const file = resolveInDataFolder(dataFolder, path, dataLabel);
      const fields = { tool: 'process_large_file', file: path, chunksTotal: chunks };
      const job = startJob(id, fields, eraLabel, `${path}, ${chunks} chunks, ${chunkDelayMs} ms apart`, log);

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
        runningCalls.delete(id);
        await handle.close();
        job.fileHandle = 'closed';
        if (job.state === 'cancelled') log.highlight(`#${id} file handle closed`);
        job.finish();
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

  registerStatelessJobStatus(server);
  return server;
});

// ---------------------------------------------------------------------------------------------
// Start-up.

const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

// createMcpExpressApp is express() with express.json() and Host/Origin checks for a loopback bind.
const app = createMcpExpressApp();
const serve = toNodeHandler(handler);
app.all('/mcp', (req, res) => {
  const message = req.body as { method?: string; params?: { requestId?: unknown } } | undefined;
  if (message?.method === 'notifications/cancelled') {
    // The 2025 cancel: abort the call it names, if one with that id runs in this process.
    const requestId = message.params?.requestId as RequestId;
    const call = runningCalls.get(requestId);
    log.warn(`notifications/cancelled for #${JSON.stringify(requestId)}: ${call ? 'aborting it' : 'no such call'}`);
    call?.abort('notifications/cancelled');
    prove({ type: 'cancel', requestId, matched: call ? 'running' : 'nothing' });
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
    const running = unfinishedJobs();
    handlerClosed = handler.close();
    closeOpenExchanges();
    return running;
  },
  stillBusy: unfinishedJobs,
  closes: 'the listener', // there are no sessions in 2026-07-28
  close: async () => {
    await handlerClosed;
    http.close();
    http.closeAllConnections();
  },
});
