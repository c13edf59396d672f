// A record of every tool call a session has run, and the `get_job_status` tool that reads it.
//
// This is how a lesson proves a cancel on the server's side, over MCP itself: not "the client's
// promise rejected" but "the handler stopped after chunk 4, the file handle is closed, the
// response stream is closed, and this is what the server replied".
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ResponseStreamRecord } from './mcp-http.ts';
import { prove, watched } from './proof.ts';
import type { Timeline } from './timeline.ts';

export type JobState = 'running' | 'completed' | 'cancelled' | 'failed';

export interface Job {
  requestId: RequestId;
  tool: string;
  file: string;
  state: JobState;
  chunksTotal: number;
  chunksDone: number;
  startedAt: number;
  /** When `notifications/cancelled` for this request reached the server, and how far the job was then. */
  cancel?: { receivedAt: number; reason?: string; chunksDoneThen: number };
  stoppedAt?: number;
  fileHandle: 'not opened' | 'open' | 'closed';
  /**
   * Anything else the job holds, by name, and its state now: e.g. `{ 'child process 4711': 'killed' }`,
   * `{ lock: 'released' }`. Lessons write here what they must prove was released.
   */
  resources: Record<string, string>;
  /** What the server sent back for this request, once it has. */
  reply?: string;
}

/** Jobs are looked up by request id within one session, with the id's JSON type: 1 and "1" are different ids. */
const keyOf = (id: RequestId) => `${typeof id}:${String(id)}`;

export class JobBook {
  readonly #jobs = new Map<string, Job>();

  constructor(
    private readonly responseStreams: () => Map<RequestId, ResponseStreamRecord>,
    /** The session's id, for the proof records (proof.ts) a test reads. */
    private readonly sessionId: () => string | undefined = () => undefined,
  ) {}

  start(requestId: RequestId, fields: Pick<Job, 'tool' | 'file' | 'chunksTotal'>): Job {
    const record: Job = {
      requestId,
      ...fields,
      state: 'running',
      chunksDone: 0,
      startedAt: performance.now(),
      fileHandle: 'not opened',
      resources: {},
    };
    const job = watched(record, () => this.prove(job));
    this.prove(job);
    this.#jobs.set(keyOf(requestId), job);
    return job;
  }

  get(requestId: RequestId): Job | undefined {
    return this.#jobs.get(keyOf(requestId));
  }

  /** A job whose id has the same value as `requestId` but another JSON type (1 vs "1"). */
  getWithOtherType(requestId: RequestId): Job | undefined {
    const other = typeof requestId === 'number' ? String(requestId) : Number(requestId);
    return typeof other === 'number' && Number.isNaN(other) ? undefined : this.#jobs.get(keyOf(other));
  }

  ids(): RequestId[] {
    return [...this.#jobs.values()].map((job) => job.requestId);
  }

  responseStream(requestId: RequestId): 'open' | 'closed' | 'unknown' {
    const record = this.responseStreams().get(requestId);
    if (!record) return 'unknown';
    return record.closedAt === undefined ? 'open' : 'closed';
  }

  /** The id of the session these jobs belong to, once it has one. */
  session(): string | undefined {
    return this.sessionId();
  }

  /** Hands a test the job as it is now (proof.ts); does nothing unless a test reads the proof. */
  prove(job: Job): void {
    prove({ type: 'job', session: this.sessionId(), ...this.report(job) });
  }

  /** What `get_job_status` returns: the job, with durations instead of raw clock readings. */
  report(job: Job) {
    return jobReport(job, this.responseStream(job.requestId));
  }
}

/** A job as `get_job_status` reports it, with durations instead of raw clock readings. */
export function jobReport(job: Job, responseStream: 'open' | 'closed' | 'unknown') {
  const ms = (t: number | undefined) => (t === undefined ? undefined : Math.round((t - job.startedAt) * 10) / 10);
  const cancelToStop =
    job.cancel && job.stoppedAt !== undefined
      ? Math.round((job.stoppedAt - job.cancel.receivedAt) * 10) / 10
      : undefined;
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
    cancelToStopMs: cancelToStop,
    fileHandle: job.fileHandle,
    responseStream,
    ...(Object.keys(job.resources).length > 0 && { resources: { ...job.resources } }),
    reply: job.reply,
  };
}

