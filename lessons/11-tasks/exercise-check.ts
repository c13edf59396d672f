// The check of lesson 11's exercise (`npm run learn -- 11`): the learner's AbortingTaskStore, run by
// the lesson's own server (server.ts --task-store FILE), with the proofs lesson.test.ts makes: the
// work stops within a chunk of tasks/cancel and frees its file, a session's end stops its task's
// work, and the store lets go of each task's controller once the task is over.
import { join } from 'node:path';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { latestJob, moreChunks, runCheck, within, type Exercise, type LessonServer } from '../shared/exercise-kit.ts';
import type { ProofRecord } from '../shared/proof.ts';
import { openRawSession, type RawSession } from '../shared/raw-mcp.ts';
import { canSeeFileDescriptors, openDescriptorsTo } from '../shared/testing.ts';

const root = join(import.meta.dirname, '../..');
const SERVER = join(import.meta.dirname, 'server.ts');
const CHUNKS = 20;
const CHUNK_DELAY_MS = 100;

type Reply = { id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } };
type WorkEnded = { type: 'work-ended'; taskId: string; workRunning: number; watchedTasks?: number };

/** Sends one request and returns its answer, or undefined when none comes within `ms`. */
async function ask(session: RawSession, message: object, ms = 3000): Promise<Reply | undefined> {
  const reading = await session.stream(message as JSONRPCMessage);
  await within(ms, reading.done);
  return reading.messages.find((m) => 'id' in m) as Reply | undefined;
}

const taskCall = (id: number, chunks: number, chunkDelayMs: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {
    name: 'process_large_file',
    arguments: { path: 'sample.txt', chunks, chunkDelayMs },
    task: { ttl: 60_000 },
  },
});

const descriptors = (server: LessonServer) =>
  canSeeFileDescriptors ? openDescriptorsTo(server.child.pid!, '/data/sample.txt') : 0;

