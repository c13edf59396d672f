// Lesson 06 client: each scenario's ending, after its call settled: what came back, said on the
// client's timeline, and the checks, the [what, held] pairs that make the scenario pass.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';
import { deadlineMs, expected, timeoutMs } from './client-flags.ts';
import { CallStoppedError } from './total-cap.ts';
import { describeError, textOf, whatCameBack } from './what-came-back.ts';
import type { Settled, Wire } from './wire.ts';

/** Each scenario returns the checks that make it pass: [what, held]. */
export type Checks = [string, boolean][];

const timedOut = (outcome: Settled) => 'error' in outcome && /-32001: Request timed out/.test(String(outcome.error));

export function scenarioChecks(client: Client, wire: Wire, log: Timeline) {
  const { jobStatus, serverAccount, showLateReply, cancelSent } = whatCameBack(client, wire, log);
  const oneCancel = (id: RequestId) => wire.cancelsSentFor(id).length === 1;

  return {
    cancelSent,

    async deadline(id: RequestId, outcome: Settled): Promise<Checks> {
      if ('result' in outcome && outcome.result.isError)
        log.highlight(`<- tool error (isError: true): "${textOf(outcome.result)}"`);
      else log.fail(`<- ${'result' in outcome ? JSON.stringify(outcome.result) : describeError(outcome.error)}`);
      const job = await serverAccount(id);
      const stoppedAtMs = Number(/^deadline \((\d+) ms\)$/.exec(job.resources?.['stopped by'] ?? '')?.[1]);
      return [
        [
          'a tool error naming the deadline',
          'result' in outcome && /^Deadline of \d+ ms passed/.test(textOf(outcome.result)),
        ],
        expected === 'server-deadline'
          ? ["stopped by the server's shorter deadline", stoppedAtMs < deadlineMs]
          : ['stopped by the deadline', stoppedAtMs === deadlineMs],
        ['file handle closed', job.fileHandle === 'closed'],
      ];
    },

    async cancel(id: RequestId, outcome: Settled): Promise<Checks> {
      if ('error' in outcome) log.highlight(`<- ${describeError(outcome.error)}`);
      await showLateReply(id);
      const job = await serverAccount(id);
      return [
        [
          'the SDK rejected with the abort reason',
          'error' in outcome && /user changed their mind/.test(String(outcome.error)),
        ],
        ['stopped by the client cancel', job.resources?.['stopped by'] === 'client cancel'],
        ['signal.reason is the cancel reason', job.resources?.['signal.reason'] === '"user changed their mind"'],
        ['file handle closed', job.fileHandle === 'closed'],
      ];
    },

    async timeout(id: RequestId, outcome: Settled): Promise<Checks> {
      if ('error' in outcome) log.highlight(`<- ${describeError(outcome.error)}`);
      cancelSent(id, 'the SDK');
      await showLateReply(id);
      const job = await serverAccount(id);
      return [
        ['McpError -32001 "Request timed out"', timedOut(outcome)],
        ['the SDK sent a cancel', oneCancel(id)],
        ['stopped by that cancel', job.resources?.['stopped by'] === 'client cancel' && job.cancelReason !== undefined],
        ['file handle closed', job.fileHandle === 'closed'],
      ];
    },

    async resetOnProgress(id: RequestId, outcome: Settled, progress: number): Promise<Checks> {
      if ('result' in outcome) log.ok(`<- result "${textOf(outcome.result)}" after ${progress} progress notifications`);
      else if (expected === 'timed-out') log.highlight(`<- ${describeError(outcome.error)}, with no progress in time`);
      else log.fail(`<- ${describeError(outcome.error)} after ${progress} progress notifications`);
      const job = await serverAccount(id);
      if (expected === 'timed-out')
        return [
          ['McpError -32001 "Request timed out"', timedOut(outcome)],
          ["the server stopped on the SDK's cancel", job.state === 'cancelled' && oneCancel(id)],
        ];
      return [
        ['the call completed', 'result' in outcome && !outcome.result.isError],
        ['progress arrived', progress > 0],
        ['the server completed the job', job.state === 'completed'],
      ];
    },

    /** The call with maxTotalTimeout and no resetTimeoutOnProgress: says whether it completed. */
    maxTotalIgnored(outcome: Settled): boolean {
      if ('result' in outcome) log.highlight(`<- result "${textOf(outcome.result)}": maxTotalTimeout was ignored`);
      else log.fail(`<- ${describeError(outcome.error)}`);
      return 'result' in outcome && !outcome.result.isError;
    },

    async maxTotal(id: RequestId, outcome: Settled, jobChunks: number, ignored: boolean): Promise<Checks> {
      if ('error' in outcome) log.highlight(`<- ${describeError(outcome.error)}`);
      const cancelsThen = wire.cancelsSentFor(id).length;
      const then = await jobStatus(id);
      log.highlight(
        `cancels sent for #${id} so far: ${cancelsThen}; the server is still ${then.state} (chunk ${then.chunksDone}/${jobChunks})`,
      );
      log.detail(`waiting: the SDK left #${id}'s ${timeoutMs} ms timer running`);
      await waitFor(`a cancel for #${id}`, () => wire.cancelsSentFor(id).length > 0, { timeoutMs: 10_000 });
      cancelSent(id, 'that stale timer: the SDK');
      await showLateReply(id);
      const job = await serverAccount(id);
      return [
        ['without resetTimeoutOnProgress the call completed', ignored],
        [
          'rejected with "Maximum total timeout exceeded"',
          'error' in outcome && /Maximum total timeout exceeded/.test(String(outcome.error)),
        ],
        ['no cancel sent when it rejected', cancelsThen === 0],
        ['the handler kept running', then.state === 'running'],
        ['a stale timer cancelled it later', job.state === 'cancelled' && oneCancel(id)],
      ];
    },

    async totalCap(id: RequestId, outcome: Settled, progress: number): Promise<Checks> {
      const stop = 'error' in outcome && outcome.error instanceof CallStoppedError ? outcome.error.stop : undefined;
      if (stop)
        log.highlight(`<- ${(outcome as { error: Error }).error.message}, after ${progress} progress notifications`);
      else log.fail(`<- ${'error' in outcome ? describeError(outcome.error) : 'a result'}`);
      cancelSent(id, 'the cap aborted the signal: the SDK');
      await showLateReply(id);
      const job = await serverAccount(id);
      return [
        ['stopped by the total cap', stop?.kind === 'total cap'],
        ['progress kept arriving until then', progress > 0],
        ['one cancel, at once', oneCancel(id)],
        ['the server stopped on that cancel', job.state === 'cancelled'],
        ['file handle closed', job.fileHandle === 'closed'],
      ];
    },
  };
}
