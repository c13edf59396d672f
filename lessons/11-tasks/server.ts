// Lesson 11 server: `process_large_file` as a task (protocol 2025-11-25, experimental in SDK 1.x).
// `tools/call` with `params.task` is answered at once with a task; the work runs in the background;
// the client polls `tasks/get`, and may `tasks/cancel`. The SDK marks the task cancelled in its
// store but does not stop the work: this server wires the store to an AbortController per task
// (task-store.ts), so the work stops within a chunk and closes its file. `--unwired` shows the
// SDK's stock behaviour: the work watches the tools/call's own `extra.signal`, which tasks/cancel
// never aborts, and runs on to the end after the cancel.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/tasks
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestTaskStore } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { noteCancel } from '../01-cancel-by-id/cancellation.ts';
import { intFlag, parseFlags } from '../shared/cli.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { jobReportSchema, registerJobStatusTool, type Job } from '../shared/jobs.ts';
import { serveMcpOrExit, type McpSession, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { AbortingTaskStore, TaskCancelledError } from './task-store.ts';

const log = createTimeline('server');

function createServer({ jobs }: NewSession) {
  const server = new McpServer(
    { name: 'lesson-11-tasks', version: '1.0.0' },
    {
      // The spec's tasks capability: tasks/list, tasks/cancel, and task-augmented tools/call.
      capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
      taskStore,
    },
  );

  server.experimental.tasks.registerToolTask(
    'process_large_file',
    {
      title: 'Process a large file, as a task',
      description:
        'Call it as a task (params.task): it answers at once with a taskId, then reads a file from the lesson ' +
        'data folder in `chunks` chunks, waiting `chunkDelayMs` after each. Poll tasks/get; tasks/result gives ' +
        'the result; tasks/cancel stops the work. Try path "sample.txt".',
      inputSchema: {
        path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
        chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
        chunkDelayMs: z.number().int().min(0).max(60_000).default(250).describe('pause after each chunk, in ms'),
      },
      execution: { taskSupport: 'required' },
    },
    {
      createTask: async ({ path, chunks, chunkDelayMs }, extra) => {
        const task = await extra.taskStore.createTask({ ttl: extra.taskRequestedTtl, pollInterval });
        const job = jobs.start(extra.requestId, { tool: 'process_large_file', file: path, chunksTotal: chunks });
        jobsByTask.set(task.taskId, job);
        log.event(
          `tools/call #${extra.requestId}: process_large_file ${path}, ${chunks} chunks, ${chunkDelayMs} ms apart ` +
            `-> task ${task.taskId}`,
        );
        let file: string;
        try {
          file = resolveInDataFolder(dataFolder, path, dataLabel);
        } catch (error) {
          // A task that fails at once keeps the message: tasks/result returns this tool error. (A
          // schema error, by contrast, comes back as -32602 "Invalid task creation result" without it.)
          const text = (error as Error).message;
          await extra.taskStore.storeTaskResult(task.taskId, 'failed', {
            content: [{ type: 'text', text }],
            isError: true,
          });
          job.state = 'failed';
          job.reply = `result stored (failed): ${text}`;
          log.warn(`task ${short(task.taskId)} failed at once: ${text}`);
          return { task: await extra.taskStore.getTask(task.taskId) };
        }
        const signal = taskStore instanceof AbortingTaskStore ? taskStore.signalFor(task.taskId) : extra.signal;
        // Not awaited: the tools/call is answered now, with the task; the work goes on without it.
        workRunning.add(task.taskId);
        void processFile(task.taskId, job, file, { chunks, chunkDelayMs }, extra.taskStore, signal).finally(() =>
          workRunning.delete(task.taskId),
        );
        return { task };
      },
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as CallToolResult,
    },
  );

  server.registerTool(
    'get_task_work',
    {
      title: 'What a task did',
      description:
        "Reports a task's work by its taskId, from the server's own record: running, completed or cancelled; " +
        'chunks done; when tasks/cancel arrived and how far the work went after it; whether its file is closed.',
      inputSchema: { taskId: z.string().min(1).describe('the taskId that tools/call returned') },
      outputSchema: { taskId: z.string(), ...jobReportSchema },
    },
    async ({ taskId }) => {
      const job = jobsByTask.get(taskId);
      // Jobs belong to the session that ran them, like the tasks themselves.
      if (!job || jobs.get(job.requestId) !== job) throw new Error(`No task ${taskId} in this session.`);
      const report = { taskId, ...jobs.report(job) };
      return { content: [{ type: 'text', text: JSON.stringify(report, null, 2) }], structuredContent: report };
    },
  );
  // The same record by the tools/call's request id, as in the other lessons (the Postman folder polls it).
  registerJobStatusTool(server, jobs);

  // A task belongs to its session: once the session ends, nobody can read it. So cancel its
  // unfinished tasks through the store, which stops their work the same way tasks/cancel does.
  server.server.onclose = () => {
    for (const [taskId, job] of jobsByTask) {
      if (jobs.get(job.requestId) !== job) continue;
      jobsByTask.delete(taskId);
      if (job.state !== 'running') continue;
      log.highlight(`task ${short(taskId)}: its session ended, cancelling it`);
      taskStore.updateTaskStatus(taskId, 'cancelled', SESSION_ENDED).catch(() => {});
    }
  };
  return server;
}

// ---------------------------------------------------------------------------------------------
// Flags, helpers and start-up.

export const DEFAULT_PORT = 3111;

const HELP = `
Lesson 11 server: process_large_file as a task; tasks/cancel stops its work.

Usage: npx tsx lessons/11-tasks/server.ts [options]

  --port N            port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --poll-interval MS  the pollInterval the server suggests in each task (default: 250)
  --unwired           the SDK's stock InMemoryTaskStore, and the work watches the tools/call's
                      extra.signal: tasks/cancel marks the task cancelled, the work runs on anyway
  -h, --help          show this help
`;

const flags = parseFlags(
  { port: { type: 'string' }, 'poll-interval': { type: 'string' }, unwired: { type: 'boolean' } },
  HELP,
);
const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
const pollInterval = intFlag('poll-interval', flags['poll-interval'], 250, 10, 60_000);
const wired = !flags.unwired;

const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

// One store for the process: a task outlives the request that created it. InMemoryTaskStore binds
// each task to the session that created it; other sessions get "task not found".
const taskStore = wired ? new AbortingTaskStore() : new InMemoryTaskStore();

/** The job behind each task, by task id (task ids are unique across sessions). */
const jobsByTask = new Map<string, Job>();
/** The tasks whose work is running: a shutdown cancels them and waits for their clean-up. */
const workRunning = new Set<string>();

const short = (taskId: string) => taskId.slice(0, 8);

/** The status message of a task cancelled because its session ended (a shutdown gives its own reason). */
const SESSION_ENDED = 'The session ended.';

/**
 * A task's work, after its tools/call has been answered: read the file chunk by chunk, then store
 * the result in the task store, where `tasks/result` finds it. `signal` aborts on `tasks/cancel`
 * (with --unwired it is the tools/call's extra.signal, which SDK 1.x does not abort for tasks/cancel).
 */
async function processFile(
  taskId: string,
  job: Job,
  file: string,
  { chunks, chunkDelayMs }: { chunks: number; chunkDelayMs: number },
  store: RequestTaskStore,
  signal: AbortSignal,
) {
  let handle: FileHandle | undefined;
  const hash = createHash('sha256');
  let result: CallToolResult | undefined;
  try {
    handle = await open(file, 'r');
    job.fileHandle = 'open';
    const { size } = await handle.stat();
    const chunkSize = Math.ceil(size / chunks);
    const buffer = Buffer.alloc(chunkSize);
    for (let i = 0; i < chunks; i++) {
      const read = await handle.read(buffer, 0, chunkSize, i * chunkSize);
      hash.update(buffer.subarray(0, read.bytesRead));
      job.chunksDone++;
      log.detail(`task ${short(taskId)} chunk ${job.chunksDone}/${chunks}`);
      await sleep(chunkDelayMs, undefined, { signal });
    }
    job.state = 'completed';
    const text = `Processed ${job.file}: ${chunks} chunks, sha256 ${hash.digest('hex')}`;
    result = { content: [{ type: 'text', text }], isError: false };
  } catch (error) {
    if (signal.aborted) {
      job.state = 'cancelled';
      job.stoppedAt = performance.now();
      // Without tasks/cancel, the server cancelled the task and said why: its session ended, or a shutdown.
      const why = signal.reason instanceof TaskCancelledError ? signal.reason.message : SESSION_ENDED;
      const after = job.cancel
        ? ` (${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after tasks/cancel)`
        : ` (${why === SESSION_ENDED ? 'its session ended' : why})`;
      log.highlight(`task ${short(taskId)} work stopped after chunk ${job.chunksDone}/${chunks}${after}`);
    } else {
      job.state = 'failed';
      const text = `process_large_file failed: ${(error as Error).message}`;
      result = { content: [{ type: 'text', text }], isError: true };
    }
  } finally {
    if (handle) {
      await handle.close();
      job.fileHandle = 'closed';
      log.highlight(`task ${short(taskId)} file handle closed`);
    }
  }

  if (!result) {
    job.reply = 'nothing: the task was cancelled';
    return;
  }
  if (job.cancel) log.warn(`task ${short(taskId)} work ran to chunk ${job.chunksDone}/${chunks} after tasks/cancel`);
  try {
    await store.storeTaskResult(taskId, result.isError ? 'failed' : 'completed', result);
    job.reply = `result stored (${result.isError ? 'failed' : 'completed'})`;
    log.ok(`task ${short(taskId)} ${job.state}: result stored for tasks/result`);
  } catch (error) {
    // A cancelled task stays cancelled (the spec's MUST): the store refuses the late result.
    job.reply = `the store refused the result: ${(error as Error).message}`;
    log.warn(`task ${short(taskId)}: the store refused the result: ${(error as Error).message}`);
  }
}

/** The method of each tasks/* request a session sent, by id, so a cancel naming one can say what it named. */
const taskRequests = new WeakMap<McpSession, Map<RequestId, string>>();

/** Notes when `tasks/cancel` reaches the server, on the task's job, before the SDK handles it. */
function noteTaskMessages(session: McpSession, message: JSONRPCMessage) {
  if (!('method' in message)) return;
  if (message.method.startsWith('tasks/') && 'id' in message) {
    if (!taskRequests.has(session)) taskRequests.set(session, new Map());
    taskRequests.get(session)!.set(message.id, message.method);
  }
  if (message.method === 'tasks/cancel' && 'id' in message) {
    const taskId = String(message.params?.taskId);
    const job = jobsByTask.get(taskId);
    if (!job || session.jobs.get(job.requestId) !== job) {
      log.warn(`tasks/cancel for ${taskId}: no such task in this session`);
    } else if (job.state === 'running' && !job.cancel) {
      job.cancel = { receivedAt: performance.now(), reason: 'tasks/cancel', chunksDoneThen: job.chunksDone };
      log.highlight(`tasks/cancel for task ${short(taskId)}, after chunk ${job.chunksDone}/${job.chunksTotal}`);
    } else {
      const why = job.cancel ? 'is cancelled already' : `${job.state === 'failed' ? 'failed' : 'completed'} already`;
      log.warn(`tasks/cancel for task ${short(taskId)}, which ${why}: the SDK rejects it`);
    }
    return;
  }
  if (message.method === 'notifications/cancelled') {
    const requestId = message.params?.requestId;
    const id = typeof requestId === 'string' || typeof requestId === 'number' ? requestId : undefined;
    const job = id === undefined ? undefined : session.jobs.get(id);
    const taskId = [...jobsByTask].find(([, taskJob]) => taskJob === job)?.[0];
    if (taskId) {
      // Its tools/call was answered with the task long ago: the SDK has no request left to abort.
      log.warn(
        `notifications/cancelled for #${JSON.stringify(requestId)}: that request already returned task ` +
          `${short(taskId)}; a task is cancelled with tasks/cancel. Nothing stops.`,
      );
      return;
    }
    const method = id === undefined ? undefined : taskRequests.get(session)?.get(id);
    if (method) {
      // SDK 1.x sends these when a callToolStream's signal aborts: one per tasks/get it polled with.
      log.warn(
        `notifications/cancelled for #${JSON.stringify(requestId)}: that was a ${method}, not the task ` +
          '(only tasks/cancel cancels a task): the task is not affected',
      );
      return;
    }
    noteCancel(session.jobs, message, log);
  }
}

// A task's work outlives its tools/call, so the shutdown does not see it among the running handlers:
// cancelling the task stops it (with --unwired it does not, and the shutdown says so).
const otherWork = {
  stop(reason: string) {
    for (const taskId of workRunning) void taskStore.updateTaskStatus(taskId, 'cancelled', reason);
    return workRunning.size;
  },
  running: () => workRunning.size,
};
const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: noteTaskMessages,
  otherWork,
});
log.ok(`listening on ${running.url}  (tasks/cancel ${wired ? 'stops the work' : 'does NOT stop the work: --unwired'})`);
