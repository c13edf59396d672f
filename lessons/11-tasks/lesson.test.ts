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
import {
  canSeeFileDescriptors,
  connectRecordingClient,
  lineIndex,
  assertInOrder,
  openDescriptorsTo,
  textOf,
  type RecordingClient,
} from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';
import { AbortingTaskStore, TaskCancelledError } from './task-store.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const README = join(import.meta.dirname, 'README.md');

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

/** The number after `label` in the client line matching `pattern`. */
function numberIn(lines: string[], pattern: RegExp): number[] {
  const match = lines[lineIndex(lines, pattern)]!.match(pattern)!;
  return match.slice(1).map(Number);
}

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
        await client.waitForLine(/<- task [0-9a-f]{32}: working/);
        if (canSeeFileDescriptors) await waitFor('the work to open the file', () => fileDescriptorsOpen(server) === 1);

        assert.equal(await client.exited, 0, client.output());
        const out = client.lines;
        assertInOrder(out, [
          /tasks\/get: working/,
          /-> tasks\/cancel [0-9a-f]{32} \(after 1200 ms\)/,
          /<- tasks\/cancel: cancelled, "Client cancelled task execution\."/,
          /tasks\/get: cancelled/,
          /server reports task [0-9a-f]{8}: work stopped after chunk/,
          /-> tasks\/cancel again/,
          /<- tasks\/cancel rejected: error -32602 "MCP error -32602: Cannot cancel task in terminal status: cancelled"/,
          /<- tasks\/result: error -32603 "Task [0-9a-f]{32} has no result stored"/,
          /observed: stopped, as expected/,
        ]);
        const [done, total, atCancel] = numberIn(
          out,
          /work stopped after chunk (\d+)\/(\d+) \(tasks\/cancel arrived after chunk (\d+);/,
        );
        assert.ok(done! < total!, 'stopped before the last chunk');
        assert.ok(done! - atCancel! <= 1, `stopped within one chunk of the cancel: ${done} vs ${atCancel}`);
        lineIndex(out, /file handle closed; nothing: the task was cancelled/);
        if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 0);

        assertInOrder(server.lines, [
          /tasks\/cancel for task [0-9a-f]{8}, after chunk \d+\/20/,
          /task [0-9a-f]{8} work stopped after chunk \d+\/20 \([\d.]+ ms after tasks\/cancel\)/,
          /task [0-9a-f]{8} file handle closed/,
          /tasks\/cancel for task [0-9a-f]{8}, which is cancelled already: the SDK rejects it/,
        ]);
        // No chunk after the one the work stopped at.
        const stopped = lineIndex(server.lines, /work stopped after chunk/);
        assert.equal(
          server.lines.slice(stopped).some((line) => /task \S+ chunk \d+\/20$/.test(line)),
          false,
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
      const out = client.lines;
      // The client sees exactly what it sees against the wired server, even once the work has run
      // to the end and tried to store its result: the task stays cancelled, with no result.
      assertInOrder(out, [
        /<- tasks\/cancel: cancelled/,
        /tasks\/get: cancelled/,
        /server reports task [0-9a-f]{8}: work completed at chunk 20\/20/,
        /<- tasks\/cancel rejected: error -32602 "MCP error -32602: Cannot cancel task in terminal status: cancelled"/,
        /<- tasks\/result: error -32603 "Task [0-9a-f]{32} has no result stored"/,
      ]);
      // ...while the server's work went on.
      const [done, total, atCancel] = numberIn(
        out,
        /work completed at chunk (\d+)\/(\d+), although tasks\/cancel arrived after chunk (\d+)/,
      );
      assert.equal(done, total);
      assert.ok(atCancel! < total! - 1, `the cancel came early enough to matter: after chunk ${atCancel}`);
      lineIndex(
        out,
        /the store refused the result: Cannot store result for task [0-9a-f]{32} in terminal status 'cancelled'/,
      );
      lineIndex(out, /observed: ran-on, as expected/);

      const log = server.lines;
      const cancelAt = lineIndex(log, /tasks\/cancel for task \S+, after chunk/);
      const chunksAfter = log.slice(cancelAt).filter((line) => /task \S+ chunk \d+\/20$/.test(line)).length;
      assert.equal(chunksAfter, 20 - atCancel!, log.join('\n'));
      const to = lineIndex(log, /work ran to chunk 20\/20 after tasks\/cancel/, cancelAt) + 1;
      checkReadmePair(
        README,
        [
          ['server, --unwired', log.slice(cancelAt, to + 1)],
          ['client, --unwired', out.slice(lineIndex(out, /server reports task/))],
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
      assertInOrder(client.lines, [
        /<- task [0-9a-f]{32}: working, pollInterval 50 ms/,
        /tasks\/get: working/,
        /tasks\/get: completed/,
        /<- tasks\/result: Processed sample.txt: 4 chunks, sha256 [0-9a-f]{64}/,
        /<- tasks\/cancel rejected: error -32602 "MCP error -32602: Cannot cancel task in terminal status: completed"/,
        /work completed at chunk 4\/4/,
        /file handle closed; result stored \(completed\)/,
        /observed: completed, as expected/,
      ]);
    });
  });

  test('notifications/cancelled naming the tools/call id stops nothing: the task completes', async () => {
    await withServer([], async (server) => {
      const client = startTs(CLIENT, [
        ...['--url', server.url, '--cancel-with', 'notification', '--chunks', '8', '--chunk-delay', '100'],
        ...['--cancel-after', '300'],
      ]);
      assert.equal(await client.exited, 0, client.output());
      const sent = lineIndex(client.lines, /-> notifications\/cancelled \{ requestId: 1 \}/);
      lineIndex(client.lines, /tasks\/get: working/, sent); // still working after it
      assertInOrder(client.lines, [
        /tasks\/get: completed/,
        /<- tasks\/result: Processed sample.txt: 8 chunks/,
        /observed: completed, as expected/,
      ]);
      const log = server.lines;
      const at = lineIndex(log, /notifications\/cancelled for #1: that request already returned task/);
      lineIndex(log, /chunk 8\/8$/, at);
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
      lineIndex(client.lines, /observed: ran-on, expected: stopped/);
    });
  });
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
        await server.waitForLine(/task \S+ chunk 2\/20$/);
        if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 1);
        assert.equal((await session.close()).status, 200);
        await server.waitForLine(/task \S+: its session ended, cancelling it/);
        await server.waitForLine(/task \S+ work stopped after chunk \d+\/20 \(its session ended\)$/);
        await server.waitForLine(/task \S+ file handle closed/);
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
          await server.waitForLine(
            new RegExp(`notifications/cancelled for #${callId}: that request already returned task`),
          );
          for (const id of getIds)
            await server.waitForLine(
              new RegExp(`notifications/cancelled for #${id}: that was a tasks/get, not the task`),
            );
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
