// Lesson 09 server, SDK 2.x: lesson 09's `process_large_file` on one endpoint in both eras. In
// 2026-07-28 a client that closes the call's response stream has cancelled it (MUST); in 2025-11-25,
// served here with sessions as server.ts does, that same disconnect SHOULD NOT be read as a cancel.
//
// Spec: https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http#cancellation
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMcpExpressApp } from '@modelcontextprotocol/express';
import type { Request, Response } from 'express';
import { NodeStreamableHTTPServerTransport, toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import { createMcpHandler, isLegacyRequest, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { exitCannotServe, listenOn } from '../shared/listen.ts';
import { createTimeline } from '../shared/timeline.ts';
import { closeOpenExchanges, recordExchange } from '../12-two-eras/exchanges.ts';
import { shutDownGracefully } from './shutdown.ts';
import { reasonOf, registerJobStatusV2, startJobV2, stopAllJobs, unfinishedJobs } from './jobs-v2.ts';
import { dataFolder, dataLabel, port, scratchFolder, shutdownDeadlineMs } from './server-v2-flags.ts';

const log = createTimeline('server');
function newServer(era: string) {
  const server = new McpServer({ name: 'lesson-09-disconnects-v2', version: '1.0.0' });
  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Reads a file from the lesson data folder in `chunks` chunks, hashing each (SHA-256) into a scratch ' +
        'file that it removes when done, waiting `chunkDelayMs` after each chunk. Try path "sample.txt".',
      inputSchema: z.object({
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(250).describe('pause after each chunk, in ms'),
      }),
    },
    async ({ path, chunks, chunkDelayMs }, ctx) => {
      const id = ctx.mcpReq.id;
      const file = resolveInDataFolder(dataFolder, path, dataLabel);
      const fields = { tool: 'process_large_file', file: path, chunksTotal: chunks };
      const job = startJobV2(id, era, ctx.sessionId, fields, `${chunkDelayMs} ms apart`, log);
      // The SDK's signal (a cancel; in 2026-07-28 also a disconnect) or the server's own (a shutdown).
      const signal = AbortSignal.any([ctx.mcpReq.signal, job.stopper.signal]);

      let source: FileHandle | undefined;
      let scratch: FileHandle | undefined;
      const scratchPath = join(scratchFolder, `${process.pid}-v2-${String(id)}.part`);
      try {
        source = await open(file, 'r');
        job.fileHandle = 'open';
        scratch = await open(scratchPath, 'w');
        job.resources['scratch file'] = 'written';
        const chunkSize = Math.ceil((await source.stat()).size / chunks);
        const buffer = Buffer.alloc(chunkSize);
        const whole = createHash('sha256');
        while (job.chunksDone < chunks) {
          const read = await source.read(buffer, 0, chunkSize, job.chunksDone * chunkSize);
          whole.update(buffer.subarray(0, read.bytesRead));
          await scratch.write(`${createHash('sha256').update(buffer.subarray(0, read.bytesRead)).digest('hex')}\n`);
          log.detail(`#${id} chunk ${++job.chunksDone}/${chunks}`);
          await sleep(chunkDelayMs, undefined, { signal });
        }
        job.state = 'completed';
        const ranOn = job.resources['response stream'] === 'closed before the reply';
        log.ok(`#${id} completed all ${chunks} chunks${ranOn ? ', though its client had disconnected' : ''}`);
        return textResult(`Processed ${path}: ${chunks} chunks, sha256 ${whole.digest('hex')}`);
      } catch (error) {
        if (!signal.aborted) {
          job.state = 'failed';
          throw error;
        }
        const why = job.stopper.signal.aborted ? String(job.stopper.signal.reason) : reasonOf(ctx.mcpReq.signal);
        job.stoppedAt = performance.now();
        job.resources['stopped by'] = why;
        job.state = 'cancelled';
        log.highlight(`#${id} handler stopped after chunk ${job.chunksDone}/${chunks} (${why})`);
        // A disconnect left no stream to carry this; a shutdown (own signal) still has one.
        return textResult(`Stopped after ${job.chunksDone} of ${chunks} chunks: ${why}`, true);
      } finally {
        await source?.close();
        if (source) job.fileHandle = 'closed';
        await scratch?.close();
        await rm(scratchPath, { force: true });
        if (scratch) job.resources['scratch file'] = 'removed';
        if (job.state !== 'completed') log.highlight(`#${id} file handle closed, scratch file removed`);
        job.finish();
      }
    },
  );
  registerJobStatusV2(server);
  return server;
}

const textResult = (text: string, isError = false) => ({ content: [{ type: 'text' as const, text }], isError });

// Two legs on one endpoint: 2026-07-28 through createMcpHandler (no sessions); 2025-11-25 through
// one NodeStreamableHTTPServerTransport per session, as a 1.x server does.

const modern = createMcpHandler(() => newServer('2026-07-28'), { legacy: 'reject' });
const serveModern = toNodeHandler(modern);
const sessions = new Map<string, NodeStreamableHTTPServerTransport>();

const app = createMcpExpressApp();
app.all('/mcp', (req, res) => recordExchange(req, res, () => void route(req, res)));

async function route(req: Request, res: Response) {
  if (!(await isLegacyRequest(await toWebRequest(req, req.body), req.body))) return serveModern(req, res, req.body);
  const sessionId = req.headers['mcp-session-id'] as string | undefined;
  let transport = sessionId ? sessions.get(sessionId) : undefined;
  if (!transport) {
    if (sessionId) return void res.writeHead(404).end('unknown session');
    transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => void (sessions.set(id, transport!), log.detail(`session ${id} started`)),
    });
    transport.onclose = () => void (sessions.delete(transport!.sessionId!), log.detail(`session ended`));
    await newServer('2025-11-25').connect(transport);
  }
  await transport.handleRequest(req, res, req.body);
}

ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);
mkdirSync(scratchFolder, { recursive: true });

const http = createServer(app);
const actual = await listenOn(http, port, '127.0.0.1').catch((error: Error) => exitCannotServe(log, error));
log.ok(`listening on http://127.0.0.1:${actual}/mcp  (SDK 2.x: 2026-07-28 stateless, 2025-11-25 with sessions)`);

// Ctrl-C or SIGTERM: lesson 09's shutdown. Stop the handlers with the server's own signal (their
// answer still goes out), wait for their finally blocks, then close the sessions and the listener.
shutDownGracefully({
  log,
  deadlineMs: shutdownDeadlineMs,
  stopAll: () => stopAllJobs('server shutting down'),
  stillBusy: unfinishedJobs,
  closes: 'sessions and the listener',
  close: async () => {
    await Promise.all([...sessions.values()].map((transport) => transport.close()));
    await modern.close();
    closeOpenExchanges();
    http.close();
    http.closeAllConnections();
  },
  afterClose: () => `${readdirSync(scratchFolder).filter((f) => f.includes('-v2-')).length} scratch file(s) left`,
});
