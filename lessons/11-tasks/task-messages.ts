// Lesson 11 server: what it notes of the task messages a client sends, before the SDK handles them.
// When tasks/cancel arrives, on the task's job (so get_task_work can say how far the work went after
// it); and a notifications/cancelled that names a task's tools/call or a tasks/get, which cancels
// no task (only tasks/cancel does), is said to stop nothing.
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { noteCancel } from '../01-cancel-by-id/cancellation.ts';
import type { McpSession } from '../shared/mcp-http.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { jobsByTask, short } from './task-jobs.ts';

/** The method of each tasks/* request a session sent, by id, so a cancel naming one can say what it named. */
const taskRequests = new WeakMap<McpSession, Map<RequestId, string>>();

/** Notes when `tasks/cancel` reaches the server, on the task's job, before the SDK handles it. */
export function noteTaskMessages(session: McpSession, message: JSONRPCMessage, log: Timeline) {
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
      prove({ type: 'tasks/cancel', taskId, matched: 'no such task' });
    } else if (job.state === 'running' && !job.cancel) {
      job.cancel = { receivedAt: performance.now(), reason: 'tasks/cancel', chunksDoneThen: job.chunksDone };
      log.highlight(`tasks/cancel for task ${short(taskId)}, after chunk ${job.chunksDone}/${job.chunksTotal}`);
      prove({ type: 'tasks/cancel', taskId, matched: 'running' });
    } else {
      const why = job.cancel ? 'is cancelled already' : `${job.state === 'failed' ? 'failed' : 'completed'} already`;
      log.warn(`tasks/cancel for task ${short(taskId)}, which ${why}: the SDK rejects it`);
      prove({ type: 'tasks/cancel', taskId, matched: why });
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
      prove({ type: 'cancel', requestId: id, matched: 'a tools/call answered with a task', taskId });
      return;
    }
    const method = id === undefined ? undefined : taskRequests.get(session)?.get(id);
    if (method) {
      // SDK 1.x sends these when a callToolStream's signal aborts: one per tasks/get it polled with.
      log.warn(
        `notifications/cancelled for #${JSON.stringify(requestId)}: that was a ${method}, not the task ` +
          '(only tasks/cancel cancels a task): the task is not affected',
      );
      prove({ type: 'cancel', requestId: id, matched: `a ${method}` });
      return;
    }
    noteCancel(session.jobs, message, log);
  }
}
