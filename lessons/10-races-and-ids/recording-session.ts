// Lesson 10 client's session: an SDK client that records every message it sends and receives, so a
// scenario cancels by the id that really left, and can count the replies that really came back.
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, JSONRPCMessage, JSONRPCResponse, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { chunkDelayMs, chunks, url } from './client-flags.ts';
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

/** An SDK client that records every message it sends and receives, and the HTTP status of each POST. */
export class Session {
  readonly sent: JSONRPCMessage[] = [];
  readonly received: JSONRPCMessage[] = [];
  /** HTTP status of each POST, by the JSON body it carried. */
  readonly posts: { body: string; status: number }[] = [];
  readonly client = new Client({ name: 'lesson-10-client', version: '1.0.0' });
  readonly transport: StreamableHTTPClientTransport;

  constructor(
    readonly log: Timeline,
    slowInitializeMs = 0,
  ) {
    const recordingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const body = typeof init?.body === 'string' ? init.body : '';
      if (init?.method === 'POST') this.posts.push({ body, status: response.status });
      // A slow network, for the initialize scenario: the answer is on its way, and takes a while.
      if (slowInitializeMs > 0 && body.includes('"method":"initialize"'))
        await sleep(slowInitializeMs, undefined, { signal: init?.signal ?? undefined });
      return response;
    };
    this.transport = new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch });
    const send = this.transport.send.bind(this.transport);
    this.transport.send = (message, options) => {
      this.sent.push(...(Array.isArray(message) ? message : [message]));
      return send(message, options);
    };
    // Replies the SDK no longer waits for (it gave up on the request) end up here.
    this.client.onerror = () => {};
  }

  get tag() {
    return (this.transport.sessionId ?? 'none').slice(0, 8);
  }

  async connect() {
    await this.client.connect(this.transport);
    const onmessage = this.transport.onmessage;
    this.transport.onmessage = (message) => {
      this.received.push(message);
      onmessage?.(message);
    };
  }

  repliesTo(id: RequestId): JSONRPCResponse[] {
    return this.received.filter((m): m is JSONRPCResponse => ('result' in m || 'error' in m) && m.id === id);
  }

  /** Starts a process_large_file call; returns its id as it left (never guessed) and how it settles. */
  async startCall(callChunks = chunks) {
    const before = this.sent.length;
    const settled = this.client
      .callTool({ name: 'process_large_file', arguments: { path: 'sample.txt', chunks: callChunks, chunkDelayMs } })
      .then(
        (result) => ({ result: result as CallToolResult }),
        (error: unknown) => ({ error }),
      );
    const id = await waitFor('the tools/call to leave', () => {
      const call = this.sent.slice(before).find((m) => 'method' in m && m.method === 'tools/call');
      return call && 'id' in call ? call.id : undefined;
    });
    this.log.event(`[${this.tag}] -> tools/call #${JSON.stringify(id)} process_large_file (${callChunks} chunks)`);
    return { id, settled };
  }

  /** Sends notifications/cancelled by hand and shows what HTTP said: a notification gets 202 and no body. */
  async cancel(requestId: RequestId, reason: string) {
    const before = this.posts.length;
    await this.client.notification({ method: 'notifications/cancelled', params: { requestId, reason } });
    const post = this.posts.slice(before).find((p) => p.body.includes('notifications/cancelled'));
    this.log.highlight(
      `[${this.tag}] -> notifications/cancelled { requestId: ${JSON.stringify(requestId)}, reason: "${reason}" }` +
        `  <- HTTP ${post?.status}${post?.status === 202 ? ' Accepted, no JSON-RPC reply' : ''}`,
    );
    return post?.status;
  }

  async jobStatus(id: RequestId): Promise<JobReport> {
    const status = await this.client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
    return status.structuredContent as unknown as JobReport;
  }

  /** The server's account of one call, as the client prints it. */
  async report(id: RequestId): Promise<JobReport> {
    const job = await this.jobStatus(id);
    const how =
      job.state === 'completed'
        ? `completed ${job.chunksDone}/${job.chunksTotal} chunks`
        : `${job.state} after chunk ${job.chunksDone}/${job.chunksTotal}`;
    const cancel = job.cancelReason === undefined ? 'no cancel recorded' : `cancel reason "${job.cancelReason}"`;
    this.log.event(
      `[${this.tag}] server reports #${JSON.stringify(id)}: ${how}; ${cancel}; file handle ${job.fileHandle}; replied ${job.reply}`,
    );
    return job;
  }

  /** The session still answers: a ping round trip. */
  async stillServing() {
    await this.client.ping();
    this.log.detail(`[${this.tag}] ping answered: the session keeps serving`);
    return true;
  }

  async close() {
    await this.transport.terminateSession().catch(() => {});
    await this.client.close();
  }
}

/** What get_job_status says of one call (lessons/shared/jobs.ts), the fields the scenarios read. */
export interface JobReport {
  requestId: RequestId;
  state: string;
  chunksDone: number;
  chunksTotal: number;
  cancelReason?: string;
  fileHandle: string;
  reply?: string;
}
