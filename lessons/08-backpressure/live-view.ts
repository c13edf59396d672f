// The live view of a long tool's output: log lines sent to the client as `notifications/message`
// while the job runs, in bounded memory however slowly the client reads.
//
// Why it is needed: SDK 1.x's `transport.send` (and so `extra.sendNotification`) never waits for the
// reader. It enqueues the SSE event on a web ReadableStream without looking at its size; @hono/node-server
// moves that stream into the Node response only when the response has room ('drain'). Against a slow
// reader, everything a handler sends piles up in that queue, in the server's memory.
//
// So this view sends only when the Node response has room (`writableNeedDrain` is false), keeps at most
// `maxQueuedBytes` of lines waiting, and when that is full either waits for room (`wait`: lossless, the
// job runs at the reader's pace) or counts the lines it leaves out (`skip`: the job runs at full speed;
// the full output is in the file either way). Every wait races the request's abort signal.
import type { ServerResponse } from 'node:http';
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';

export const WHEN_FULL = ['wait', 'skip'] as const;
export type WhenFull = (typeof WHEN_FULL)[number];

export interface LiveViewOptions {
  /** The Node response carrying this request's SSE stream (undefined: already closed). */
  response: ServerResponse | undefined;
  signal: AbortSignal;
  send: (notification: ServerNotification) => Promise<void>;
  maxQueuedBytes: number;
  whenFull: WhenFull;
  /** When the client asked for progress: `notifications/progress` carries the latest count only. */
  progress?: { token: string | number; total: number };
  /** Told whenever the view's state changes, for the job's record. */
  onState: (state: string) => void;
}

export class LiveView {
  linesSent = 0;
  linesSkipped = 0;
  waitsForRoom = 0;
  #queue: string[] = [];
  #queuedBytes = 0;
  #skippedSinceLastSend = 0;
  #linesDone = 0;

  constructor(private readonly options: LiveViewOptions) {}

  /** True while the response's own buffer is below its high-water mark, so a write now goes straight out. */
  get hasRoom(): boolean {
    const response = this.options.response;
    return response !== undefined && !response.writableNeedDrain && !response.destroyed;
  }

  /** Offers a batch of lines to the view; resolves when the view can take more. */
  async offer(lines: string[], linesDone: number): Promise<void> {
    this.#linesDone = linesDone;
    const bytes = lines.reduce((sum, line) => sum + line.length, 0);
    const overCap = this.#queuedBytes + bytes > this.options.maxQueuedBytes;
    if (overCap && this.options.whenFull === 'skip' && !this.hasRoom) {
      // Coalesced: the lines the reader had no room for become one count in the next message.
      this.linesSkipped += lines.length;
      this.#skippedSinceLastSend += lines.length;
    } else {
      this.#queue.push(...lines);
      this.#queuedBytes += bytes;
    }
    while (this.#queuedBytes > this.options.maxQueuedBytes) {
      // `wait` mode waits here; `skip` only gets here when the response has room, so it goes straight on.
      await this.waitForRoom();
      await this.flush();
    }
    if (this.hasRoom) await this.flush();
  }

  /** At the end of the job: `wait` sends what is queued (waiting for room); `skip` counts it as left out. */
  async finish(): Promise<void> {
    if (this.options.whenFull === 'wait' || this.hasRoom) {
      await this.waitForRoom();
      await this.flush();
    } else {
      this.linesSkipped += this.#queue.length;
      this.#queue = [];
      this.#queuedBytes = 0;
    }
    this.options.onState('done');
  }

  /** Waits for 'drain' on the response; rejects at once with the abort reason when the request is cancelled. */
  async waitForRoom(): Promise<void> {
    const { response, signal } = this.options;
    if (this.hasRoom) return;
    if (response === undefined || response.destroyed) throw new Error('the client closed the response stream');
    this.waitsForRoom++;
    this.options.onState('waiting for room (the client reads slowly)');
    await drainOrAbort(response, signal);
    this.options.onState('sending');
  }

  /** One notification for everything queued: a note of what was left out, then the lines; then the latest progress. */
  private async flush(): Promise<void> {
    if (this.#queue.length === 0 && this.#skippedSinceLastSend === 0) return;
    const lines = this.#queue;
    const skipped = this.#skippedSinceLastSend;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#skippedSinceLastSend = 0;
    await this.options.send(logMessage(lines, skipped));
    this.linesSent += lines.length;
    const progress = this.options.progress;
    if (progress) {
      await this.options.send({
        method: 'notifications/progress',
        params: { progressToken: progress.token, progress: this.#linesDone, total: progress.total },
      });
    }
  }
}

/**
 * Resolves on the response's next 'drain'; rejects on 'close' or when `signal` aborts (with its reason),
 * so a cancel ends the wait at once. Every listener is removed whichever comes first.
 */
export function drainOrAbort(response: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: unknown) => {
      response.off('drain', onDrain);
      response.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = () => settle();
    const onClose = () => settle(new Error('the client closed the response stream'));
    const onAbort = () => settle(signal.reason);
    if (signal.aborted) return onAbort();
    response.on('drain', onDrain);
    response.on('close', onClose);
    signal.addEventListener('abort', onAbort);
  });
}

/** The live view's message: MCP's log notification, sent on the request's own stream. */
export function logMessage(lines: string[], skippedBefore = 0): ServerNotification {
  return {
    method: 'notifications/message',
    params: { level: 'info', logger: 'export_log', data: { skippedBefore, lines } },
  };
}