/** A job that records each step a chunked file handler takes, and says it on the timeline. */
export interface TrackedJob extends Job {
  fileOpened(): void;
  chunkDone(): void;
  completed(): void;
  /** Marks the job failed and returns `error`, for `throw job.failed(error)`. */
  failed(error: unknown): unknown;
  /** The handler stopped early: `why` is what stopped it when no cancel did (a shutdown, the session ending). */
  stopped(why: string): void;
  fileClosed(): void;
}

/**
 * Starts the job record for `requestId` and says so ("tools/call #7: process_large_file
 * `summary`"), so the handler records each step in one call and writes none of the record's fields.
 */
export function trackJob(
  jobs: JobBook,
  requestId: RequestId,
  fields: Pick<Job, 'tool' | 'file' | 'chunksTotal'>,
  summary: string,
  log: Timeline,
): TrackedJob {
  const job = jobs.start(requestId, fields);
  const id = JSON.stringify(requestId); // 7 or "7": request ids match in JSON type too
  log.event(`tools/call #${id}: ${fields.tool} ${summary}`);
  return Object.assign(job, {
    fileOpened: () => void (job.fileHandle = 'open'),
    chunkDone: () => log.detail(`#${id} chunk ${++job.chunksDone}/${job.chunksTotal}`),
    completed: () => void (job.state = 'completed'),
    failed: (error: unknown) => ((job.state = 'failed'), error),
    stopped: (why: string) => {
      job.stoppedAt = performance.now(); // first, so the record that says cancelled says when, too
      job.state = 'cancelled';
      const when = job.cancel ? `${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after the cancel` : why;
      log.highlight(`#${id} handler stopped after chunk ${job.chunksDone}/${job.chunksTotal} (${when})`);
    },
    fileClosed: () => {
      job.fileHandle = 'closed';
      if (job.state === 'cancelled') log.highlight(`#${id} file handle closed`);
    },
  });
}

export const jobReportSchema = {
  requestId: z.union([z.string(), z.number()]),
  tool: z.string(),
  file: z.string(),
  state: z.enum(['running', 'completed', 'cancelled', 'failed']),
  chunksDone: z.number(),
  chunksTotal: z.number(),
  cancelReason: z.string().optional(),
  chunksDoneWhenCancelArrived: z.number().optional(),
  cancelReceivedAtMs: z.number().optional().describe('ms after the job started'),
  stoppedAtMs: z.number().optional().describe('ms after the job started'),
  cancelToStopMs: z.number().optional(),
  fileHandle: z.enum(['not opened', 'open', 'closed']),
  responseStream: z
    .enum(['open', 'closed', 'unknown'])
    .describe("the HTTP response (SSE stream) that carries this request's reply"),
  resources: z
    .record(z.string(), z.string())
    .optional()
    .describe('other resources the job holds or held, by name, and their state now'),
  reply: z.string().optional().describe('what the server sent back for this request'),
};

/** Registers `get_job_status`: read one job of this session by the request id of its tools/call. */
export function registerJobStatusTool(server: McpServer, jobs: JobBook) {
  server.registerTool(
    'get_job_status',
    {
      title: 'Job status',
      description:
        'Reports a tools/call of this session by its JSON-RPC request id: running, completed or cancelled; ' +
        'chunks done; the cancel reason; whether its file handle and response stream were released; what was replied.',
      inputSchema: {
        requestId: z
          .union([z.number().int(), z.string()])
          .describe('the id of the tools/call request, with its JSON type: 3 and "3" are different ids'),
      },
      outputSchema: jobReportSchema,
    },
    async ({ requestId }) => {
      const job = jobs.get(requestId);
      if (!job) {
        const other = jobs.getWithOtherType(requestId);
        const hint = other
          ? ` A job with id ${JSON.stringify(other.requestId)} exists: request ids must match in JSON type too.`
          : ` Jobs in this session: ${JSON.stringify(jobs.ids())}.`;
        throw new Error(`No job with request id ${JSON.stringify(requestId)} in this session.${hint}`);
      }
      const report = jobs.report(job);
      return { content: [{ type: 'text', text: JSON.stringify(report, null, 2) }], structuredContent: report };
    },
  );
}
