// Lesson 14 exercise: server.ts with its point taken out. A cancel that lands on this replica is
// published on the cancel bus, but the handler never listens to the bus: a cancel that the balancer
// sends to another replica stops nothing, and the call reads on. Fix it where the EXERCISE comment
// is, then check it: `npm run learn -- 14` (the README's Exercise says more).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type Request } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CancelledNotificationSchema, isJSONRPCRequest, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { connectCancelBus } from './cancel-bus.ts';
import { jobsOf, recordResponseStream, unfinishedJobs } from './replica-jobs.ts';
import { busUrl, name, port } from './server-flags.ts';
import { shutDownGracefully } from '../09-disconnects-and-shutdown/shutdown.ts';
import { lessonDataFolder, resolveInDataFolder } from '../shared/data-folder.ts';
import { answerHttpErrors, jsonRpcError, oneMessageOrAnswer, onlyLocalPages } from '../shared/http-guards.ts';
import { registerJobStatusTool, trackJob } from '../shared/jobs.ts';
import { exitCannotServe, listenOn } from '../shared/listen.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline, preview } from '../shared/timeline.ts';

const log = createTimeline('server');
const data = lessonDataFolder(import.meta.dirname, 'sample.txt', 1024 * 1024);
const bus = busUrl
  ? await connectCancelBus(busUrl, name, log).catch((error: Error) =>
      exitCannotServe(log, new Error(`cannot reach the cancel bus at ${busUrl}: ${error.message}`)),
    )
  : undefined;

/** Who is calling. With no session, the credential it sends is all a stateless server knows of it. */
function callerOf(req: Request): string {
  const credential = req.header('authorization');
  return credential ? `caller ${createHash('sha256').update(credential).digest('hex').slice(0, 8)}` : 'anonymous';
}
/** A call's key on the bus: request ids are unique only per caller. */
const cancelKey = (caller: string, id: RequestId) => `${caller} #${JSON.stringify(id)}`;

/** A fresh McpServer for one POST: a stateless replica keeps nothing between requests but job records. */
function createServer(caller: string) {
  const server = new McpServer({ name: 'lesson-14-replica', version: '1.0.0' });
  const jobs = jobsOf(caller);

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Reads a file from the lesson data folder in `chunks` equal chunks, hashing each (SHA-256), waiting `chunkDelayMs` after each so a run lasts long enough to cancel. Try path "sample.txt".',
      inputSchema: {
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(250).describe('pause after each chunk, in ms'),
      },
    },
    async ({ path, chunks, chunkDelayMs }, extra) => {
      const file = resolveInDataFolder(data.folder, path, data.label);
      const fields = { tool: 'process_large_file', file: path, chunksTotal: chunks };
      const job = trackJob(jobs, extra.requestId, fields, `${path}, ${chunks} chunks (${caller}, on ${name})`, log);
      // EXERCISE: the SDK's signal fires only when this request's own server closes (its client
      // went away). A notifications/cancelled for this call lands in another request's server,
      // often on another replica, and reaches this one only on the bus, which nothing here hears.
      const signal = extra.signal;

      const handle = await open(file, 'r');
      job.fileOpened();
      const hash = createHash('sha256');
      try {
        const { size } = await handle.stat();
        const chunkSize = Math.ceil(size / chunks);
        const buffer = Buffer.alloc(chunkSize);
        for (let i = 0; i < chunks; i++) {
          const read = await handle.read(buffer, 0, chunkSize, i * chunkSize);
          hash.update(buffer.subarray(0, read.bytesRead));
          job.chunkDone();
          await sleep(chunkDelayMs, undefined, { signal });
        }
        job.completed();
      } catch (error) {
        if (!signal.aborted) throw job.failed(error);
        job.stopped(extra.signal.aborted ? 'its connection closed' : 'cancelled');
      } finally {
        await handle.close();
        job.fileClosed();
      }

      const done = job.state === 'completed';
      const text = done
        ? `Processed ${path}: ${chunks} chunks, sha256 ${hash.digest('hex')}`
        : `Cancelled after ${job.chunksDone} of ${chunks} chunks`;
      if (extra.signal.aborted) job.reply = 'nothing (the connection closed)';
      else job.reply = done ? 'result' : 'result (cancelled)';
      if (job.cancel) log.highlight(`#${JSON.stringify(extra.requestId)} replying: ${text}`);
      // A bus cancel leaves the SDK's signal alone, so the SDK sends this on the call's own stream and ends it.
      return { content: [{ type: 'text', text }], isError: false };
    },
  );

  registerJobStatusTool(server, jobs);
  return server;
}

