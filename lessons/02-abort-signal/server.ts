// Lesson 02 server: the same cancellable `process_large_file` as lesson 01, plus two opt-in fixes
// for cancels that SDK 1.x drops on the floor, and a way to crash mid-call (for the client's
// "connection lost" case).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CancelledNotificationSchema, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { intFlag, parseFlags } from '../shared/cli.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { JobBook, registerJobStatusTool } from '../shared/jobs.ts';
import { serveMcpOrExit, type McpSession, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';

const log = createTimeline('server');

function createServer({ transport, jobs }: NewSession) {
  const server = new McpServer({ name: 'lesson-02-abort-signal', version: '1.0.0' });
  const own = new OwnCancels();
  ownCancels.set(jobs, own);

  server.registerTool(
    'process_large_file',
    {
      title: 'Process a large file',
      description:
        'Reads a file from the lesson data folder in `chunks` equal chunks, hashing each (SHA-256), ' +
        'waiting `chunkDelayMs` after each so a run lasts long enough to cancel. Try path "sample.txt".',
      inputSchema: {
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(250).describe('pause after each chunk, in ms'),
      },
      outputSchema: {
        status: z.enum(['completed', 'cancelled']),
        chunksDone: z.number(),
        chunksTotal: z.number(),
        bytesRead: z.number(),
        sha256: z.string().optional().describe('of the whole file; only when completed'),
      },
    },
    async ({ path, chunks, chunkDelayMs }, extra) => {
      const file = resolveInDataFolder(dataFolder, path, dataLabel);
      const id = extra.requestId;
      const job = jobs.start(id, { tool: 'process_large_file', file: path, chunksTotal: chunks });
      log.event(
        `tools/call #${JSON.stringify(id)}: process_large_file ${path}, ${chunks} chunks, ${chunkDelayMs} ms apart`,
      );

      // The handler stops on either signal: the SDK's (a normal cancel, or the session ending) or its own.
      const ownStop = new AbortController();
      own.running.set(keyOf(id), ownStop);
      const signal = AbortSignal.any([extra.signal, ownStop.signal]);
      const early = own.early.get(keyOf(id));
      if (early && rememberEarlyCancelsMs > 0) {
        own.early.delete(keyOf(id));
        job.cancel = { receivedAt: early.receivedAt, reason: early.reason, chunksDoneThen: 0 };
        log.highlight(`#${JSON.stringify(id)} was cancelled before it arrived: stopping it now`);
        ownStop.abort(early.reason);
      }

      const handle = await open(file, 'r');
      job.fileHandle = 'open';
      const hash = createHash('sha256');
      let bytesRead = 0;
      try {
        signal.throwIfAborted();
        const { size } = await handle.stat();
        const chunkSize = Math.ceil(size / chunks);
        const buffer = Buffer.alloc(chunkSize);
        for (let i = 0; i < chunks; i++) {
          const read = await handle.read(buffer, 0, chunkSize, i * chunkSize);
          hash.update(buffer.subarray(0, read.bytesRead));
          bytesRead += read.bytesRead;
          job.chunksDone++;
          log.detail(`#${JSON.stringify(id)} chunk ${job.chunksDone}/${chunks}`);
          if (job.chunksDone === crashAtChunk) crash();
          await sleep(chunkDelayMs, undefined, { signal });
        }
        job.state = 'completed';
      } catch (error) {
        if (!signal.aborted) {
          job.state = 'failed';
          throw error; // McpServer turns it into a tool error result
        }
        job.state = 'cancelled';
        job.stoppedAt = performance.now();
        const why = job.cancel
          ? `${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after the cancel`
          : stopReason(extra.signal);
        log.highlight(`#${JSON.stringify(id)} handler stopped after chunk ${job.chunksDone}/${chunks} (${why})`);
      } finally {
        own.running.delete(keyOf(id));
        await handle.close();
        job.fileHandle = 'closed';
        if (job.state === 'cancelled') log.highlight(`#${JSON.stringify(id)} file handle closed`);
      }

      const result = {
        status: job.state === 'completed' ? ('completed' as const) : ('cancelled' as const),
        chunksDone: job.chunksDone,
        chunksTotal: chunks,
        bytesRead,
        ...(job.state === 'completed' && { sha256: hash.digest('hex') }),
      };
      if (job.state === 'completed') {
        const text = `Processed ${path}: ${chunks} chunks, ${bytesRead} bytes, sha256 ${result.sha256}`;
        const toolResult = { content: [{ type: 'text' as const, text }], structuredContent: result };
        if (await sendResultAfterLateCancel(transport, extra, job, toolResult, log)) return toolResult;
        if (job.cancel) {
          job.reply = 'result (the SDK ignored the cancel)';
          log.warn(`#${JSON.stringify(id)} completed although a cancel for it arrived: the SDK did not act on it`);
        } else {
          job.reply = 'result';
          log.ok(`#${JSON.stringify(id)} completed: replying with the result`);
        }
        return toolResult;
      }
      if (extra.signal.aborted) {
        // The SDK knows: it drops whatever this handler returns, so the answer goes through the transport.
        if (job.cancel) await answerCancelled(transport, job, log);
        else job.reply = `nothing (${stopReason(extra.signal)})`;
        return { content: [], structuredContent: result };
      }
      // Only our own controller stopped it: the SDK does not know the request was cancelled and
      // sends whatever we return. A tool error says plainly that the job did not finish.
      job.reply = 'tool error "Cancelled"';
      log.highlight(
        `#${JSON.stringify(id)} replying: tool error "Cancelled after ${job.chunksDone} of ${chunks} chunks"`,
      );
      const text = `Cancelled after ${job.chunksDone} of ${chunks} chunks (reason: ${job.cancel?.reason ?? 'none given'})`;
      return { content: [{ type: 'text' as const, text }], isError: true };
    },
  );

  registerJobStatusTool(server, jobs);
  return server;
}

// ---------------------------------------------------------------------------------------------
// Flags, helpers and start-up.

export const DEFAULT_PORT = 3102;

const HELP = `
Lesson 02 server: process_large_file over Streamable HTTP, for a client that cancels with an AbortSignal.

Usage: npx tsx lessons/02-abort-signal/server.ts [options]

  --port N                     port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --honour-falsy-ids           also stop requests whose id is 0 or "": SDK 1.x ignores cancels for them
  --remember-early-cancels MS  a cancel for an id this session has not seen yet is kept for MS ms, and
                               stops that request if it arrives in time (default: 0, off: the SDK ignores it)
  --crash-at-chunk N           the process kills itself (SIGKILL) at chunk N of a call: a server that dies mid-call
  -h, --help                   show this help
`;

const flags = parseFlags(
  {
    port: { type: 'string' },
    'honour-falsy-ids': { type: 'boolean' },
    'remember-early-cancels': { type: 'string' },
    'crash-at-chunk': { type: 'string' },
  },
  HELP,
);
const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
const honourFalsyIds = flags['honour-falsy-ids'] ?? false;
const rememberEarlyCancelsMs = intFlag('remember-early-cancels', flags['remember-early-cancels'], 0, 0, 60_000);
const crashAtChunk = intFlag('crash-at-chunk', flags['crash-at-chunk'], 0, 0, 10_000);

const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

const keyOf = (id: RequestId) => `${typeof id}:${String(id)}`;

/**
 * The cancels this server acts on itself, per session, where SDK 1.x does not:
 * - a running job's own AbortController, aborted for a cancel naming a falsy id (0 or ""),
 *   which the SDK skips (`if (!requestId) return` in Protocol._oncancel);
 * - cancels that arrived before their request (the cancel POST overtook the tools/call POST).
 *   Request ids are never reused within a session, so such a cancel names a request not sent
 *   yet (or none at all).
 */
class OwnCancels {
  readonly running = new Map<string, AbortController>();
  readonly early = new Map<string, { reason?: string; receivedAt: number }>();
}

const ownCancels = new WeakMap<JobBook, OwnCancels>();

function crash(): never {
  log.fail(`--crash-at-chunk ${crashAtChunk}: the server process kills itself now (SIGKILL)`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

/** Seen before the SDK handles each message: the shared bookkeeping, plus the cancels the SDK would drop. */
function onClientMessage(session: McpSession, message: JSONRPCMessage) {
  const { jobs } = session;
  const own = ownCancels.get(jobs);
  if (!own) return;
  const cancel = CancelledNotificationSchema.safeParse(message);
  if (!cancel.success || cancel.data.params.requestId === undefined) {
    noteCancel(jobs, message, log);
    return;
  }
  const { requestId, reason } = cancel.data.params;
  const key = keyOf(requestId);
  const known = jobs.get(requestId) ?? jobs.getWithOtherType(requestId);
  if (!known && rememberEarlyCancelsMs > 0) {
    // Not seen yet in this session: keep it a short while in case its request is still on the way.
    own.early.set(key, { reason, receivedAt: performance.now() });
    setTimeout(() => own.early.delete(key), rememberEarlyCancelsMs).unref();
    log.highlight(
      `notifications/cancelled for ${JSON.stringify(requestId)}, a request not seen yet: remembered for ${rememberEarlyCancelsMs} ms`,
    );
    return;
  }
  noteCancel(jobs, message, log);
  const ownStop = own.running.get(key);
  if (!requestId && ownStop) {
    if (honourFalsyIds) {
      log.highlight(`#${JSON.stringify(requestId)}: SDK 1.x ignores cancels for a falsy id; stopping it ourselves`);
      ownStop.abort(reason);
    } else {
      log.warn(`#${JSON.stringify(requestId)}: SDK 1.x ignores cancels for a falsy id (0 or ""); it runs on`);
    }
  }
}

const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage,
  onResponseStreamClosed: (session, requestId) => {
    const job = session.jobs.get(requestId);
    if (job?.state === 'cancelled') log.highlight(`#${JSON.stringify(requestId)} response stream closed`);
  },
});
const fixes = [
  honourFalsyIds && '--honour-falsy-ids',
  rememberEarlyCancelsMs > 0 && `--remember-early-cancels ${rememberEarlyCancelsMs}`,
  crashAtChunk > 0 && `--crash-at-chunk ${crashAtChunk}`,
].filter(Boolean);
log.ok(`listening on ${running.url}  (data folder: ${dataLabel}${fixes.length ? `; ${fixes.join(', ')}` : ''})`);
