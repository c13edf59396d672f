// The job records of lesson 09's SDK 2.x server (server-v2.ts): one list for the whole server (the
// 2026-07-28 era has no sessions), each job with the HTTP exchange that carries its reply, the
// server's own stopper for a shutdown, and the `get_job_status` tool that reads them.
import type { McpServer, RequestId } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { jobReport, jobReportSchema, type Job } from '../shared/jobs.ts';
import { prove, watched } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { currentExchange, replyWritten, type Exchange } from '../12-two-eras/exchanges.ts';

export interface JobV2 extends Job {
  era: string;
  session?: string;
  exchange?: Exchange;
  /** The server's own reason to stop the handler (a shutdown); the SDK's is ctx.mcpReq.signal. */
  stopper: AbortController;
  finished: boolean;
  /** Called at the end of the handler's `finally`. */
  finish(): void;
}

const jobs: JobV2[] = [];
// Request ids are the client's own, and two clients may share one: the latest job with it wins.
const latestJob = (id: RequestId, session?: string) =>
  jobs.findLast((job) => job.requestId === id && (session === undefined || job.session === session));

function report(job: JobV2) {
  const stream = !job.exchange ? 'unknown' : job.exchange.ended ? 'closed' : 'open';
  return {
    ...jobReport(job, stream),
    era: job.era,
    reply: job.finished && job.exchange?.ended ? replyWritten(job.exchange, job.requestId) : undefined,
  };
}

/** Starts the record of call `id`; under a test every change of it is a proof record. */
export function startJobV2(
  id: RequestId,
  era: string,
  session: string | undefined,
  fields: Pick<Job, 'tool' | 'file' | 'chunksTotal'>,
  summary: string,
  log: Timeline,
): JobV2 {
  const jobNumber = jobs.length + 1;
  const proveJob = () => prove({ type: 'job', jobNumber, session, ...report(job) });
  const job: JobV2 = watched<JobV2>(
    {
      requestId: id,
      ...fields,
      state: 'running',
      chunksDone: 0,
      startedAt: performance.now(),
      fileHandle: 'not opened',
      resources: {},
      era,
      session,
      exchange: currentExchange(),
      stopper: new AbortController(),
      finished: false,
      finish: () => void (job.finished = true),
    },
    proveJob,
  );
  jobs.push(job);
  proveJob();
  log.event(`tools/call #${id} (${era}): ${fields.tool} ${fields.file}, ${fields.chunksTotal} chunks, ${summary}`);
  // The call's HTTP response closed under a running handler: its client went away. Noted, in both
  // eras; only in 2026-07-28 does the SDK read it as the cancel.
  job.exchange?.onEnd.add((exchange) => {
    if (exchange.ended === 'closed by the client' && job.state === 'running') {
      job.resources['response stream'] = 'closed before the reply';
      const meaning = era === '2026-07-28' ? 'that is the cancel' : 'the handler runs on';
      log.warn(`#${JSON.stringify(id)} response stream closed before the reply: ${meaning}`);
    }
    proveJob();
  });
  return job;
}

/** For the shutdown: stops every running job with the server's own signal; returns how many. */
export function stopAllJobs(reason: string): number {
  const running = jobs.filter((job) => job.state === 'running');
  for (const job of running) job.stopper.abort(reason);
  return running.length;
}

/** Handlers not finished, or whose answer has not gone out yet (their response still open). */
export const unfinishedJobs = () =>
  jobs.filter((job) => !job.finished || (job.stopper.signal.aborted && job.exchange && !job.exchange.ended)).length;

/** `get_job_status`: the latest job with this request id (in this session, in the 2025 era). */
export function registerJobStatusV2(server: McpServer) {
  server.registerTool(
    'get_job_status',
    {
      title: 'Job status',
      description:
        'Reports the latest process_large_file call with this JSON-RPC request id (of this session, when there ' +
        'is one): running, completed or cancelled; chunks done; whether its file handle and scratch file were released.',
      inputSchema: z.object({ requestId: z.union([z.number().int(), z.string()]) }),
      outputSchema: z.object({ ...jobReportSchema, era: z.string() }),
    },
    async ({ requestId }, ctx) => {
      const job = latestJob(requestId, ctx.sessionId);
      if (!job) throw new Error(`No job with request id ${JSON.stringify(requestId)}.`);
      const status = report(job);
      return { content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status };
    },
  );
}

/** What ctx.mcpReq.signal says about why it fired: the SDK's own reason, shown as it is. */
export function reasonOf(signal: AbortSignal): string {
  const reason = signal.reason as unknown;
  return `ctx.mcpReq.signal: ${reason instanceof Error ? `${reason.name} "${reason.message}"` : String(reason)}`;
}
