// Lesson 06's deadline: which signal stopped a job, the deadline's or the client's, and what the
// job's record says of it.
import type { Job } from '../shared/jobs.ts';
import type { Timeline } from '../shared/timeline.ts';

/** Why a job stopped before its last chunk. */
export type StopCause = 'deadline' | 'client cancel' | 'session end';

/**
 * `AbortSignal.any` takes the reason of the signal that fired first. The deadline aborts with a
 * DOMException named TimeoutError, as `AbortSignal.timeout` does; the SDK aborts `extra.signal` with the cancel's `reason`
 * string (a DOMException named AbortError when the cancel has none, or when the session ends), so a
 * TimeoutError can only be the deadline. A cancel and a session end differ in whether a
 * `notifications/cancelled` for this job arrived (`noteCancel` records it).
 */
export const TIMEOUT_MESSAGE = 'The operation was aborted due to timeout'; // AbortSignal.timeout's own words

export function stopCause(reason: unknown, job: Job): StopCause {
  if (reason instanceof DOMException && reason.name === 'TimeoutError') return 'deadline';
  return job.cancel ? 'client cancel' : 'session end';
}

export const describeReason = (reason: unknown) =>
  reason instanceof DOMException ? `DOMException ${reason.name}: "${reason.message}"` : JSON.stringify(reason);

/** Records on the job what stopped it, and says so; returns the cause. */
export function recordStop(job: Job, reason: unknown, deadlineMs: number, log: Timeline): StopCause {
  const cause = stopCause(reason, job);
  job.state = cause === 'deadline' ? 'failed' : 'cancelled';
  job.stoppedAt = performance.now();
  job.resources['stopped by'] = cause === 'deadline' ? `deadline (${deadlineMs} ms)` : cause;
  job.resources['signal.reason'] = describeReason(reason);
  log.highlight(
    `#${job.requestId} stopped after chunk ${job.chunksDone}/${job.chunksTotal} by the ${cause} ` +
      `(signal.reason: ${describeReason(reason)})`,
  );
  return cause;
}
