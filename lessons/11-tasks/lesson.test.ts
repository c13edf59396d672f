// Lesson 11, end to end: the real server and client processes on ephemeral ports, plus SDK clients
// in the test. Every claim in this lesson's README is checked here, on the server's side.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ErrorCode,
  McpError,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import { startTs } from '../shared/processes.ts';
import { openRawSession } from '../shared/raw-mcp.ts';
import { checkReadmePair } from '../shared/readme-output.ts';
import { serverRunner, type LessonServer } from '../shared/shared-servers.ts';
import type { ProofRecord } from '../shared/proof.ts';
import {
  assertProvedInOrder,
  canSeeFileDescriptors,
  connectRecordingClient,
  jobWhere,
  lineIndex,
  onlyProof,
  openDescriptorsTo,
  proofIndex,
  proofOf,
  textOf,
  type Proof,
  type RecordingClient,
  asShipped,
} from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';
import { AbortingTaskStore, TaskCancelledError } from './task-store.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const README = join(import.meta.dirname, 'README.md');
const EXERCISE_STORE = join(import.meta.dirname, 'exercise-task-store.ts');
/** True when git says the file is as committed: a learner's work in progress is not the exercise as given. */
const asGiven = asShipped;

type Server = LessonServer;

/** The file's shared server with `args`, or one of its own (`{ own: true }`). */
const withServer = serverRunner(SERVER);

// The README shows the default port a reader will see, and placeholders for what changes each run.
const asDocumented = (lines: string[], url: string) =>
  lines.map((line) => line.replaceAll(url, 'http://127.0.0.1:3111/mcp'));
const taskIds: [RegExp, string][] = [
  [/[0-9a-f]{32}/g, '<task-id>'],
  [/task [0-9a-f]{8}/g, 'task <task>'],
  [/answered in \d+ ms/, 'answered in N ms'],
];

const fileDescriptorsOpen = (server: Server) => openDescriptorsTo(server.child.pid!, '/data/sample.txt');

/**
 * What the client was answered, in order (what-came-back.ts, client.ts), without clock readings:
 * the task, each new tasks/get status, tasks/cancel and tasks/result, the outcome. The server's
 * report of the work is only named here: read it with onlyProof(client, 'server-report').
 */
const told = (client: { proof(): ProofRecord[] }) =>
  (client.proof() as Proof[]).map(({ at: _at, ...record }) =>
    record.type === 'server-report' ? { type: 'server-report' } : record.type === 'task' ? { type: 'task' } : record,
  );
const cancelRejected = (status: string) => ({
  type: 'tasks/cancel',
  error: { code: -32602, message: `MCP error -32602: Cannot cancel task in terminal status: ${status}` },
});
const noResult = (taskId: string) => ({
  type: 'tasks/result',
  error: { code: -32603, message: `Task ${taskId} has no result stored` },
});

/** Starts process_large_file as a task from an in-test SDK client. */
async function startTask(client: RecordingClient['client'], args: Record<string, unknown>) {
  const { task } = await client.request(
    { method: 'tools/call', params: { name: 'process_large_file', arguments: { path: 'sample.txt', ...args } } },
    CreateTaskResultSchema,
    { task: { ttl: 60_000 } },
  );
  return task;
}

const work = async (client: RecordingClient['client'], taskId: string) =>
  (await client.callTool({ name: 'get_task_work', arguments: { taskId } })).structuredContent as Record<
    string,
    unknown
  >;

/** A JSON-RPC response as it came over the wire. */
type WireReply = { id: number; result?: Record<string, unknown>; error?: { code: number; message: string } };

const rejection = (code: number, message: RegExp) => (error: unknown) =>
  error instanceof McpError && error.code === code && message.test(error.message);

