// The benchmark's server. It runs the lessons' own handlers (lesson 03's polling and abortable
// strategies, lesson 04's streaming fetch and file pipeline, the loop of lesson 07's progress
// flood) behind the shared HTTP wiring,
// with two differences from a lesson server:
//
// - no line per call on stdout (writing a log line costs more than some of what is measured);
// - an IPC channel to the benchmark (scripts/bench/bench.ts) carries timestamps and counts, so
//   measuring never adds HTTP traffic, sockets or streams to the server it measures.
//
// --http h2c serves the same sessions over cleartext HTTP/2 instead (h2.ts), for part 7.
//
// --on-cancel none is the stock SDK 1.x behaviour: the handler stops, nothing is replied, and the
// request's stream stays open. --on-cancel error is this repo's recommended pattern (lesson 01):
// after the handler has cleaned up, answer the cancelled request with -32800 (answerCancelled).
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { run as runStrategy } from '../../lessons/03-cooperative-handlers/strategies.ts';
import { fetchFromUpstream, readLargeFile } from '../../lessons/04-signal-into-io/layers.ts';
import { startSlowUpstream } from '../../lessons/04-signal-into-io/slow-upstream.ts';
import {
  countSdkStreams,
  establishedConnections,
  hasStandaloneStream,
} from '../../lessons/09-disconnects-and-shutdown/held-resources.ts';
import { answerCancelled, noteCancel } from '../../lessons/01-cancel-by-id/cancellation.ts';
import { choiceFlag, intFlag, parseFlags } from '../../lessons/shared/cli.ts';
import { ensureSampleFile } from '../../lessons/shared/data-folder.ts';
import { serveMcpOverHttp, type McpSession, type NewSession } from '../../lessons/shared/mcp-http.ts';
import { runningHandlers } from '../../lessons/shared/sdk-internals.ts';
import { createTimeline } from '../../lessons/shared/timeline.ts';
import { serveMcpOverH2c } from './h2.ts';
import { monotonicMs, type CleanupEvent, type ServerStats, type StatsOptions, type ToServer } from './ipc.ts';

const HELP = `
Usage: node --expose-gc --import tsx scripts/bench/server.ts [--on-cancel none|error] [--http 1.1|h2c] [--port N]

The benchmark's server; scripts/bench/bench.ts starts it with an IPC channel.
  --on-cancel none|error  none: the stock SDK (nothing is replied to a cancelled request);
                          error: the recommended pattern (-32800 once the handler cleaned up)
  --http 1.1|h2c          1.1: the shared wiring (express on node:http, default); h2c: the same
                          sessions over cleartext HTTP/2 (h2.ts: express cannot serve node:http2)
  --port N                port on 127.0.0.1 (default 0: a free one)
  --keep-alive-ms N       interval of the SDK's SSE keep-alive comments (default: 15000)
`;

export const STYLES = [
  'poll-1s',
  'poll-100ms',
  'abortable',
  'signal-into-fetch',
  'signal-into-file',
  'flood',
  'flood-tight',
] as const;
export type Style = (typeof STYLES)[number];

const flags = parseFlags(
  {
    'on-cancel': { type: 'string' },
    http: { type: 'string' },
    port: { type: 'string' },
    'keep-alive-ms': { type: 'string' },
  },
  HELP,
);
const onCancel = choiceFlag('on-cancel', flags['on-cancel'], ['none', 'error'] as const, 'error');
const httpVersion = choiceFlag('http', flags.http, ['1.1', 'h2c'] as const, '1.1');
const port = intFlag('port', flags.port, 0, 0, 65_535);
const keepAliveMs = intFlag('keep-alive-ms', flags['keep-alive-ms'], 15_000, 1);

// The SDK arms a keep-alive setInterval per open SSE stream and keeps it privately: count the live
// ones by wrapping the global pair before any is armed. (Measurement only; never do this in a server.)
const liveIntervals = new Set<unknown>();
const realSetInterval = globalThis.setInterval;
const realClearInterval = globalThis.clearInterval;
globalThis.setInterval = ((...args: Parameters<typeof realSetInterval>) => {
  const timer = realSetInterval(...args);
  if (args[1] === keepAliveMs) liveIntervals.add(timer); // the SDK's keep-alive interval, nothing else
  return timer;
}) as unknown as typeof setInterval;
globalThis.clearInterval = ((timer: Parameters<typeof realClearInterval>[0]) => {
  liveIntervals.delete(timer);
  realClearInterval(timer);
}) as unknown as typeof clearInterval;

if (!process.send) {
  console.error('scripts/bench/server.ts reports over IPC: run it through `npm run bench`.');
  process.exit(2);
}
const send = (message: unknown) => process.send?.(message);

const quiet = createTimeline('server', () => {});
// Lesson 04's slow upstream, in this process as in lesson 04: the fetch style streams from it.
const upstream = await startSlowUpstream(quiet, () => {});
const sampleFile = ensureSampleFile(join(import.meta.dirname, 'data'), 'sample.txt', 1024 * 1024);
// performance.now() and process.hrtime() read the same monotonic clock from different origins.
const performanceToMonotonic = monotonicMs() - performance.now();
let cancelsRead = 0;
let lastCancelReadAt: number | undefined;

