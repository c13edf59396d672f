// Lesson 07's progress reporter: notifications/progress for one request, as the spec asks, and what
// the job's record says about it.
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ProgressToken, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Job } from '../shared/jobs.ts';
import { prove } from '../shared/proof.ts';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * Progress for one request. It sends only when the request carried `_meta.progressToken` (and
 * echoes that token exactly), keeps `progress` strictly increasing, sends at most one per
 * `everyMs` (the spec: both parties SHOULD rate-limit) except the final one, and never after `stop()`:
 * the spec says progress MUST only reference tokens associated with an in-progress operation.
 */
export function progressReporter(extra: Extra, total: number, everyMs: number) {
  const token: ProgressToken | undefined = extra._meta?.progressToken;
  let lastProgress = 0;
  let lastSentAt = -Infinity;
  let stopped = false;
  const counts = { sent: 0, skippedByRateLimit: 0, refusedAfterStop: 0 };
  return {
    token,
    counts,
    get lastProgress() {
      return lastProgress;
    },
    async report(progress: number, message: string) {
      if (token === undefined) return;
      if (stopped || extra.signal.aborted) {
        counts.refusedAfterStop++;
        return;
      }
      if (progress <= lastProgress) return; // MUST increase
      if (progress < total && performance.now() - lastSentAt < everyMs) {
        counts.skippedByRateLimit++;
        return;
      }
      lastProgress = progress;
      lastSentAt = performance.now();
      counts.sent++;
      prove({ type: 'progress-sent', requestId: extra.requestId, progress, total });
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress, total, message },
      });
    },
    /** Call once the job has stopped or finished: no progress after this. */
    stop() {
      stopped = true;
    },
  };
}

/** What the job's record says about its progress, for `get_job_status`. */
export function recordProgress(job: Job, progress: ReturnType<typeof progressReporter>) {
  if (progress.token === undefined) {
    job.resources['progress'] = 'not requested (no progressToken)';
    return;
  }
  const { sent, skippedByRateLimit, refusedAfterStop } = progress.counts;
  prove({ type: 'progress-counts', requestId: job.requestId, ...progress.counts, last: progress.lastProgress });
  job.resources['progress token'] = JSON.stringify(progress.token);
  job.resources['progress'] =
    `${sent} sent, last ${progress.lastProgress}/${job.chunksTotal}; ${skippedByRateLimit} skipped by the rate limit; ` +
    `${refusedAfterStop} refused after the stop`;
}
