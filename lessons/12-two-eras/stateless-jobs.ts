// The job records of lesson 12's server, which has no sessions: one record for the whole server,
// its `get_job_status` tool, and how a job notes its cancel (the client closing the response stream).
import type { McpServer, RequestId } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { jobReport, jobReportSchema, type Job } from '../shared/jobs.ts';
import { prove, watched } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { currentExchange, replyWritten, type Exchange } from './exchanges.ts';

/** A job as lesson 01 records it, plus the HTTP exchange that carries its reply. */
export interface StatelessJob extends Job {
  era: string;
  exchange?: Exchange;
  /** True once the handler has finished, its clean-up included. */
  finished: boolean;
  /** Called at the end of the handler's `finally`. */
  finish(): void;
}

// No sessions: one record for the whole server. Request ids are the client's own, and two
// clients may both use id 0, so a lookup by id finds the most recent job with it.
const jobs: StatelessJob[] = [];
const latestJob = (id: RequestId) => jobs.findLast((job) => job.requestId === id);

function report(job: StatelessJob) {
  const stream = !job.exchange ? 'unknown' : job.exchange.ended ? 'closed' : 'open';
  return {
    ...jobReport(job, stream),
    era: job.era,
    responseStreamEnded: job.exchange?.ended,
    // Known once the handler has finished and its response has ended, one way or the other.
    reply: job.finished && job.exchange?.ended ? replyWritten(job.exchange, job.requestId) : undefined,
  };
}

/** The jobs whose handler has not finished yet: a shutdown waits for them. */
export const unfinishedJobs = () => jobs.filter((job) => !job.finished).length;

/** Starts the record of call `id`, in `era`, on the exchange serving it, and says so. */
export function startJob(
  id: RequestId,
  fields: Pick<Job, 'tool' | 'file' | 'chunksTotal'>,
  era: string,
  summary: string,
  log: Timeline,
): StatelessJob {
  // Under a test, every change of the job reaches it as a record (proof.ts), with a number: two
  // clients' calls may share an id.
  const jobNumber = jobs.length + 1;
  const proveJob = () => prove({ type: 'job', jobNumber, ...report(job) });
  const job: StatelessJob = watched<StatelessJob>(
    {
      requestId: id,
      ...fields,
      state: 'running',
      chunksDone: 0,
      startedAt: performance.now(),
      fileHandle: 'not opened',
      resources: {},
      era,
      exchange: currentExchange(),
      finished: false,
      finish: () => void (job.finished = true),
    },
    proveJob,
  );
  jobs.push(job);
  proveJob();
  log.event(`tools/call #${id} (${era}): ${fields.tool} ${summary}`);
  // In this era the cancel is the client closing this request's response stream. The SDK aborts
  // ctx.mcpReq.signal when that happens; this only notes when, for the report.
  job.exchange?.onEnd.add((exchange) => {
    if (exchange.ended !== 'closed by the client' || job.state !== 'running') return;
    job.cancel = { receivedAt: performance.now(), chunksDoneThen: job.chunksDone };
    log.highlight(`#${id} the client closed the response stream: that is the cancel`);
  });
  job.exchange?.onEnd.add(proveJob); // the proof: its response ended, and so its reply is known
  return job;
}

/** `get_job_status`: the latest job with a request id (there are no sessions to scope ids by). */
export function registerStatelessJobStatus(server: McpServer) {
  server.registerTool(
    'get_job_status',
    {
      title: 'Job status',
      description:
        'Reports the latest process_large_file call with this JSON-RPC request id: running, completed or ' +
        'cancelled; chunks done; whether its file handle and response stream were released; what was replied. ' +
        'There are no sessions in this era, so ids are not scoped to one client: use a fresh server per run.',
      inputSchema: z.object({
        requestId: z.union([z.number().int(), z.string()]).describe('the id of the tools/call request'),
      }),
      outputSchema: z.object({
        ...jobReportSchema,
        era: z.string().describe('the protocol era the call was served in'),
        responseStreamEnded: z.enum(['finished by the server', 'closed by the client']).optional(),
      }),
    },
    async ({ requestId }) => {
      const job = latestJob(requestId);
      if (!job) {
        const ids = JSON.stringify(jobs.map((j) => j.requestId));
        throw new Error(`No job with request id ${JSON.stringify(requestId)}. Jobs so far: ${ids}.`);
      }
      const status = report(job);
      return { content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status };
    },
  );
}
