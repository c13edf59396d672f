// The benchmark's server in protocol 2026-07-28, for bench part 7 (cancels.ts): the SDK 2.x
// packages serving statelessly as lesson 12's server does (createMcpHandler, toNodeHandler, behind
// createMcpExpressApp), with lesson 03's abortable handler. There is no session and no cancel
// request: a client cancels a call by closing that call's own response stream, and the SDK aborts
// the handler's signal when the Node response closes.
//
// It speaks to the benchmark over the same IPC channel as server.ts, with the same messages:
// "cancel received" is when the call's response closed before the server had finished it, and
// "cleaned up" when the handler's `finally` had run.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2ServerResponse } from 'node:http2';
import { join } from 'node:path';
import { createMcpExpressApp } from '@modelcontextprotocol/express';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { run as runStrategy } from '../../lessons/03-cooperative-handlers/strategies.ts';
import { establishedConnections } from '../../lessons/09-disconnects-and-shutdown/held-resources.ts';
import { choiceFlag, intFlag, parseFlags } from '../../lessons/shared/cli.ts';
import { ensureSampleFile } from '../../lessons/shared/data-folder.ts';
import type { Job } from '../../lessons/shared/jobs.ts';
import { listenOn } from '../../lessons/shared/listen.ts';
import { dropConnectionHeaderWarning } from './h2.ts';
import { monotonicMs, type CleanupEvent, type ServerStats, type StatsOptions, type ToServer } from './ipc.ts';

const HELP = `
Usage: node --expose-gc --import tsx scripts/bench/server-2026.ts [--http 1.1|h2c] [--keep-alive-ms N]

The benchmark's SDK 2.x server (protocol 2026-07-28); scripts/bench/bench.ts starts it with an IPC channel.
  --http 1.1|h2c          1.1: behind createMcpExpressApp on node:http, as lesson 12 (default);
                          h2c: toNodeHandler straight on node:http2 (express cannot serve it)
  --keep-alive-ms N       interval of the SDK's SSE keep-alive comments (default: 15000)
`;
const flags = parseFlags({ http: { type: 'string' }, 'keep-alive-ms': { type: 'string' } }, HELP);
const httpVersion = choiceFlag('http', flags.http, ['1.1', 'h2c'] as const, '1.1');
const keepAliveMs = intFlag('keep-alive-ms', flags['keep-alive-ms'], 15_000, 1);

// As in server.ts: count the SDK's live keep-alive timers (one per open SSE stream). Measurement only.
const liveIntervals = new Set<unknown>();
const realSetInterval = globalThis.setInterval;
const realClearInterval = globalThis.clearInterval;
globalThis.setInterval = ((...args: Parameters<typeof realSetInterval>) => {
  const timer = realSetInterval(...args);
  if (args[1] === keepAliveMs) liveIntervals.add(timer);
  return timer;
}) as unknown as typeof setInterval;
globalThis.clearInterval = ((timer: Parameters<typeof realClearInterval>[0]) => {
  liveIntervals.delete(timer);
  realClearInterval(timer);
}) as unknown as typeof clearInterval;

if (!process.send) {
  console.error('scripts/bench/server-2026.ts reports over IPC: run it through `npm run bench`.');
  process.exit(2);
}
const send = (message: unknown) => process.send?.(message);
const sampleFile = ensureSampleFile(join(import.meta.dirname, 'data'), 'sample.txt', 1024 * 1024);

/** One HTTP exchange: when the client closed it, if it did before the server finished it. */
interface Exchange {
  closedByClientAt?: number;
}
// By the call's tag (unique per call; request ids repeat across clients). Not AsyncLocalStorage: in
// Node 20 it turns on promise hooks, which slow every promise in the process (about a fifth of this
// server's CPU in a profile of part 7), and neither the SDK nor express uses it.
const exchangeOf = new Map<string, Exchange>();
const openResponses = new Set<ServerResponse | Http2ServerResponse>();
let handlersRunning = 0;
let closedByClient = 0;
let lastClosedByClientAt: number | undefined;

