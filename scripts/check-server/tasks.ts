// A tool that runs only as a task (execution.taskSupport 'required', 2025-11-25 tasks): it is
// cancelled with tasks/cancel, never with notifications/cancelled. The task's status can be seen;
// whether its work stopped cannot (lesson 11 shows work that runs on behind a task marked cancelled).
import { setTimeout as sleep } from 'node:timers/promises';
import { RULES } from './findings.ts';
import { ms, type Add, type CheckOptions } from './scenarios.ts';
import { answer, now, type Session } from './wire.ts';

type Reply = {
  result?: { task?: { taskId: string; status: string }; taskId?: string; status?: string };
  error?: { code: number; message: string };
};

export async function checkTasks(o: CheckOptions, session: Session, add: Add) {
  const T = 'tasks';
  const request = async (id: string, method: string, params: Record<string, unknown>) =>
    (await answer(session.post({ jsonrpc: '2.0', id, method, params }), id)) as Reply | undefined;
  const created = await request('check-task', 'tools/call', { name: o.tool, arguments: o.args, task: { ttl: 60_000 } });
  const taskId = created?.result?.task?.taskId;
  if (!taskId) {
    add(
      T,
      'the task is created',
      'not observable',
      `tools/call with params.task got ${JSON.stringify(created).slice(0, 200)}`,
      RULES.taskCancelled,
    );
    return;
  }
  await sleep(o.cancelAfterMs);
  const cancelledAt = now();
  const cancelled = await request('check-task-cancel', 'tasks/cancel', { taskId });
  const status = cancelled?.result?.status;
  add(
    T,
    'tasks/cancel answers with the task cancelled',
    status === 'cancelled' ? 'pass' : 'fail',
    cancelled?.error
      ? `error ${cancelled.error.code} "${cancelled.error.message}"`
      : `status ${status}, ${ms(now() - cancelledAt)} after the request`,
    RULES.taskCancelled,
  );
  await sleep(o.watchMs);
  const later = await request('check-task-get', 'tasks/get', { taskId });
  add(
    T,
    'tasks/get still says cancelled later',
    later?.result?.status === 'cancelled' ? 'pass' : 'fail',
    `${ms(o.watchMs)} later, tasks/get says ${later?.result?.status ?? JSON.stringify(later?.error)}`,
    RULES.taskStaysCancelled,
  );
  const again = await request('check-task-cancel-2', 'tasks/cancel', { taskId });
  add(
    T,
    'a second tasks/cancel is rejected with -32602',
    again?.error?.code === -32602 ? 'pass' : 'fail',
    again?.error
      ? `error ${again.error.code} "${again.error.message}"`
      : `answered ${JSON.stringify(again?.result).slice(0, 120)}`,
    RULES.taskTerminal,
  );
  add(
    T,
    "the task's work stops",
    'not observable',
    'tasks/get says cancelled whether or not the work stopped, and the work sends nothing a client can see',
    RULES.taskStop,
  );
}