export const exercise: Exercise = {
  lesson: '11',
  title: 'A task store whose tasks/cancel stops the work',
  file: 'lessons/11-tasks/exercise-task-store.ts',
  solution: 'lessons/11-tasks/task-store.ts',
  asks:
    "This AbortingTaskStore marks a task `cancelled` and lets its work run on: nothing aborts the work's signal, " +
    'and no controller is ever let go. Make a cancel abort the work, and drop each controller once its task is over.',
  hints: [
    'SDK 1.x answers tasks/cancel itself and calls the store: updateTaskStatus(taskId, "cancelled", statusMessage). ' +
      'A session ending and a shutdown cancel tasks the same way. So that is the one place to abort the signal signalFor handed out.',
    'Abort after `await super.updateTaskStatus(...)`: the store refuses to leave a terminal status (it throws), so a ' +
      'rejected cancel then aborts nothing. Abort with new TaskCancelledError(statusMessage), so the work can tell why it stopped.',
    'Let go of a controller (this.#controllers.delete(taskId)) when the status becomes terminal (isTerminal(status)) ' +
      "and in storeTaskResult: the store should hold one only while a task's work runs.",
  ],
  check: (storeFile) =>
    runCheck(root, async (run) => {
      const server = await run.startServer(SERVER, ['--task-store', storeFile]);
      const session = await openRawSession(server.url);
      run.afterwards(() => session.close());

      // 1. tasks/cancel, on a task whose work reads 20 chunks 100 ms apart.
      const created = await ask(session, taskCall(1, CHUNKS, CHUNK_DELAY_MS));
      const taskId = (created?.result?.task as { taskId?: string } | undefined)?.taskId;
      const started =
        taskId &&
        (await within(
          3000,
          server.waitForJob(1, (job) => job.chunksDone >= 2),
        ));
      run.require(
        'the task is created, and its work runs',
        Boolean(started),
        taskId
          ? 'no record of the work of task #1 reaching chunk 2 within 3 s'
          : `tools/call #1 with a task got ${created ? JSON.stringify(created).slice(0, 300) : 'no answer within 3 s'}`,
      );
      const cancel = await ask(session, { jsonrpc: '2.0', id: 2, method: 'tasks/cancel', params: { taskId } });
      run.require(
        'tasks/cancel is answered: cancelled',
        cancel?.result?.status === 'cancelled',
        `tasks/cancel got ${cancel ? JSON.stringify(cancel).slice(0, 300) : 'no answer within 3 s'}: does updateTaskStatus still call super?`,
      );
      const atCancel = await within(
        1000,
        server.waitForJob(1, (job) => job.chunksDoneWhenCancelArrived !== undefined),
      );
      // Two chunk delays and a margin: work that stops within one chunk has stopped by then.
      const ended = await within(
        CHUNK_DELAY_MS * 2 + 800,
        server.waitForJob(1, (job) => job.state !== 'running'),
      );
      const after = latestJob(server, 1)!.chunksDone - (atCancel?.chunksDoneWhenCancelArrived ?? 0);
      run.expect(
        'the work stops within one chunk of tasks/cancel',
        ended?.state === 'cancelled' && after <= 1,
        !ended
          ? `1 s after tasks/cancel the work is still running: it read ${moreChunks(after)} after the cancel, ` +
              'while tasks/get says cancelled (its signal never aborted)'
          : ended.state === 'cancelled'
            ? `the work read ${moreChunks(after)} after tasks/cancel before it stopped`
            : `the work ended as "${ended.state}", not stopped by tasks/cancel`,
      );
      const closed = await within(
        500,
        server.waitForJob(1, (job) => job.fileHandle === 'closed'),
      );
      const open = descriptors(server);
      run.expect(
        'the file is closed',
        open === 0 && closed !== undefined,
        open > 0
          ? `a descriptor for data/sample.txt is still open after tasks/cancel (${open} in /proc/${server.child.pid}/fd)`
          : `the job record says the file handle is "${latestJob(server, 1)!.fileHandle}"`,
      );
      const stopped = server.proof().find((r: ProofRecord) => r.type === 'work-stopped' && r.taskId === taskId) as
        { reason?: string } | undefined;
      if (stopped)
        run.expect(
          'the work is told why: the status message of tasks/cancel',
          stopped.reason === 'Client cancelled task execution.',
          `the work stopped with no TaskCancelledError as the reason, so it logs "${stopped.reason}": ` +
            'abort with new TaskCancelledError(statusMessage)',
        );
      const got = await ask(session, { jsonrpc: '2.0', id: 3, method: 'tasks/get', params: { taskId } });
      const again = await ask(session, { jsonrpc: '2.0', id: 4, method: 'tasks/cancel', params: { taskId } });
      run.expect(
        'the task stays cancelled, and a second tasks/cancel is rejected with -32602',
        got?.result?.status === 'cancelled' && again?.error?.code === -32602,
        `tasks/get says ${JSON.stringify(got?.result?.status)}; the second tasks/cancel got ` +
          (again ? JSON.stringify(again).slice(0, 200) : 'no answer'),
      );

      // 2. A session's end: the server cancels its unfinished task through the store.
      const other = await openRawSession(server.url);
      run.afterwards(() => other.close());
      await ask(other, taskCall(1, CHUNKS, CHUNK_DELAY_MS));
      const mine = { session: other.sessionId };
      const running = await within(
        3000,
        server.waitForJob(1, (job) => job.chunksDone >= 2, mine),
      );
      if (running) {
        await other.close();
        const gone = await within(
          CHUNK_DELAY_MS * 2 + 800,
          server.waitForJob(1, (job) => job.state !== 'running' && job.fileHandle === 'closed', mine),
        );
        const last = server
          .proof()
          .filter((r) => r.type === 'job' && r.requestId === 1 && r.session === other.sessionId)
          .at(-1) as { chunksDone: number; state: string };
        run.expect(
          "ending the session (DELETE) stops its task's work and closes its file",
          gone?.state === 'cancelled',
          gone
            ? `the work ended as "${gone.state}" after the session ended, at chunk ${gone.chunksDone}/${CHUNKS}`
            : `1 s after the session ended its task's work is still running, at chunk ${last.chunksDone}/${CHUNKS}: ` +
                'the server cancels it through the store (updateTaskStatus), which aborts nothing',
        );
      } else run.expect("ending the session (DELETE) stops its task's work", false, 'its task never reached chunk 2');

      // 3. A task that completes, and what the store still holds once its work is over.
      const from = server.proof().length;
      const quick = await ask(session, taskCall(5, 2, 0));
      const quickId = (quick?.result?.task as { taskId?: string } | undefined)?.taskId;
      const done = await within(
        3000,
        server.waitForProof<WorkEnded>('the quick task to end', (r) => r.type === 'work-ended' && r.taskId === quickId),
      );
      const result = await ask(session, { jsonrpc: '2.0', id: 6, method: 'tasks/result', params: { taskId: quickId } });
      run.expect(
        'a task that is not cancelled still completes, with its result',
        JSON.stringify(result?.result ?? '').includes('Processed sample.txt'),
        `tasks/result of a 2-chunk task got ${result ? JSON.stringify(result).slice(0, 300) : 'no answer'}`,
      );
      const ends = server
        .proof()
        .slice(from)
        .filter((r): r is WorkEnded => r.type === 'work-ended');
      const held = ends.find((r) => (r.watchedTasks ?? 0) > r.workRunning) ?? done;
      run.expect(
        'the store lets go of a controller once its task is over',
        done !== undefined && ends.every((r) => (r.watchedTasks ?? 0) <= r.workRunning),
        held
          ? `when a task's work ended the store still held ${held.watchedTasks} controllers while ` +
              `${held.workRunning === 0 ? "no task's work was" : held.workRunning === 1 ? "1 task's work was" : `${held.workRunning} tasks' work were`} running: ` +
              'each cancelled or finished task keeps its controller (and its signal) forever'
          : 'the 2-chunk task never ended',
      );
    }),
};
