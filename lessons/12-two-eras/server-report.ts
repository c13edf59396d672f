// What the lesson 12 client reads of the server's own record of the call (get_job_status), and how
// it prints it: the proof of a cancel is on the server's side, in either era.
import type { Client, RequestId } from '@modelcontextprotocol/client';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

interface JobReport {
  state: string;
  chunksDone: number;
  chunksTotal: number;
  chunksDoneWhenCancelArrived?: number;
  cancelReason?: string;
  cancelToStopMs?: number;
  fileHandle: string;
  responseStream: string;
  reply?: string;
}

/** The record once the server has finished with the call: not running, and its reply decided. */
export function settledJob(client: Client, id: RequestId): Promise<JobReport> {
  return waitFor('the server to finish with the call', async () => {
    const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
    const report = status.structuredContent as JobReport | undefined;
    return report && report.state !== 'running' && report.reply !== undefined && report;
  });
}

export function printJobReport(job: JobReport, id: RequestId, log: Timeline) {
  prove({ type: 'server-report', requestId: id, job });
  const stopped =
    job.state === 'cancelled'
      ? `stopped after chunk ${job.chunksDone}/${job.chunksTotal} (the cancel arrived after chunk ` +
        `${job.chunksDoneWhenCancelArrived}; stopped ${job.cancelToStopMs} ms later)`
      : `${job.state}, ${job.chunksDone}/${job.chunksTotal} chunks`;
  log.event(`server reports #${id}: ${stopped}`);
  if (job.cancelReason !== undefined)
    log.event(`server reports #${id}: the handler's signal said "${job.cancelReason}"`);
  log.event(
    `server reports #${id}: file handle ${job.fileHandle}, response stream ${job.responseStream}, replied ${job.reply}`,
  );
}

/** The replies the SDK dropped because it had given up on the call; `expected` is the server's (`nothing`: none). */
export async function printLateReplies(
  lateReplies: string[],
  expected: string | undefined,
  id: RequestId,
  log: Timeline,
) {
  if (expected !== 'nothing') {
    const arrived = () => lateReplies.length > 0;
    await waitFor(`the server's reply (${expected}) to reach this client`, arrived, { timeoutMs: 5000 }).catch(
      () => {},
    );
  }
  prove({ type: 'late-replies', requestId: id, replies: lateReplies });
  for (const reply of lateReplies) {
    log.event(`<- a late reply to #${id}: ${reply}. The SDK drops it (it had given up) and reports it to onerror`);
  }
}