/** A `notifications/cancelled`, on whichever replica it lands: publish it for the replica that runs the call. */
async function forwardCancel(caller: string, message: unknown) {
  const parsed = CancelledNotificationSchema.safeParse(message);
  if (!parsed.success || parsed.data.params.requestId === undefined) return; // the SDK ignores it too
  const { requestId, reason } = parsed.data.params;
  const shown = `notifications/cancelled for #${preview(requestId)} (${caller})`;
  if (!bus) {
    // It reaches this request's own fresh server, where nothing runs: it stops nothing.
    log.warn(`${shown} landed on ${name}: no cancel bus, and nothing runs in this request's server: ignored`);
    return prove({ type: 'cancel', session: caller, requestId, matched: 'nothing: there is no cancel bus' });
  }
  log.highlight(`${shown} landed on ${name}: publishing it on the cancel bus`);
  prove({ type: 'cancel', session: caller, requestId, matched: 'published on the cancel bus' });
  await bus.publish(cancelKey(caller, requestId), reason);
}

// ---------------------------------------------------------------------------------------------
// HTTP: every POST gets its own server and transport, as in the SDK's stateless example.

const app = express();
app.use(...onlyLocalPages()); // a foreign Host or Origin gets 403 (DNS rebinding)
let shuttingDown = false;
app.use((_req, res, next) =>
  shuttingDown ? jsonRpcError(res, 503, -32000, 'Service Unavailable: this replica is shutting down') : next(),
);
app.use(express.json({ limit: '1mb' }));
const openTransports = new Set<StreamableHTTPServerTransport>();

app.post('/mcp', async (req, res) => {
  const message = oneMessageOrAnswer(req, res); // 415, 400 with what is wrong
  if (!message) return;
  const caller = callerOf(req);
  if ('method' in message && message.method === 'notifications/cancelled') await forwardCancel(caller, message);
  if (isJSONRPCRequest(message)) recordResponseStream(caller, message.id, res);

  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined }); // stateless
  const server = createServer(caller);
  openTransports.add(transport);
  res.on('close', () => {
    openTransports.delete(transport);
    void transport.close(); // frees the request's server; it also aborts a handler still running
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, message);
});
app.all('/mcp', (req, res) => {
  res.set('Allow', 'POST');
  jsonRpcError(
    res,
    405,
    -32000,
    `Method Not Allowed: ${req.method}. This replica is stateless: there is no session to GET a stream of or to DELETE`,
  );
});
app.use((req, res) => jsonRpcError(res, 404, -32000, `Not Found: ${req.method} ${req.path}; MCP is served at /mcp`));
app.use(answerHttpErrors(log)); // bad JSON, a body too large: a JSON-RPC error

const http = createHttpServer(app);
const actual = await listenOn(http, port, '127.0.0.1').catch((error: Error) => exitCannotServe(log, error));
log.ok(
  `listening on http://127.0.0.1:${actual}/mcp  (replica ${name}, stateless; cancel bus: ${busUrl ?? 'none'}; data folder: ${data.label})`,
);

// Ctrl-C or SIGTERM (a drain): lesson 09's shutdown. Closing a transport aborts its handler.
shutDownGracefully({
  log,
  stopAll() {
    shuttingDown = true;
    const running = unfinishedJobs();
    for (const transport of openTransports) void transport.close();
    return running;
  },
  stillBusy: unfinishedJobs,
  closes: 'the listener and the cancel bus',
  close: async () => {
    await bus?.close();
    http.close();
    http.closeAllConnections();
  },
});
