// Lesson 07 client: what came back after the call settled, said on the client's timeline: the
// server's final message the SDK no longer waits for, where late progress went, and the server's
// own account of how the job ended and what it sent.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';
import { flood } from './client-flags.ts';
import type { Wire } from './wire.ts';

/** What reached onerror and onprogress for the call after the SDK stopped tracking it. */
export type LateCounts = {
  progressForInactiveToken: number;
  responsesForUnknownId: number;
  progressAfterAbort: number;
};

type JobReport = {
  state: string;
  cancelReason?: string;
  chunksDone: number;
  chunksTotal: number;
  cancelToStopMs?: number;
  fileHandle: string;
  reply?: string;
  resources?: Record<string, string>;
};

/** For a test (proof.ts): how the call settled, and after how many progress notifications. */
export function proveSettled(outcome: unknown, progressCount: number) {
  const error = outcome instanceof McpError ? { code: outcome.code, message: outcome.message } : String(outcome);
  prove({ type: 'came-back', ...(outcome === 'result' ? { result: true } : { error }), progressCount });
}

export function whatCameBack(client: Client, wire: Wire, signal: AbortSignal, log: Timeline) {
  /** get_job_status until the job has stopped, its reply has gone out, and any cancel has been read. */
  async function finishedJob(requestId: RequestId): Promise<JobReport> {
    return waitFor(
      `the server to finish #${requestId}`,
      async () => {
        const status = await client.callTool({ name: 'get_job_status', arguments: { requestId } });
        const report = status.structuredContent as JobReport | undefined;
        if (!report || report.state === 'running' || report.reply === undefined) return undefined;
        // After an abort, also wait until the server has read the cancel (late, when its loop was starved).
        const cancelRead = report.cancelReason !== undefined || report.resources?.cancel !== undefined;
        return !signal.aborted || cancelRead ? report : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
  }

  return {
    /**
     * The server's final message for the call comes after the SDK gave up on it; wait for it, so the
     * job's record is complete.
     */
    async finalMessage(id: RequestId, late: LateCounts) {
      const final = await waitFor(`the server's final message for #${id}`, () => wire.finalMessage(id), {
        timeoutMs: 30_000,
      });
      prove({ type: 'final-message', requestId: id, message: final, toOnerror: late.responsesForUnknownId > 0, late });
      log.detail(
        `<- #${id} the server's final message, which the SDK no longer waits for: ` +
          ('error' in final ? `error ${final.error.code} "${final.error.message}"` : 'a result') +
          (late.responsesForUnknownId > 0 ? '; the SDK passed it to onerror' : ''),
      );
      log.detail(
        `progress notifications after the abort: ${late.progressForInactiveToken} passed to onerror (a token no longer ` +
          `active), ${late.progressAfterAbort} to onprogress`,
      );
    },

    /** The proof is on the server: ask it how the job ended and what it sent. */
    async serverReport(id: RequestId): Promise<JobReport> {
      const job = await finishedJob(id);
      prove({ type: 'server-report', requestId: id, job });
      const progressSent = job.resources?.progress;
      if (job.state === 'cancelled') {
        log.event(
          `server reports #${id}: cancelled after ${job.chunksDone}/${job.chunksTotal}, ${job.cancelToStopMs} ms after the cancel arrived; ` +
            (flood === undefined ? `file handle ${job.fileHandle}; ` : '') +
            `replied ${job.reply}`,
        );
      } else {
        log.event(`server reports #${id}: ${job.state}, ${job.chunksDone}/${job.chunksTotal}; replied ${job.reply}`);
      }
      log.event(`server reports #${id} progress: ${progressSent}`);
      if (job.resources?.cancel) log.warn(`server reports #${id}: the cancel was ${job.resources.cancel}`);
      return job;
    },
  };
}