function createServer({ transport, jobs }: NewSession) {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool(
    'process_large_file',
    {
      description: 'The lessons’ process_large_file, written in the way `style` names.',
      inputSchema: {
        style: z.enum(STYLES),
        tag: z.string(),
        chunks: z.number().int().min(1).max(1_000_000),
        chunkMs: z.number().int().min(0).max(60_000),
      },
    },
    async ({ style, tag, chunks, chunkMs }, extra) => {
      const job = jobs.start(extra.requestId, {
        tool: `process_large_file (${style})`,
        file: 'sample.txt',
        chunksTotal: chunks,
      });
      const token = extra._meta?.progressToken;
      const progress = (progress: number) =>
        token === undefined
          ? Promise.resolve()
          : extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress } });
      const { signal } = extra;
      let state: CleanupEvent['state'] = 'completed';
      try {
        await progress(0); // "the handler is running": the benchmark cancels after this
        if (style === 'flood' || style === 'flood-tight') {
          // The loop of lesson 07's flood_progress: it checks its signal before every send, and only the
          // yielding one ever sees it.
          for (let i = 1; i <= chunks && !signal.aborted; i++) {
            await progress(i);
            job.chunksDone = i;
            if (style === 'flood') await yieldToEventLoop();
          }
          signal.throwIfAborted();
        } else if (style === 'signal-into-fetch' || style === 'signal-into-file') {
          const layer = { job, chunks, chunkDelayMs: chunkMs, log: quiet, onChunk: () => void job.chunksDone++ };
          if (style === 'signal-into-file') await readLargeFile(layer, sampleFile, signal);
          else
            await fetchFromUpstream(
              layer,
              `${upstream.url}?chunks=${chunks}&delayMs=${chunkMs}&tag=${tag}&key=${tag}`,
              signal,
            );
        } else {
          await runStrategy[style]({ file: sampleFile, chunks, chunkMs, job, signal, note: () => {} });
        }
      } catch (error) {
        state = signal.aborted ? 'cancelled' : 'failed';
        if (state === 'failed') send({ type: 'failed', tag, message: (error as Error).message });
      }
      // Every strategy has released what it held (its `finally` ran) by the time it settles.
      const cleanedAt = monotonicMs();
      job.state = state;
      const event: CleanupEvent = {
        type: 'cleaned',
        tag,
        state,
        cleanedAt,
        cancelReceivedAt: job.cancel ? job.cancel.receivedAt + performanceToMonotonic : undefined,
      };
      send(event);
      if (state === 'cancelled' && job.cancel && onCancel === 'error') await answerCancelled(transport, job, quiet);
      return { content: [{ type: 'text', text: `${state} after ${job.chunksDone} of ${chunks}` }] };
    },
  );
  return server;
}

const onClientMessage = (session: McpSession, message: JSONRPCMessage) => {
  if ('method' in message && message.method === 'notifications/cancelled') {
    cancelsRead++;
    lastCancelReadAt = monotonicMs();
  }
  noteCancel(session.jobs, message, quiet);
};
const mcp =
  httpVersion === 'h2c'
    ? await serveMcpOverH2c({ port, keepAliveMs, createServer, onClientMessage })
    : await serveMcpOverHttp({ port, timeline: quiet, keepAliveMs, createServer, onClientMessage });

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

function stats({ gc, proc }: StatsOptions): ServerStats {
  const cpu = process.cpuUsage();
  if (gc) globalThis.gc?.(); // started with --expose-gc: the heap figure is live objects, not garbage
  let openResponseStreams = 0;
  let sdkStreams = 0;
  let sdkRequestMappings = 0;
  let standaloneStreams = 0;
  let handlersRunning = 0;
  for (const session of mcp.sessions.values()) {
    handlersRunning += runningHandlers(session.server).size;
    if (hasStandaloneStream(session.transport)) standaloneStreams++;
    openResponseStreams += [...session.responseStreams.values()].filter((r) => r.closedAt === undefined).length;
    const sdk = countSdkStreams(session.transport);
    sdkStreams += sdk.sdkStreams;
    sdkRequestMappings += sdk.sdkRequestMappings;
  }
  const memory = process.memoryUsage();
  return {
    type: 'stats',
    cancelsRead,
    lastCancelReadAt,
    openResponseStreams,
    sdkStreams,
    sdkRequestMappings,
    handlersRunning,
    // The session's standalone GET stream has a keep-alive too; it is not a request's.
    keepAliveTimers: liveIntervals.size - standaloneStreams,
    tcpConnections: proc ? establishedConnections(process.pid, mcp.port) : null,
    cpuMs: cpuMs(cpu),
    cpuMsAtEnd: cpuMs(process.cpuUsage()), // after the GC and the /proc reads above
    rssBytes: memory.rss,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: memory.heapUsed,
  };
}

process.on('message', (message: ToServer) => {
  if (message.type === 'stats') send({ ...stats(message), requestId: message.requestId });
});
process.on('disconnect', () => process.exit(0)); // the benchmark went away: so do we
send({ type: 'ready', url: mcp.url, onCancel });
