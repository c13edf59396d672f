// Lesson 09 server: what stops a running tool call when the client is gone, what a cancelled
// request leaves behind in SDK 1.x, and a shutdown that lets every handler clean up before exit.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#sending-messages-to-the-server
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { RequestId, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel } from '../01-cancel-by-id/cancellation.ts';
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool, type Job } from '../shared/jobs.ts';
import { serveMcpOverHttp, type McpSession, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { countHeldResources, heldResourcesSchema } from './held-resources.ts';
import { SHUTDOWN_GRACE_MS, shutDownGracefully } from './shutdown.ts';

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
      const work = processFile(job, file, chunkDelayMs, extra);
      runningCalls.add(work);
      try {
        return await work;
      } finally {
        runningCalls.delete(work);
      }
    },
  );

  /** The job in chunks: stops on the SDK's signal (cancel, DELETE, transport closed) or the server's own. */
  async function processFile(job: Job, file: string, chunkDelayMs: number, extra: Extra) {
    const id = extra.requestId;
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
      job.state = 'cancelled';
      job.stoppedAt = performance.now();
      const why = stopReason(job, stopper.signal, extra.signal);
      job.resources['stopped by'] = why;
      log.highlight(`#${id} handler stopped after chunk ${job.chunksDone}/${job.chunksTotal} (${why})`);
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
    if (!job.cancel) {
      job.reply = 'nothing (the session ended)';
      return;
    }
    if (onCancel === 'error') {
      await answerCancelled(transport, job, log);
    } else if (onCancel === 'close-stream') {
      transport.closeSSEStream(job.requestId);
      job.reply = 'nothing (stream closed with transport.closeSSEStream)';
      log.highlight(`#${job.requestId} transport.closeSSEStream(${JSON.stringify(job.requestId)}): stream closed`);
    } else if (onCancel === 'extra-close-stream') {
      // Defined only when the transport has an event store (and the client speaks 2025-11-25 or later).
      const close = extra.closeSSEStream;
      close?.();
      job.reply = `nothing (extra.closeSSEStream is ${close ? 'a function: called' : 'undefined: nothing closed'})`;
      log.highlight(`#${job.requestId} extra.closeSSEStream is ${close ? 'a function: called' : 'undefined'}`);
    } else {
      job.reply = 'nothing';
      log.highlight(`#${job.requestId} replying: nothing (SDK 1.x keeps this request's stream open)`);
    }
  }

  registerJobStatusTool(server, jobs);

  server.registerTool(
    'count_held_resources',
    {
      title: 'Count held resources',
      description:
        "What this server process holds right now for its clients: this session's open response streams, " +
        "the SDK's streams (each with a keep-alive timer) and request-to-stream entries, and TCP connections.",
      outputSchema: heldResourcesSchema,
    },
    async (extra) => {
      const streams = running.sessions.get(sessionId() ?? '')?.responseStreams ?? new Map();
      const open = [...streams].filter(([id, record]) => id !== extra.requestId && record.closedAt === undefined);
      const counts = countHeldResources(transport, running.port, extra.requestId, open.length);
      return { content: [{ type: 'text', text: JSON.stringify(counts) }], structuredContent: counts };
    },
  );
  return server;
}

// ---------------------------------------------------------------------------------------------
// Flags, helpers and start-up.

export const DEFAULT_PORT = 3109;
export const CANCEL_ANSWERS = ['error', 'close-stream', 'extra-close-stream', 'none'] as const;
export type CancelAnswer = (typeof CANCEL_ANSWERS)[number];

const HELP = `
Lesson 09 server: disconnects, the leaking stream, and a graceful shutdown.

Usage: npx tsx lessons/09-disconnects-and-shutdown/server.ts [options]

  --port N                  port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --on-cancel WAY           what the server does with a cancelled request's response stream (default: error)
                              error               reply -32800 "Request cancelled": the SDK then closes the stream
                              close-stream        transport.closeSSEStream(requestId): closes it, sends nothing
                              extra-close-stream  extra.closeSSEStream?.(): undefined without an event store
                              none                nothing, the SDK 1.x default: the stream stays open
  --disconnect-means-cancel stop a handler when its response stream closes before its reply
                            (opt-in: the 2025-11-25 spec says a disconnect SHOULD NOT be read as a cancel)
  --keep-alive-ms N         interval of the SDK's SSE keep-alive comments (default: 15000)
  --shutdown-deadline-ms N  on SIGINT/SIGTERM, how long running calls get to clean up (default: ${SHUTDOWN_GRACE_MS})
  --data DIR                the data folder: sample.txt and scratch/ (default: lessons/09-disconnects-and-shutdown/data)
  -h, --help                show this help
`;