describe('lesson 11: tasks/cancel, and what it stops', { timeout: scaled(60_000) }, () => {
  test('wired (default): the task is cancelled, its work stops within a chunk and closes the file; the README shows the run', async () => {
    await withServer(
      [],
      async (server) => {
        // The client's defaults: the README shows this run.
        const client = startTs(CLIENT, ['--url', server.url]);
        await server.waitForJob(1, (job) => job.fileHandle === 'open');
        if (canSeeFileDescriptors) await waitFor('the work to open the file', () => fileDescriptorsOpen(server) === 1);

        assert.equal(await client.exited, 0, client.output());
        const { taskId } = onlyProof(server, 'task');
        assert.deepEqual(told(client), [
          { type: 'task' },
          { type: 'tasks/get', status: 'working' },
          { type: 'tasks/cancel', status: 'cancelled', statusMessage: 'Client cancelled task execution.' },
          { type: 'tasks/get', status: 'cancelled' },
          { type: 'server-report' },
          cancelRejected('cancelled'), // the second tasks/cancel
          noResult(taskId),
          { type: 'outcome', observed: 'stopped', expected: 'stopped' },
        ]);
        const { work: report } = onlyProof(client, 'server-report');
        assert.equal(report.taskId, taskId);
        assert.equal(report.state, 'cancelled');
        assert.ok(report.chunksDone < report.chunksTotal, 'stopped before the last chunk');
        assert.ok(
          report.chunksDone - report.chunksDoneWhenCancelArrived <= 1,
          `stopped within one chunk of the cancel: ${JSON.stringify(report)}`,
        );
        assert.deepEqual([report.fileHandle, report.reply], ['closed', 'nothing: the task was cancelled']);
        if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 0);

        const records = server.proof();
        const ofTask = (record: Proof) => record.taskId === taskId;
        assertProvedInOrder(records, [
          ['tasks/cancel arriving', (r) => r.type === 'tasks/cancel' && ofTask(r) && r.matched === 'running'],
          [
            'the work stopping, after tasks/cancel',
            jobWhere(1, (job) => job.state === 'cancelled' && job.cancelToStopMs !== undefined),
          ],
          ['the file closing', jobWhere(1, (job) => job.fileHandle === 'closed')],
          [
            'the second tasks/cancel, rejected',
            (r) => r.type === 'tasks/cancel' && ofTask(r) && r.matched === 'is cancelled already',
          ],
        ]);
        assert.equal(onlyProof(server, 'work-stopped').reason, 'Client cancelled task execution.');
        // No chunk after the one the work stopped at.
        const jobRecords = proofOf(server, 'job').filter(jobWhere(1));
        const stopped = jobRecords.find((job) => job.state === 'cancelled')!;
        assert.equal(stopped.chunksDone, report.chunksDone);
        assert.ok(
          jobRecords.every((job) => job.chunksDone <= stopped.chunksDone),
          jobRecords.map((job) => JSON.stringify(job)).join('\n'),
        );

        await server.waitForLine(/session \S+ ended/);
        const serverLines = server.lines.slice(0, lineIndex(server.lines, /session \S+ ended/) + 1);
        checkReadmePair(
          README,
          [
            ['server', asDocumented(serverLines, server.url)],
            ['client', asDocumented(client.lines, server.url)],
          ],
          // The chunk lines are left out: whether one more chunk is read after tasks/cancel depends
          // on where in a chunk it lands (the asserts above check that it is at most one).
          [...taskIds, [/^.* server task <task> chunk N\/20$/, '']],
          {
            ids: { task: /\b[0-9a-f]{32}\b/ },
            order: [
              ['server', /session \S+ started/, 'client', /session \S+, protocol/],
              ['server', /-> task [0-9a-f]{32}/, 'client', /<- task [0-9a-f]{32}: working/],
              ['client', /-> tasks\/cancel [0-9a-f]{32}/, 'server', /tasks\/cancel for task \S+, after chunk/],
              ['server', /tasks\/cancel for task \S+, after chunk/, 'client', /<- tasks\/cancel: cancelled/],
              ['client', /-> tasks\/cancel again/, 'server', /which is cancelled already/],
            ],
          },
        );
      },
      { own: true },
    );
  });

  test('--unwired (the SDK alone): the task says cancelled, but the work runs to the end; the README shows the run', async () => {
    await withServer(['--unwired'], async (server) => {
      const client = startTs(CLIENT, ['--url', server.url, '--expect', 'ran-on']);
      assert.equal(await client.exited, 0, client.output());
      const { taskId } = onlyProof(server, 'task');
      // The client sees exactly what it sees against the wired server, even once the work has run
      // to the end and tried to store its result: the task stays cancelled, with no result.
      assert.deepEqual(told(client), [
        { type: 'task' },
        { type: 'tasks/get', status: 'working' },
        { type: 'tasks/cancel', status: 'cancelled', statusMessage: 'Client cancelled task execution.' },
        { type: 'tasks/get', status: 'cancelled' },
        { type: 'server-report' },
        cancelRejected('cancelled'),
        noResult(taskId),
        { type: 'outcome', observed: 'ran-on', expected: 'ran-on' },
      ]);
      // ...while the server's work went on.
      const { work: report } = onlyProof(client, 'server-report');
      const atCancel = report.chunksDoneWhenCancelArrived;
      assert.deepEqual([report.state, report.chunksDone, report.chunksTotal], ['completed', 20, 20]);
      assert.ok(atCancel < 20 - 1, `the cancel came early enough to matter: after chunk ${atCancel}`);
      assert.match(
        report.reply,
        new RegExp(
          `^the store refused the result: Cannot store result for task ${taskId} in terminal status 'cancelled'`,
        ),
      );

      // Every chunk after the cancel was read: each one is a change of the job's record.
      const records = server.proof();
      const cancelled = proofIndex(
        records,
        'tasks/cancel',
        (r) => r.type === 'tasks/cancel' && r.matched === 'running',
      );
      const chunksAfter = new Set(
        (records.slice(cancelled) as Proof[])
          .filter(jobWhere(1, (job) => job.chunksDone > atCancel))
          .map((job) => job.chunksDone),
      );
      assert.equal(chunksAfter.size, 20 - atCancel, records.map((r) => JSON.stringify(r)).join('\n'));
      assert.equal(proofOf(server, 'work-stopped').length, 0, 'nothing stopped the work');

      const log = server.lines;
      const cancelAt = lineIndex(log, /tasks\/cancel for task \S+, after chunk/); // the README block starts here
      const to = lineIndex(log, /work ran to chunk 20\/20 after tasks\/cancel/, cancelAt) + 1;
      checkReadmePair(
        README,
        [
          ['server, --unwired', log.slice(cancelAt, to + 1)],
          ['client, --unwired', client.lines.slice(lineIndex(client.lines, /server reports task/))],
        ],
        taskIds,
        {
          ids: { task: /\b[0-9a-f]{32}\b/ },
          order: [
            ['server, --unwired', /work ran to chunk 20\/20/, 'client, --unwired', /work completed at chunk 20\/20/],
          ],
        },
      );
    });
  });

  test('--no-cancel: the task completes, tasks/result returns the result, and a later tasks/cancel is rejected', async () => {
    await withServer(['--poll-interval', '50'], async (server) => {
      const client = startTs(CLIENT, ['--url', server.url, '--no-cancel', '--chunks', '4', '--chunk-delay', '50']);
      assert.equal(await client.exited, 0, client.output());
      const [result] = proofOf(client, 'tasks/result');
      assert.match(result?.text, /^Processed sample.txt: 4 chunks, sha256 [0-9a-f]{64}$/);
      assert.deepEqual(told(client), [
        { type: 'task' },
        { type: 'tasks/get', status: 'working' },
        { type: 'tasks/get', status: 'completed' },
        { type: 'tasks/result', text: result?.text },
        cancelRejected('completed'),
        { type: 'server-report' },
        { type: 'outcome', observed: 'completed', expected: 'completed' },
      ]);
      const { status, pollInterval } = onlyProof(client, 'task');
      assert.deepEqual([status, pollInterval], ['working', 50]);
      const { work: report } = onlyProof(client, 'server-report');
      assert.deepEqual(
        [report.state, report.chunksDone, report.chunksTotal, report.fileHandle, report.reply],
        ['completed', 4, 4, 'closed', 'result stored (completed)'],
      );
    });
  });

  test('notifications/cancelled naming the tools/call id stops nothing: the task completes', async () => {
    await withServer([], async (server) => {
      const client = startTs(CLIENT, [
        ...['--url', server.url, '--cancel-with', 'notification', '--chunks', '8', '--chunk-delay', '100'],
        ...['--cancel-after', '300'],
      ]);
      assert.equal(await client.exited, 0, client.output());
      const [result] = proofOf(client, 'tasks/result');
      assert.match(result?.text, /^Processed sample.txt: 8 chunks/);
      assert.deepEqual(told(client), [
        { type: 'task' },
        { type: 'tasks/get', status: 'working' },
        { type: 'sent', method: 'notifications/cancelled', requestId: 1 },
        { type: 'tasks/get', status: 'working' }, // still working after it
        { type: 'tasks/get', status: 'completed' },
        { type: 'tasks/result', text: result?.text },
        cancelRejected('completed'),
        { type: 'server-report' },
        { type: 'outcome', observed: 'completed', expected: 'completed' },
      ]);
      // The server named what the cancel named, stopped nothing, and the work read on to its last chunk.
      const { taskId } = onlyProof(server, 'task');
      assertProvedInOrder(server.proof(), [
        [
          'the notification, naming a call answered with a task',
          (r) => r.type === 'cancel' && r.requestId === 1 && r.matched === 'a tools/call answered with a task',
        ],
        ['the last chunk', jobWhere(1, (job) => job.chunksDone === 8)],
      ]);
      assert.equal(onlyProof(server, 'cancel').taskId, taskId);
      assert.equal(proofOf(server, 'work-stopped').length, 0);
    });
  });

  test('the client exits 1 when the outcome is not the one expected', async () => {
    await withServer(['--unwired'], async (server) => {
      const client = startTs(CLIENT, [
        '--url',
        server.url,
        '--chunks',
        '6',
        '--chunk-delay',
        '50',
        '--cancel-after',
        '100',
      ]);
      assert.equal(await client.exited, 1, client.output());
      assert.deepEqual(
        [onlyProof(client, 'outcome').observed, onlyProof(client, 'outcome').expected],
        ['ran-on', 'stopped'],
      );
    });
  });

  test(
    "two terminals: the client against the unsolved exercise's store is told cancelled, hears the work ran on, exits 1",
    { skip: !asGiven(EXERCISE_STORE) && 'the exercise file is being worked on' },
    async () => {
      await withServer(['--task-store', EXERCISE_STORE], async (server) => {
        const client = startTs(CLIENT, [
          ...['--url', server.url, '--chunks', '6', '--chunk-delay', '100', '--cancel-after', '250'],
        ]);
        assert.equal(await client.exited, 1, client.output());
        // The wire says the same as for the solution: cancelled. Only the server's record says the work ran on.
        assert.deepEqual(
          told(client).find((record) => record.type === 'tasks/cancel'),
          { type: 'tasks/cancel', status: 'cancelled', statusMessage: 'Client cancelled task execution.' },
        );
        assert.deepEqual(
          [onlyProof(client, 'outcome').observed, onlyProof(client, 'outcome').expected],
          ['ran-on', 'stopped'],
        );
        assert.equal(onlyProof(client, 'server-report').work.chunksDone, 6);
        assert.equal(proofOf(server, 'work-stopped').length, 0);
      });
    },
  );
});

