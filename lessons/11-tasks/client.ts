// Lesson 11 client: call process_large_file as a task, poll tasks/get, cancel with tasks/cancel,
// ask the server what its work did, then try to cancel again and ask for the result.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/tasks
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isTerminal } from '@modelcontextprotocol/sdk/experimental/tasks';
import { CallToolResultSchema, CreateTaskResultSchema, type Task } from '@modelcontextprotocol/sdk/types.js';
import { watchCallIds } from '../01-cancel-by-id/capture-request-id.ts';
import { connectOrExit } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import * as flags from './client-flags.ts';
import { printWorkReport, settledWork } from './server-report.ts';
import { describeError, wireError } from './what-came-back.ts';
import { judge } from '../01-cancel-by-id/what-came-back.ts';

const { url, cancel, cancelAfterMs, cancelWith, chunks, chunkDelayMs, byTasksCancel, expected } = flags;
const log = createTimeline('client');

const transport = new StreamableHTTPClientTransport(new URL(url));
// The id of the tools/call as it leaves (SDK 1.x has no public API for it; lesson 01 explains).
const callId = watchCallIds(transport, 'process_large_file')();
const client = new Client({ name: 'lesson-11-client', version: '1.0.0' });

log.event(`connecting to ${url}`);
await connectOrExit(client, transport, url, log); // or says plainly that no server answered
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);
log.detail(`server's tasks capability: ${JSON.stringify(client.getServerCapabilities()?.tasks)}`);

// A task-augmented tools/call: `params.task` asks for a task; the answer is the task, not the result.
const startedAt = performance.now();
const { task } = await client.request(
  {
    method: 'tools/call',
    params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
  },
  CreateTaskResultSchema,
  { task: { ttl: 60_000 } },
);
const id = await callId;
const taskId = task.taskId;
prove({ type: 'task', taskId, status: task.status, pollInterval: task.pollInterval });
log.event(
  `-> tools/call #${id} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart) with task { ttl: 60000 }`,
);
log.highlight(
  `<- task ${taskId}: ${task.status}, pollInterval ${task.pollInterval} ms ` +
    `(answered in ${(performance.now() - startedAt).toFixed(0)} ms)`,
);

/**
 * Polls tasks/get every pollInterval (the spec: requestors SHOULD respect it), printing each status
 * once, until the task is terminal or, when `until` is given, that moment has come.
 */
async function poll(until = Infinity): Promise<Task> {
  let last: string | undefined;
  for (;;) {
    const current = await client.experimental.tasks.getTask(taskId);
    if (current.status !== last) {
      log.event(`tasks/get: ${current.status}`);
      prove({ type: 'tasks/get', status: current.status });
    }
    last = current.status;
    const wait = Math.min(current.pollInterval ?? 1000, until - performance.now());
    if (isTerminal(current.status) || wait <= 0) return current;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

async function tryCancel(label: string) {
  try {
    const cancelled = await client.experimental.tasks.cancelTask(taskId);
    log.highlight(`<- ${label}: ${cancelled.status}, "${cancelled.statusMessage}"`);
    prove({ type: 'tasks/cancel', status: cancelled.status, statusMessage: cancelled.statusMessage });
  } catch (error) {
    log.highlight(`<- ${label} rejected: ${describeError(error)}`);
    prove({ type: 'tasks/cancel', error: wireError(error) });
  }
}

async function tryResult() {
  try {
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    const text = result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ');
    log.ok(`<- tasks/result: ${text}`);
    prove({ type: 'tasks/result', text });
  } catch (error) {
    log.highlight(`<- tasks/result: ${describeError(error)}`);
    prove({ type: 'tasks/result', error: wireError(error) });
  }
}

if (cancel) {
  await poll(startedAt + cancelAfterMs);
  if (cancelWith === 'tasks/cancel') {
    log.highlight(`-> tasks/cancel ${taskId} (after ${cancelAfterMs} ms)`);
    await tryCancel('tasks/cancel');
  } else {
    log.highlight(`-> notifications/cancelled { requestId: ${JSON.stringify(id)} } (after ${cancelAfterMs} ms)`);
    log.detail('the tools/call was answered with the task already: there is no request in flight to cancel');
    await client.notification({ method: 'notifications/cancelled', params: { requestId: id, reason: 'by id' } });
    prove({ type: 'sent', method: 'notifications/cancelled', requestId: id });
  }
}
const final = await poll();
if (!byTasksCancel) {
  await tryResult();
  log.event(`-> tasks/cancel ${taskId}, now that it is ${final.status}`);
  await tryCancel('tasks/cancel');
}

// The proof is on the server's side: did the work stop, and is its file closed? With --unwired the
// work runs on, so wait until the server says it has finished one way or the other.
const work = await settledWork(client, taskId, chunks * chunkDelayMs + 10_000);
printWorkReport(work, taskId, log);
const cancelledAfter = work.chunksDoneWhenCancelArrived as number | undefined;

if (byTasksCancel) {
  // Only now that the work has ended: with --unwired it ran to the end and tried to store its
  // result, and the task must still be cancelled, with no result (the spec's third MUST).
  log.event('-> tasks/cancel again');
  await tryCancel('tasks/cancel');
  await tryResult();
}

await transport.terminateSession();
await client.close();
log.detail('session ended (DELETE)');

function outcome(): flags.Outcome {
  if (final.status === 'completed' && work.state === 'completed') return 'completed';
  if (final.status !== 'cancelled') return 'failed';
  const ranOn = (work.chunksDone as number) - (cancelledAfter ?? 0) > 1;
  return work.state === 'cancelled' && !ranOn ? 'stopped' : 'ran-on';
}
judge(outcome(), expected, log);