const flags = parseFlags(
  {
    port: { type: 'string' },
    'on-cancel': { type: 'string' },
    'disconnect-means-cancel': { type: 'boolean' },
    'keep-alive-ms': { type: 'string' },
    'shutdown-deadline-ms': { type: 'string' },
    data: { type: 'string' },
  },
  HELP,
);
const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
const onCancel = choiceFlag('on-cancel', flags['on-cancel'], CANCEL_ANSWERS, 'error');
const disconnectMeansCancel = flags['disconnect-means-cancel'] ?? false;
const keepAliveMs = intFlag('keep-alive-ms', flags['keep-alive-ms'], 15_000, 1);
const shutdownDeadlineMs = intFlag('shutdown-deadline-ms', flags['shutdown-deadline-ms'], SHUTDOWN_GRACE_MS, 1);

const dataFolder = flags.data ?? join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder); // shown in messages, not the absolute path
const scratchFolder = join(dataFolder, 'scratch');
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);
mkdirSync(scratchFolder, { recursive: true });

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * The SDK's own AbortController per request is private, and only a cancel, DELETE or the transport
 * closing aborts it. The server's own reasons to stop a handler (its client disconnected, the
 * server is shutting down) go through a second controller per job; the handler listens to both.
 */
const stoppers = new WeakMap<Job, AbortController>();
/** Every handler still running, so a shutdown can wait for their `finally` blocks. */
const runningCalls = new Set<Promise<unknown>>();

export const DISCONNECTED = 'client disconnected';
export const SHUTTING_DOWN = 'server shutting down';

const textResult = (text: string, isError = false) => ({ content: [{ type: 'text' as const, text }], isError });

/** Why a handler stopped. Only this server's own reasons and a client's cancel name themselves. */
function stopReason(job: Job, ownSignal: AbortSignal, sdkSignal: AbortSignal): string {
  if (ownSignal.aborted) return String(ownSignal.reason);
  if (job.cancel) return `cancelled by the client: "${job.cancel.reason ?? ''}"`;
  // Neither: the session's transport closed (a DELETE). SDK 1.x then aborts every running handler
  // with no reason (protocol.js _onclose: `controller.abort()`), so the signal's reason is the
  // platform's bare AbortError. "the session ended" is this server's reading of that, not the SDK's.
  const reason = sdkSignal.reason as unknown;
  const shown = reason instanceof Error ? `${reason.name} "${reason.message}"` : JSON.stringify(reason);
  return `the session ended; extra.signal.reason: ${shown}`;
}

/**
 * Fires when a request's HTTP response closes. After its reply that is the normal end; before
 * it, the client went away: it closed its transport or was killed, and its connection closed.
 */
function onResponseStreamClosed(session: McpSession, requestId: RequestId) {
  const job = session.jobs.get(requestId);
  if (!job) return;
  if (job.state !== 'running') {
    if (job.cancel) log.highlight(`#${JSON.stringify(requestId)} response stream closed`);
    return;
  }
  job.resources['response stream'] = 'closed before the reply';
  if (!disconnectMeansCancel) {
    log.warn(`#${JSON.stringify(requestId)} response stream closed before the reply: the handler runs on`);
    return;
  }
  // Opt-in policy: treat the disconnect as a cancel. A client that meant to resume the stream
  // (GET with Last-Event-ID) finds its work gone: that is the trade-off.
  job.cancel = { receivedAt: performance.now(), reason: DISCONNECTED, chunksDoneThen: job.chunksDone };
  log.highlight(`#${JSON.stringify(requestId)} response stream closed before the reply: stopping the handler`);
  stoppers.get(job)?.abort(DISCONNECTED);
}

const running = await serveMcpOverHttp({
  port,
  timeline: log,
  keepAliveMs,
  createServer,
  onClientMessage: (session, message) => noteCancel(session.jobs, message, log),
  onResponseStreamClosed,
}).catch((error: Error) => {
  log.fail(error.message);
  process.exit(1);
});

const stoppedAtShutdown: { session: McpSession; id: RequestId }[] = [];
const repliesPending = () =>
  stoppedAtShutdown.filter(({ session, id }) => session.responseStreams.get(id)?.closedAt === undefined).length;
shutDownGracefully({
  log,
  deadlineMs: shutdownDeadlineMs,
  // With our own controller, not the SDK's: the SDK still delivers each handler's answer.
  stopAll() {
    for (const session of running.sessions.values()) {
      for (const id of session.jobs.ids()) {
        const job = session.jobs.get(id)!;
        if (job.state !== 'running') continue;
        stoppedAtShutdown.push({ session, id });
        stoppers.get(job)?.abort(SHUTTING_DOWN);
      }
    }
    return stoppedAtShutdown.length;
  },
  // Each stopped handler returned "stopped: server shutting down": wait until the SDK has written
  // it out too, before the streams are closed under it.
  stillBusy: () => runningCalls.size + repliesPending(),
  close: () => running.close(),
  afterClose: () => `${readdirSync(scratchFolder).length} scratch file(s) left`,
});

log.ok(
  `listening on ${running.url}  (on cancel: ${onCancel}; disconnect means cancel: ${disconnectMeansCancel ? 'yes' : 'no'})`,
);
