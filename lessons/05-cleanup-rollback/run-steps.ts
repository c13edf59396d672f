// The steps of a lesson 05 run: what each one tells the log, the job's record and the caller, the
// pause after it that a cancel cuts short, and the log line that says where a stop landed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { RequestId, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { stopReason } from '../01-cancel-by-id/cancellation.ts';
import type { Job } from '../shared/jobs.ts';
import type { Timeline } from '../shared/timeline.ts';
import { readBatches } from './input-records.ts';
import { paths } from './server-flags.ts';
import { tempReport, type TempReport } from './temp-report.ts';

/** process_large_file's arguments. */
export interface Args {
  path: string;
  idempotencyKey: string;
  batchSize: number;
  stepDelayMs: number;
}

/** One call of process_large_file, as its work sees it. */
export interface Run extends Args {
  id: RequestId;
  job: Job;
  lines: string[];
  batches: string[][];
  signal: AbortSignal;
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>;
  /** Rows this run has inserted in its transaction so far: what a ROLLBACK takes back. */
  rowsInserted: number;
  steps: Steps;
  report: TempReport;
}

/** Reads the call's file and cuts it into batches: the run its work sees, with its steps and its report. */
export async function readRun(file: string, args: Args, extra: Run['extra'], job: Job, log: Timeline): Promise<Run> {
  const { lines, batches } = await readBatches(file, args.batchSize);
  job.chunksTotal = batches.length;
  const { path, idempotencyKey: key, batchSize } = args;
  log.event(
    `tools/call #${job.requestId}: process_large_file ${path}, key ${key}, ${batches.length} batches of ${batchSize}`,
  );
  const run = { ...args, id: extra.requestId, job, lines, batches, signal: extra.signal, extra, rowsInserted: 0 };
  return Object.assign(run, { steps: stepper(run, log), report: tempReport(job, log, paths.output) });
}

/**
 * Marks the steps of a run: the server log, the job record, a progress notification when the caller
 * asked for progress, and a pause (`stepDelayMs`) that a cancel cuts short by throwing, up to COMMIT.
 */
export function stepper(
  { id, job, extra, signal, stepDelayMs, batches }: Omit<Run, 'steps' | 'report'>,
  log: Timeline,
) {
  const total = 3 + 2 * batches.length + 4;
  let progress = 0;
  return {
    async done(step: string, detail = '', { cancellable = true, pause = true } = {}) {
      job.resources.step = step;
      log.detail(`#${id} ${step}${detail && ` (${detail})`}`);
      const token = extra._meta?.progressToken;
      if (token !== undefined) {
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: ++progress, total, message: step },
        });
      }
      if (!pause) return;
      if (cancellable)
        await sleep(stepDelayMs, undefined, { signal }); // rejects at once on a cancel
      else await sleep(stepDelayMs); // past the commit, a cancel changes nothing
    },
  };
}

export type Steps = ReturnType<typeof stepper>;

/** Says, when a signal stopped the run, after which step it stopped and how soon after the cancel. */
export function noteStop({ id, job, signal }: Run, log: Timeline) {
  if (!signal.aborted) return;
  job.stoppedAt = performance.now();
  const why = job.cancel
    ? `${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after the cancel`
    : typeof signal.reason === 'string'
      ? signal.reason
      : stopReason(signal);
  log.highlight(`#${id} stopped after "${job.resources.step ?? 'nothing'}" (${why})`);
}