describe(
  'what SDK 1.x does with tasks (pinned: a test fails when the SDK changes)',
  { timeout: scaled(60_000) },
  () => {
    test("the schema's word on notifications/cancelled and tasks", () => {
      const schema = readFileSync(
        join(import.meta.dirname, '../../node_modules/@modelcontextprotocol/sdk/dist/esm/spec.types.d.ts'),
        'utf8',
      );
      assert.ok(
        schema.includes('This MUST NOT be used for cancelling tasks (use the `tasks/cancel` request instead).'),
      );
    });

    test('InMemoryTaskStore: a cancelled task refuses a late result, completed or failed, and stays cancelled', async () => {
      // The SDK's own store, with no server at all: what tasks/cancel's updateTaskStatus leaves behind.
      const store = new InMemoryTaskStore();
      const task = await store.createTask({ ttl: 1000 }, 1, { method: 'tools/call', params: {} });
      await store.updateTaskStatus(task.taskId, 'cancelled', 'Client cancelled task execution.');
      assert.equal((await store.getTask(task.taskId))?.status, 'cancelled');
      for (const status of ['completed', 'failed'] as const) {
        await assert.rejects(
          store.storeTaskResult(task.taskId, status, { content: [] }),
          /Cannot store result for task \S+ in terminal status 'cancelled'/,
        );
      }
      assert.equal((await store.getTask(task.taskId))?.status, 'cancelled');
      await assert.rejects(store.getTaskResult(task.taskId), /has no result stored/);
      store.cleanup();
    });

    test("AbortingTaskStore aborts a task's signal on cancel, and only then; it keeps no controller after", async () => {
      const store = new AbortingTaskStore();
      const request = { method: 'tools/call', params: {} };
      const cancelled = await store.createTask({}, 1, request);
      const completed = await store.createTask({}, 2, request);
      const [a, b] = [store.signalFor(cancelled.taskId), store.signalFor(completed.taskId)];
      assert.equal(store.watchedTasks, 2);
      await store.updateTaskStatus(cancelled.taskId, 'cancelled', 'Client cancelled task execution.');
      assert.equal(a.aborted, true);
      assert.ok(a.reason instanceof TaskCancelledError);
      await store.storeTaskResult(completed.taskId, 'completed', { content: [] });
      assert.equal(b.aborted, false);
      // A second cancel is refused by the store, and aborts nothing new.
      await assert.rejects(store.updateTaskStatus(completed.taskId, 'cancelled'), /terminal status/);
      assert.equal(b.aborted, false);
      assert.equal(store.watchedTasks, 0);
      store.cleanup();
    });

    test('protocol answers: unknown task, another session, calls without a task, bad arguments', async () => {
      await withServer([], async (server) => {
        const owner = await connectRecordingClient(server.url);
        const other = await connectRecordingClient(server.url);
        try {
          const task = await startTask(owner.client, { chunks: 10, chunkDelayMs: 50 });
          assert.equal(task.status, 'working');
          assert.equal(task.ttl, 60_000);
          const tasks = owner.client.experimental.tasks;

          // The spec's -32602 for a task that does not exist...
          await assert.rejects(tasks.cancelTask('no-such-task'), rejection(-32602, /Task not found: no-such-task/));
          await assert.rejects(
            tasks.getTask('no-such-task'),
            rejection(-32602, /Failed to retrieve task: Task not found/),
          );
          // ...which is what a task of another session is, for InMemoryTaskStore.
          const strangers = other.client.experimental.tasks;
          await assert.rejects(strangers.getTask(task.taskId), rejection(-32602, /Task not found/));
          await assert.rejects(strangers.cancelTask(task.taskId), rejection(-32602, /Task not found/));
          assert.equal((await strangers.listTasks()).tasks.length, 0);
          const strangerWork = await other.client.callTool({
            name: 'get_task_work',
            arguments: { taskId: task.taskId },
          });
          assert.equal(strangerWork.isError, true);
          assert.deepEqual(
            (await tasks.listTasks()).tasks.map((t) => [t.taskId, t.status]),
            [[task.taskId, 'working']],
          );

          // The spec says a server MUST answer -32601 to a non-task call of a taskSupport "required" tool;
          // SDK 1.x turns it into a tool error whose text carries the code.
          const plain = await owner.client.callTool({ name: 'process_large_file', arguments: { path: 'sample.txt' } });
          assert.equal(plain.isError, true);
          assert.equal(
            textOf(plain),
            "MCP error -32601: Tool process_large_file requires task augmentation (taskSupport: 'required')",
          );

          // Arguments the schema rejects: SDK 1.x loses the validation message (which names `chunks`).
          await assert.rejects(startTask(owner.client, { chunks: -5 }), (error: unknown) => {
            assert.ok(rejection(ErrorCode.InvalidParams, /Invalid task creation result/)(error), String(error));
            assert.doesNotMatch((error as Error).message, /chunks|too small/i);
            return true;
          });
          // A path outside the data folder: the task fails at once, and tasks/result says why.
          const bad = await startTask(owner.client, { path: '../../etc/passwd' });
          assert.equal(bad.status, 'failed');
          const why = await tasks.getTaskResult(bad.taskId, CallToolResultSchema);
          assert.equal(why.isError, true);
          assert.match(textOf(why), /path "..\/..\/etc\/passwd" is outside the data folder/);
          await assert.rejects(
            tasks.cancelTask(bad.taskId),
            rejection(-32602, /Cannot cancel task in terminal status: failed/),
          );

          // get_job_status reads the same record by the tools/call's request id.
          const callId = (owner.sent.find((m) => 'method' in m && m.method === 'tools/call') as { id: number }).id;
          const byId = await owner.client.callTool({ name: 'get_job_status', arguments: { requestId: callId } });
          const byTask = await work(owner.client, task.taskId);
          assert.equal((byId.structuredContent as { requestId: unknown }).requestId, byTask.requestId);

          // The server kept serving: the first task completes.
          await waitFor(
            'the first task to complete',
            async () => (await tasks.getTask(task.taskId)).status === 'completed',
          );
          assert.match(textOf(await tasks.getTaskResult(task.taskId, CallToolResultSchema)), /Processed sample.txt/);
        } finally {
          await owner.close();
          await other.close();
        }
      });
    });

    test('ending the session (DELETE) cancels its unfinished task: the work stops and frees the file', async () => {
      await withServer([], async (server) => {
        const session = await openRawSession(server.url);
        const created = await session.stream({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'process_large_file', arguments: { path: 'sample.txt' }, task: { ttl: 60_000 } },
        });
        await created.done;
        const { taskId } = await server.waitForProof<Proof>('its task', (r) => r.type === 'task');
        const { session: sessionId } = await server.waitForJob(1, (job) => job.chunksDone >= 2);
        if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 1);
        assert.equal((await session.close()).status, 200);
        const closed = await server.waitForJob(1, (job) => job.fileHandle === 'closed', { session: sessionId });
        assert.equal(closed.state, 'cancelled');
        assert.ok(closed.chunksDone < 20, JSON.stringify(closed));
        assert.equal(closed.cancelReason, undefined, 'no tasks/cancel: the server cancelled the task');
        assertProvedInOrder(server.proof(), [
          ['the session ending', (r) => r.type === 'session' && r.session === sessionId && r.state === 'ended'],
          [
            'the server cancelling its task',
            (r) => r.type === 'cancelling-task' && r.taskId === taskId && r.why === 'its session ended',
          ],
          [
            'the work stopping',
            (r) => r.type === 'work-stopped' && r.taskId === taskId && r.reason === 'The session ended.',
          ],
          ['the file closing', jobWhere(1, (job) => job.session === sessionId && job.fileHandle === 'closed')],
        ]);
        if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 0);
      });
    });

    test('on the wire: the task, the cancel, and the rejected second cancel, as plain JSON-RPC', async () => {
      await withServer([], async (server) => {
        const session = await openRawSession(server.url);
        try {
          const reply = async (message: object) => {
            const reading = await session.stream(message as JSONRPCMessage);
            await reading.done;
            return reading.messages.find((m) => 'id' in m) as unknown as WireReply;
          };
          const created = await reply({
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: { name: 'process_large_file', arguments: { path: 'sample.txt' }, task: { ttl: 60_000 } },
          });
          const createdTask = (created.result as { task: Record<string, unknown> }).task;
          const taskId = createdTask.taskId as string;
          // The task as the Postman README shows it.
          assert.deepEqual(Object.keys(createdTask).sort(), [
            'createdAt',
            'lastUpdatedAt',
            'pollInterval',
            'status',
            'taskId',
            'ttl',
          ]);
          assert.equal(createdTask.status, 'working');
          assert.equal(createdTask.ttl, 60_000);
          assert.equal(createdTask.pollInterval, 250);
          const cancel = (id: number) => reply({ jsonrpc: '2.0', id, method: 'tasks/cancel', params: { taskId } });
          assert.equal((await cancel(2)).result?.status, 'cancelled');
          const got = await reply({ jsonrpc: '2.0', id: 5, method: 'tasks/get', params: { taskId } });
          assert.equal(got.result?.status, 'cancelled');
          assert.equal(got.result?.statusMessage, 'Client cancelled task execution.');
          // tasks/get carries the pollInterval too, which the client follows.
          assert.equal(got.result?.pollInterval, 250);
          // The SDK's "MCP error -32602: " prefix is part of the message on the wire.
          assert.deepEqual((await cancel(3)).error, {
            code: -32602,
            message: 'MCP error -32602: Cannot cancel task in terminal status: cancelled',
          });
          const result = await reply({ jsonrpc: '2.0', id: 4, method: 'tasks/result', params: { taskId } });
          assert.deepEqual(result.error, { code: -32603, message: `Task ${taskId} has no result stored` });
        } finally {
          await session.close();
        }
      });
    });

    test('aborting callToolStream (SDK 1.x): no tasks/cancel, but notifications/cancelled for its tools/call and every tasks/get, which the server ignores: the task completes', async () => {
      await withServer([], async (server) => {
        const { client, sent, close } = await connectRecordingClient(server.url);
        try {
          const controller = new AbortController();
          const stream = client.experimental.tasks.callToolStream(
            { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: 10, chunkDelayMs: 150 } },
            CallToolResultSchema,
            { task: { ttl: 60_000 }, signal: controller.signal },
          );
          let taskId: string | undefined;
          const seen: string[] = [];
          for await (const message of stream) {
            seen.push(message.type);
            if (message.type === 'taskCreated') taskId = message.task.taskId;
            // Between two polls: the tools/call and both tasks/get have been answered by now.
            if (message.type === 'taskStatus' && seen.filter((type) => type === 'taskStatus').length === 2)
              controller.abort('the caller gave up');
          }
          assert.ok(taskId);
          assert.deepEqual(seen, ['taskCreated', 'taskStatus', 'taskStatus', 'error']);

          type Sent = JSONRPCMessage & { method: string; id?: number; params?: Record<string, unknown> };
          const messages = sent.filter((m): m is Sent => 'method' in m);
          const idsOf = (method: string) => messages.filter((m) => m.method === method && 'id' in m).map((m) => m.id);
          const [callId] = idsOf('tools/call');
          const getIds = idsOf('tasks/get');
          assert.equal(getIds.length, 2);
          // SDK 1.x polls with the call's own options: each tasks/get carries the call's `task` too.
          for (const get of messages.filter((m) => m.method === 'tasks/get'))
            assert.deepEqual(get.params?.task, { ttl: 60_000 });
          // What the spec forbids for a task-augmented request, for the call and for each (answered) poll...
          assert.deepEqual(
            messages.filter((m) => m.method === 'notifications/cancelled').map((m) => m.params),
            [callId, ...getIds].map((requestId) => ({ requestId, reason: 'the caller gave up' })),
          );
          // ...and not the one it asks for.
          assert.equal(idsOf('tasks/cancel').length, 0);

          // The server ignored them all, while the work still ran...
          const named = (requestId: unknown, matched: string) => (r: Proof) =>
            r.type === 'cancel' && r.requestId === requestId && r.matched === matched;
          const ofCall = await server.waitForProof<Proof>(
            `the cancel of #${callId}`,
            named(callId, 'a tools/call answered with a task'),
          );
          assert.equal(ofCall.taskId, taskId);
          for (const id of getIds) await server.waitForProof(`the cancel of #${id}`, named(id, 'a tasks/get'));
          const during = await work(client, taskId);
          assert.equal(during.state, 'running', 'the cancels arrived while the work ran');
          // ...and it ran to its last chunk; the task completed, with its result.
          const report = await waitFor('the work to finish', async () => {
            const job = await work(client, taskId);
            return job.state !== 'running' && job;
          });
          assert.equal(report.state, 'completed');
          assert.equal(report.chunksDone, 10);
          const tasks = client.experimental.tasks;
          assert.equal((await tasks.getTask(taskId)).status, 'completed');
          assert.match(
            textOf(await tasks.getTaskResult(taskId, CallToolResultSchema)),
            /Processed sample.txt: 10 chunks/,
          );
        } finally {
          await close();
        }
      });
    });
  },
);

