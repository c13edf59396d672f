// Lesson 11 server's record of each task's work: the job behind each task (what get_task_work and
// get_job_status report), the steps the work records with one call each, and the work still
// running, which a session's end or a shutdown cancels through the task store.
import type { TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import type { RequestTaskStore } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { Job, JobBook } from '../shared/jobs.ts';
import type { OtherWork } from '../shared/mcp-http.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';

/** The job behind each task, by task id (task ids are unique across sessions). */
export const jobsByTask = new Map<string, Job>();
/** The tasks whose work is running: a shutdown cancels them and waits for their clean-up. */
const workRunning = new Set<string>();

export const short = (taskId: string) => taskId.slice(0, 8);

/** The status message of a task cancelled because its session ended (a shutdown gives its own reason). */
const SESSION_ENDED = 'The session ended.';

export type TaskJob = ReturnType<typeof trackTask>;

/**
 * Starts the job record behind task `taskId` and says so ("tools/call #1: process_large_file ...
 * -> task ..."), so the work records each step in one call and writes none of the record's fields.
 */
export function trackTask(
  jobs: JobBook,
  taskId: string,
  { requestId, taskStore: store }: { requestId: RequestId; taskStore: RequestTaskStore },
  { path, chunks, chunkDelayMs }: { path: string; chunks: number; chunkDelayMs: number },
  log: Timeline,
) {
  const job = jobs.start(requestId, { tool: 'process_large_file', file: path, chunksTotal: chunks });
  jobsByTask.set(taskId, job);
  prove({ type: 'task', taskId, requestId }); // job records carry the request id: this names its task
  log.event(
    `tools/call #${requestId}: process_large_file ${path}, ${chunks} chunks, ${chunkDelayMs} ms apart ` +
      `-> task ${taskId}`,
  );
  const task = `task ${short(taskId)}`;
  return Object.assign(job, {
    /** A task that fails before its work starts keeps its message: tasks/result returns this tool error. */
    failedAtOnce: async (error: unknown) => {
      const text = (error as Error).message;
      await store.storeTaskResult(taskId, 'failed', { content: [{ type: 'text', text }], isError: true });
      job.state = 'failed';
      job.reply = `result stored (failed): ${text}`;
      log.warn(`${task} failed at once: ${text}`);
      return store.getTask(taskId);
    },
    fileOpened: () => void (job.fileHandle = 'open'),
    chunkDone: () => log.detail(`${task} chunk ${++job.chunksDone}/${chunks}`),
    completed: () => void (job.state = 'completed'),
    /** The work failed: a tool error result, for tasks/result. */
    failed: (error: unknown): CallToolResult => {
      job.state = 'failed';
      const text = `process_large_file failed: ${(error as Error).message}`;
      return { content: [{ type: 'text', text }], isError: true };
    },
    /** The work stopped on its signal: by tasks/cancel, or by the server (its session ended, or a shutdown). */
    stopped: (reason: unknown) => {
      job.state = 'cancelled';
      job.stoppedAt = performance.now();
      // Without tasks/cancel, the server cancelled the task and said why: its session ended, or a shutdown.
      // By name, not class: with --task-store F the store's TaskCancelledError is F's own class.
      const why = reason instanceof Error && reason.name === 'TaskCancelledError' ? reason.message : SESSION_ENDED;
      const after = job.cancel
        ? ` (${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after tasks/cancel)`
        : ` (${why === SESSION_ENDED ? 'its session ended' : why})`;
      log.highlight(`${task} work stopped after chunk ${job.chunksDone}/${chunks}${after}`);
      prove({ type: 'work-stopped', taskId, requestId, reason: why });
    },
    fileClosed: () => {
      job.fileHandle = 'closed';
      log.highlight(`${task} file handle closed`);
    },
    /** Stores the work's result for tasks/result, and records whether the store took it. */
    storeResult: async (result: CallToolResult) => {
      if (job.cancel) log.warn(`${task} work ran to chunk ${job.chunksDone}/${chunks} after tasks/cancel`); // --unwired
      try {
        await store.storeTaskResult(taskId, result.isError ? 'failed' : 'completed', result);
        job.reply = `result stored (${result.isError ? 'failed' : 'completed'})`;
        log.ok(`${task} ${job.state}: result stored for tasks/result`);
      } catch (error) {
        // A cancelled task stays cancelled (the spec's MUST): the store refuses the late result.
        job.reply = `the store refused the result: ${(error as Error).message}`;
        log.warn(`${task}: the store refused the result: ${(error as Error).message}`);
      }
    },
  });
}

/** Counts `work` as running until it settles, so a shutdown waits for it; then says what the store still watches. */
export function trackWork(taskId: string, work: Promise<void>, store: TaskStore): Promise<void> {
  workRunning.add(taskId);
  return work.finally(() => {
    workRunning.delete(taskId);
    // AbortingTaskStore should hold a controller only for a task whose work runs (the exercise's check reads this).
    const { watchedTasks } = store as { watchedTasks?: number };
    prove({ type: 'work-ended', taskId, workRunning: workRunning.size, watchedTasks });
  });
}

/** When a session closes: cancels its unfinished tasks through the store, as tasks/cancel would. */
export function cancelSessionTasks(jobs: JobBook, taskStore: TaskStore, log: Timeline) {
  for (const [taskId, job] of jobsByTask) {
    if (jobs.get(job.requestId) !== job) continue;
    jobsByTask.delete(taskId);
    if (job.state !== 'running') continue;
    log.highlight(`task ${short(taskId)}: its session ended, cancelling it`);
    prove({ type: 'cancelling-task', taskId, requestId: job.requestId, why: 'its session ended' });
    taskStore.updateTaskStatus(taskId, 'cancelled', SESSION_ENDED).catch(() => {});
  }
}

// A task's work outlives its tools/call, so the shutdown does not see it among the running handlers:
// cancelling the task stops it (with --unwired it does not, and the shutdown says so).
export function taskWork(taskStore: TaskStore): OtherWork {
  return {
    stop(reason: string) {
      for (const taskId of workRunning) void taskStore.updateTaskStatus(taskId, 'cancelled', reason);
      return workRunning.size;
    },
    running: () => workRunning.size,
  };
}
