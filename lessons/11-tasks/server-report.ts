// What the lesson 11 client reads of the server's own record of a task's work (get_task_work), and
// how it prints it: the proof of a cancel is on the server's side.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

/** The work's record once it has ended one way or the other: stopped or done, file closed, reply recorded. */
export function settledWork(client: Client, taskId: string, timeoutMs: number) {
  return waitFor(
    "the server's record of the work to settle",
    async () => {
      const status = await client.callTool({ name: 'get_task_work', arguments: { taskId } });
      const job = status.structuredContent as Record<string, unknown> | undefined;
      return job && job.state !== 'running' && job.fileHandle !== 'open' && job.reply !== undefined ? job : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

export function printWorkReport(work: Record<string, unknown>, taskId: string, log: Timeline) {
  prove({ type: 'server-report', taskId, work });
  const cancelledAfter = work.chunksDoneWhenCancelArrived as number | undefined;
  const doneAt = `chunk ${work.chunksDone}/${work.chunksTotal}`;
  log.event(
    `server reports task ${taskId.slice(0, 8)}: ` +
      (work.state === 'cancelled'
        ? `work stopped after ${doneAt} (tasks/cancel arrived after chunk ${cancelledAfter}; stopped ${work.cancelToStopMs} ms later)`
        : cancelledAfter === undefined
          ? `work ${work.state} at ${doneAt}`
          : `work ${work.state} at ${doneAt}, although tasks/cancel arrived after chunk ${cancelledAfter}`),
  );
  log.event(`server reports task ${taskId.slice(0, 8)}: file handle ${work.fileHandle}; ${work.reply}`);
}