// ---------------------------------------------------------------------------------------------
// SDK 2.x (@modelcontextprotocol/server and client 2.4.0): what is left of tasks, in each era.
// One in-process server over real HTTP on 127.0.0.1, built per request by createMcpHandler.

describe(
  'lesson 11 in SDK 2.x: no task runtime in either era; 2026-07-28 ext-tasks by hand',
  { timeout: scaled(30_000) },
  () => {
    type V2 = typeof import('@modelcontextprotocol/server');
    const TASK_EXT = 'io.modelcontextprotocol/tasks';
    const seen: { method?: string; mcpName?: string; hasTask?: boolean }[] = [];
    let url = '';
    let close = async () => {};

    async function start() {
      const { createServer } = await import('node:http');
      const { createMcpExpressApp } = await import('@modelcontextprotocol/express');
      const { toNodeHandler } = await import('@modelcontextprotocol/node');
      const { createMcpHandler, McpServer }: V2 = await import('@modelcontextprotocol/server');
      const { z } = await import('zod');
      const now = () => new Date().toISOString();
      const handler = createMcpHandler(({ era }) => {
        const server = new McpServer(
          { name: 'lesson-11-v2-probe', version: '1.0.0' },
          {
            capabilities: (era === 'modern'
              ? { extensions: { [TASK_EXT]: {} } }
              : { tasks: { cancel: {}, requests: { tools: { call: {} } } } }) as never,
          },
        );
        assert.equal(
          (server as unknown as { experimental?: unknown }).experimental,
          undefined,
          'no server.experimental.tasks in 2.x',
        );
        server.registerTool(
          'as_task',
          { inputSchema: z.object({}), execution: { taskSupport: 'required' } } as never,
          async () =>
            (era === 'modern'
              ? {
                  resultType: 'task',
                  taskId: 't-1',
                  status: 'working',
                  createdAt: now(),
                  lastUpdatedAt: now(),
                  ttlMs: 60_000,
                  pollIntervalMs: 250,
                }
              : {
                  task: {
                    taskId: 't-1',
                    status: 'working',
                    createdAt: now(),
                    lastUpdatedAt: now(),
                    ttl: 60_000,
                    pollInterval: 250,
                  },
                }) as never,
        );
        // The names SEP-2663 reuses: 2.4.0 lets a server register them with its own schemas on 2026-07-28.
        const params = { params: z.object({ taskId: z.string() }) };
        if (era === 'modern') {
          server.server.setRequestHandler('tasks/cancel', params, async () => ({}));
          server.server.setRequestHandler('tasks/get', params, async ({ taskId }) => ({
            taskId,
            status: 'cancelled',
            createdAt: now(),
            lastUpdatedAt: now(),
            ttlMs: 60_000,
          }));
        }
        return server;
      });
      const app = createMcpExpressApp();
      const serve = toNodeHandler(handler);
      app.all('/mcp', (req, res) => {
        const body = req.body as { method?: string; params?: { task?: unknown } } | undefined;
        seen.push({
          method: body?.method,
          mcpName: req.headers['mcp-name'] as string | undefined,
          hasTask: body?.params?.task !== undefined,
        });
        void serve(req, res, req.body);
      });
      const http = createServer(app);
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`;
      close = async () => {
        await handler.close();
        http.close();
        http.closeAllConnections();
      };
    }

    async function connect(mode: 'legacy' | { pin: '2026-07-28' }) {
      const { Client, StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
      const client = new Client({ name: 'lesson-11-v2-probe', version: '1.0.0' }, { versionNegotiation: { mode } });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      return client;
    }

    test('2025-11-25: a 2.x server cannot answer tools/call with a task; params.task is ignored and taskSupport dropped', async (t) => {
      await start();
      t.after(close);
      const client = await connect('legacy');
      t.after(() => client.close());
      assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
      assert.equal(
        (client as unknown as { experimental?: unknown }).experimental,
        undefined,
        'no client.experimental.tasks in 2.x',
      );
      const [tool] = (await client.listTools()).tools;
      assert.equal((tool as { execution?: unknown }).execution, undefined, 'execution.taskSupport is not listed');
      // The request carries params.task; the handler runs as a plain call and its CreateTaskResult is refused.
      const failure = await client.callTool({ name: 'as_task', arguments: {}, task: { ttl: 60_000 } } as never).then(
        () => undefined,
        (error: { code?: number; message: string }) => error,
      );
      assert.ok(
        seen.some((s) => s.method === 'tools/call' && s.hasTask),
        'params.task went out',
      );
      assert.equal(failure?.code, -32602);
      assert.match(failure!.message, /Invalid tools\/call result: .*content is required when the body carries 'task'/s);
      // And the client has no tasks/* API: without a result schema, request() refuses the method name.
      assert.throws(
        () => void client.request({ method: 'tasks/cancel', params: { taskId: 't-1' } } as never),
        /'tasks\/cancel' is not a spec method; pass a result schema/,
      );
    });

    test('2026-07-28: the server passes resultType "task" through, the 2.x Client rejects it (#2637, open in 2.4.0); tasks/cancel and tasks/get work with own schemas and carry Mcp-Name', async (t) => {
      await start();
      t.after(close);
      const client = await connect({ pin: '2026-07-28' });
      t.after(() => client.close());
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.deepEqual(client.getServerCapabilities()?.extensions?.[TASK_EXT], {});
      const rejected = await client.callTool({ name: 'as_task', arguments: {} }).then(
        () => undefined,
        (error: { code?: string; message: string }) => error,
      );
      assert.equal(rejected?.code, 'UNSUPPORTED_RESULT_TYPE'); // upstream #2637: fails the day 2.x accepts a task
      assert.equal(rejected?.message, "Unsupported result type 'task' for tools/call");

      const { z } = await import('zod');
      const ack = await client.request(
        { method: 'tasks/cancel', params: { taskId: 't-1' } } as never,
        z.looseObject({}),
      );
      assert.deepEqual(
        Object.keys(ack).filter((k) => k !== '_meta'),
        [],
      ); // the spec's empty acknowledgement
      const task = await client.request(
        { method: 'tasks/get', params: { taskId: 't-1' } } as never,
        z.looseObject({ status: z.string() }),
      );
      assert.equal(task.status, 'cancelled');
      const sent = seen.filter((s) => s.method?.startsWith('tasks/'));
      assert.deepEqual(
        sent.map((s) => [s.method, s.mcpName]),
        [
          ['tasks/cancel', 't-1'],
          ['tasks/get', 't-1'],
        ],
      );
      assert.ok(!seen.some((s) => s.method === 'notifications/cancelled'), 'nothing sent notifications/cancelled');
    });
  },
);
