// What lesson 08's server records and says of a job as it ends: on the timeline, and in the job's
// record that get_job_status reports (how the slow reader sees a cancel land mid-wait).
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { stopReason } from '../01-cancel-by-id/cancellation.ts';
import type { Job } from '../shared/jobs.ts';
import type { McpSession } from '../shared/mcp-http.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import type { ExportDone } from './capped-result.ts';
import { megabytes } from './export-outputs.ts';
import type { LiveView } from './live-view.ts';

/** The job stopped early (its file already closed and deleted): why, and what its live view was doing. */
export function recordStop(job: Job, view: Pick<LiveView, 'linesSent'>, signal: AbortSignal, log: Timeline) {
  job.state = 'cancelled';
  job.stoppedAt = performance.now();
  const abandoned = job.resources['live view']?.startsWith('waiting for room');
  if (abandoned) job.resources['live view'] = 'abandoned a write waiting for room';
  const why = job.cancel
    ? `${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after the cancel`
    : stopReason(signal);
  log.highlight(
    `#${job.requestId} handler stopped after batch ${job.chunksDone}/${job.chunksTotal} (${why})` +
      (abandoned ? ', abandoning a write that was waiting for room' : ''),
  );
  log.highlight(`#${job.requestId} file handle closed, partial output deleted; live view sent ${view.linesSent} lines`);
}

/** The job completed: how much it wrote to its file (`job.file`), and how its live view kept up. */
export function reportCompleted(job: Job, done: ExportDone, log: Timeline) {
  prove({ type: 'export-done', requestId: job.requestId, file: job.file, ...done });
  log.ok(
    `#${job.requestId} completed: ${done.lines} lines, ${megabytes(done.bytes)} in ${job.file}; ` +
      `live view sent ${done.liveLinesSent}, left out ${done.liveLinesSkipped}, waited for room ${done.waitsForRoom} times`,
  );
}

/** For the shared wiring's onResponseStreamClosed: a cancelled call's stream closing, once -32800 went out. */
export const noteStreamClosed = (log: Timeline) => (session: McpSession, requestId: RequestId) => {
  const job = session.jobs.get(requestId);
  if (job?.state === 'cancelled') log.highlight(`#${JSON.stringify(requestId)} response stream closed`);
};
