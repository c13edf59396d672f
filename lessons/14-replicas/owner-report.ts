// The lesson 14 clients' proof: the job record of their call, read from the replica that ran it.
//
// With sticky sessions the balancer sends `get_job_status` to that replica. Stateless replicas are
// reached in turn: round robin sends consecutive requests to the replicas one after the other, and
// only the one that ran the call (for this caller) has its record. It is asked until the record
// says the call is over: running no more, and its reply known.
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

export interface JobReport {
  state: string;
  chunksDone: number;
  chunksTotal: number;
  chunksDoneWhenCancelArrived?: number;
  cancelToStopMs?: number;
  fileHandle: string;
  responseStream: string;
  reply?: string;
}

/**
 * `askStatus` calls get_job_status once and returns its record, or undefined when the replica that
 * answered has none; `servedBy` names the replica that answered the last request.
 */
export async function askTheReplicaThatRanIt(
  id: unknown,
  askStatus: () => Promise<JobReport | undefined>,
  servedBy: () => string,
  log: Timeline,
  timeoutMs = 5000,
): Promise<JobReport | undefined> {
  const asked = new Set<string>();
  const found = await waitFor(
    `a replica's record of #${id}, once the call is over`,
    async () => {
      const job = await askStatus();
      asked.add(servedBy());
      return job && job.state !== 'running' && job.reply !== undefined && { job, replica: servedBy() };
    },
    { timeoutMs, intervalMs: 50 },
  ).catch(() => undefined);
  log.detail(`-> tools/call get_job_status #${id}, asked of ${[...asked].join(', ')}`);
  if (!found) {
    log.fail(`no replica has a finished record of #${id}`);
    return undefined;
  }
  const { job, replica } = found;
  const cancel =
    job.chunksDoneWhenCancelArrived === undefined
      ? 'no cancel reached it'
      : `the cancel reached it after chunk ${job.chunksDoneWhenCancelArrived}; it stopped ${job.cancelToStopMs} ms later`;
  const how =
    job.state === 'cancelled'
      ? `stopped after chunk ${job.chunksDone}/${job.chunksTotal}`
      : `${job.state}, ${job.chunksDone}/${job.chunksTotal} chunks`;
  log.event(`${replica} reports #${id}: ${how} (${cancel})`);
  log.event(
    `${replica} reports #${id}: file handle ${job.fileHandle}, response stream ${job.responseStream}, replied ${job.reply}`,
  );
  return job;
}