const handler = createMcpHandler(
  () => {
    const server = new McpServer({ name: 'bench-2026', version: '1.0.0' });
    server.registerTool(
      'process_large_file',
      {
        description: 'The lessons’ process_large_file, with lesson 03’s abortable waits.',
        inputSchema: z.object({
          style: z.literal('abortable'),
          tag: z.string(),
          chunks: z.number().int().min(1).max(1_000_000),
          chunkMs: z.number().int().min(0).max(60_000),
        }),
      },
      async ({ tag, chunks, chunkMs }, ctx) => {
        handlersRunning++;
        const exchange = exchangeOf.get(tag);
        const { signal } = ctx.mcpReq;
        const job: Job = {
          requestId: ctx.mcpReq.id,
          tool: 'process_large_file (abortable)',
          file: 'sample.txt',
          state: 'running',
          chunksTotal: chunks,
          chunksDone: 0,
          startedAt: performance.now(),
          fileHandle: 'not opened',
          resources: {},
        };
        const token = ctx.mcpReq._meta?.progressToken;
        let state: CleanupEvent['state'] = 'completed';
        try {
          // "The handler is running": the benchmark cancels after this.
          if (token !== undefined)
            await ctx.mcpReq.notify({
              method: 'notifications/progress',
              params: { progressToken: token, progress: 0 },
            });
          await runStrategy.abortable({ file: sampleFile, chunks, chunkMs, job, signal, note: () => {} });
        } catch (error) {
          state = signal.aborted ? 'cancelled' : 'failed';
          if (state === 'failed') send({ type: 'failed', tag, message: (error as Error).message });
        } finally {
          handlersRunning--;
        }
        const event: CleanupEvent = {
          type: 'cleaned',
          tag,
          state,
          cleanedAt: monotonicMs(),
          cancelReceivedAt: exchange?.closedByClientAt,
        };
        send(event);
        // Cancelled: the stream is gone and nothing of this reaches the wire (lesson 12).
        return { content: [{ type: 'text', text: `${state} after ${job.chunksDone} of ${chunks}` }] };
      },
    );
    return server;
  },
  { keepAliveMs, legacy: 'reject' },
);

const serve = toNodeHandler(handler);
/** The tag a tools/call carries in its arguments, if it is one. */
const tagOf = (body: unknown) =>
  (body as { params?: { arguments?: { tag?: unknown } } } | undefined)?.params?.arguments?.tag as string | undefined;

/** Records an exchange (under the call's tag, if any): the responses still open, and those the client closed. */
function recorded(res: ServerResponse | Http2ServerResponse, tag: string | undefined) {
  const exchange: Exchange = {};
  if (tag !== undefined) exchangeOf.set(tag, exchange);
  openResponses.add(res);
  res.once('close', () => {
    openResponses.delete(res);
    if (tag !== undefined) exchangeOf.delete(tag);
    // writableEnded, not writableFinished: an Http2ServerResponse reset by the client reports the latter true.
    if (res.writableEnded) return;
    exchange.closedByClientAt = monotonicMs();
    closedByClient++;
    lastClosedByClientAt = exchange.closedByClientAt;
  });
}

async function readJson(req: AsyncIterable<unknown>): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : undefined;
}
/**
 * Part 7's floor in 2026-07-28: GET /raw opens a bare event stream, no MCP, that the client closes.
 * A thousand of them closed at once cost what closing streams costs, with no SDK on either side.
 */
function rawStream(res: ServerResponse | Http2ServerResponse) {
  recorded(res, undefined);
  const out = res as ServerResponse; // the two kinds write alike; their types do not unite
  out.writeHead(200, { 'content-type': 'text/event-stream' });
  out.write(': open\n\n');
}
let port: number;
if (httpVersion === 'h2c') {
  dropConnectionHeaderWarning();
  // SDK 2.x's toNodeHandler knows HTTP/2's pseudo-headers. The body is read here, for the tag.
  const h2 = createHttp2Server(async (req, res) => {
    if (req.url === '/raw') return rawStream(res);
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    recorded(res, tagOf(body));
    await serve(req as unknown as IncomingMessage, res as unknown as ServerResponse, body);
  });
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', () => resolve()));
  port = (h2.address() as { port: number }).port;
} else {
  // createMcpExpressApp is express() with express.json() and Host/Origin checks, as in lesson 12.
  const app = createMcpExpressApp();
  app.get('/raw', (_req, res) => rawStream(res));
  app.all('/mcp', async (req, res) => {
    recorded(res, tagOf(req.body));
    await serve(req, res, req.body);
  });
  port = await listenOn(createServer(app), 0, '127.0.0.1');
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

function stats({ gc, proc }: StatsOptions): ServerStats {
  const cpu = process.cpuUsage();
  if (gc) globalThis.gc?.();
  const memory = process.memoryUsage();
  return {
    type: 'stats',
    cancelsRead: closedByClient,
    lastCancelReadAt: lastClosedByClientAt,
    openResponseStreams: openResponses.size,
    // No session, so no transport outlives its exchange: SDK 2.x keeps no stream table to count.
    sdkStreams: 0,
    sdkRequestMappings: 0,
    handlersRunning,
    keepAliveTimers: liveIntervals.size,
    tcpConnections: proc ? establishedConnections(process.pid, port) : null,
    cpuMs: cpuMs(cpu),
    cpuMsAtEnd: cpuMs(process.cpuUsage()),
    rssBytes: memory.rss,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: memory.heapUsed,
  };
}

process.on('message', (message: ToServer) => {
  if (message.type === 'stats') send({ ...stats(message), requestId: message.requestId });
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', url: `http://127.0.0.1:${port}/mcp`, onCancel: 'error' });
