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
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool } from '../shared/jobs.ts';
import { serveMcpOrExit, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import { pollInterval, port, taskStoreFile, wired } from './server-flags.ts';
import { cancelSessionTasks, taskWork, trackTask, trackWork, type TaskJob } from './task-jobs.ts';
import { noteTaskMessages } from './task-messages.ts';
import { AbortingTaskStore } from './task-store-choice.ts'; // task-store.ts's, or --task-store F's
import { registerTaskWorkTool } from './task-work-tool.ts';

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
        const job = trackTask(jobs, task.taskId, extra, { path, chunks, chunkDelayMs }, log);
        let file: string;
        try {
          file = resolveInDataFolder(dataFolder, path, dataLabel);
        } catch (error) {
          // Stored as a tool error, which tasks/result returns. (A schema error, by contrast, comes
          // back as -32602 "Invalid task creation result" without the message.)
          return { task: await job.failedAtOnce(error) };
        }
        const signal = taskStore instanceof AbortingTaskStore ? taskStore.signalFor(task.taskId) : extra.signal;
        // Not awaited: the tools/call is answered now, with the task; the work goes on without it.
        void trackWork(task.taskId, processFile(job, file, chunkDelayMs, signal), taskStore);
        return { task };
      },
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as CallToolResult,
    },
  );

  registerTaskWorkTool(server, jobs); // get_task_work: the job behind a task, by its taskId
  // The same record by the tools/call's request id, as in the other lessons (the Postman folder polls it).
  registerJobStatusTool(server, jobs);

  // A task belongs to its session: once the session ends, nobody can read it. So cancel its
  // unfinished tasks through the store, which stops their work the same way tasks/cancel does.
  server.server.onclose = () => cancelSessionTasks(jobs, taskStore, log);
  return server;
}

const dataFolder = join(import.meta.dirname, 'data');
const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
ensureSampleFile(dataFolder, 'sample.txt', 1024 * 1024);

// One store for the process: a task outlives the request that created it. InMemoryTaskStore binds
// each task to the session that created it; other sessions get "task not found".
const taskStore = wired ? new AbortingTaskStore() : new InMemoryTaskStore();

/**
 * A task's work, after its tools/call has been answered: read the file chunk by chunk, then store
 * the result in the task store, where `tasks/result` finds it. `signal` aborts on `tasks/cancel`
 * (with --unwired it is the tools/call's extra.signal, which SDK 1.x does not abort for tasks/cancel).
 */
async function processFile(job: TaskJob, file: string, chunkDelayMs: number, signal: AbortSignal) {
  const chunks = job.chunksTotal;
  let handle: FileHandle | undefined;
  const hash = createHash('sha256');
  let result: CallToolResult | undefined;
  try {
    handle = await open(file, 'r');
    job.fileOpened();
    const { size } = await handle.stat();
    const chunkSize = Math.ceil(size / chunks);
    const buffer = Buffer.alloc(chunkSize);
    for (let i = 0; i < chunks; i++) {
      const read = await handle.read(buffer, 0, chunkSize, i * chunkSize);
      hash.update(buffer.subarray(0, read.bytesRead));
      job.chunkDone();
      await sleep(chunkDelayMs, undefined, { signal });
    }
    job.completed();
    const text = `Processed ${job.file}: ${chunks} chunks, sha256 ${hash.digest('hex')}`;
    result = { content: [{ type: 'text', text }], isError: false };
  } catch (error) {
    // Aborted: by tasks/cancel, or by the server (the task's session ended, or a shutdown).
    if (signal.aborted) job.stopped(signal.reason);
    else result = job.failed(error); // a tool error result
  } finally {
    if (handle) {
      await handle.close();
      job.fileClosed();
    }
  }

  if (!result) {
    job.reply = 'nothing: the task was cancelled';
    return;
  }
  await job.storeResult(result); // refused if the task was cancelled: it stays cancelled
}

const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: (session, message) => noteTaskMessages(session, message, log),
  otherWork: taskWork(taskStore), // the tasks' work, which a shutdown cancels through the store
});
log.ok(`listening on ${running.url}  (tasks/cancel ${wired ? 'stops the work' : 'does NOT stop the work: --unwired'})`);
if (taskStoreFile) log.warn(`the task store comes from ${taskStoreFile}, not task-store.ts`);
