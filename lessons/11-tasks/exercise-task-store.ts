// Lesson 11 exercise: task-store.ts with its point taken out. This AbortingTaskStore hands each
// task's work a signal, but `tasks/cancel` only marks the task `cancelled`: nothing aborts the
// signal, so the work runs on, and no controller is ever let go. Fix it where the EXERCISE comments
// are, then check it: `npm run learn -- 11` (the README's Exercise says more). The server runs this
// file with `npx tsx lessons/11-tasks/server.ts --task-store lessons/11-tasks/exercise-task-store.ts`.
//
// The SDK's InMemoryTaskStore, plus the one thing `tasks/cancel` needs and SDK 1.x does not do:
// stop the task's work.
//
// SDK 1.x answers `tasks/cancel` itself (shared/protocol.js): it checks the task is not finished,
// calls the store's `updateTaskStatus(taskId, 'cancelled', ...)`, and replies with the cancelled
// task. Nothing reaches the work: a task's work runs after its tools/call has been answered, so no
// `extra.signal` is left to abort. This store gives each task an AbortController, and aborts it
// when the task's status becomes `cancelled`: the work watches `signalFor(taskId)`.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/tasks#task-cancellation
import { InMemoryTaskStore, isTerminal } from '@modelcontextprotocol/sdk/experimental/tasks';
import type { Result, Task } from '@modelcontextprotocol/sdk/types.js';

/** The reason a task's signal aborts with, so the work can tell a tasks/cancel from any other error. */
export class TaskCancelledError extends Error {
  override name = 'TaskCancelledError';
}

export class AbortingTaskStore extends InMemoryTaskStore {
  readonly #controllers = new Map<string, AbortController>();

  /** The signal a task's work must watch: it aborts when the task is cancelled. */
  signalFor(taskId: string): AbortSignal {
    let controller = this.#controllers.get(taskId);
    if (!controller) {
      controller = new AbortController();
      this.#controllers.set(taskId, controller);
    }
    return controller.signal;
  }

  /** How many tasks still have a controller: one per task whose work has not finished. */
  get watchedTasks(): number {
    return this.#controllers.size;
  }

  override async updateTaskStatus(
    taskId: string,
    status: Task['status'],
    statusMessage?: string,
    sessionId?: string,
  ): Promise<void> {
    // The store refuses to leave a terminal status; then nothing changed and nothing is aborted.
    await super.updateTaskStatus(taskId, status, statusMessage, sessionId);
    // EXERCISE 1: tasks/cancel (and a session's end, and a shutdown) land here as status `cancelled`.
    // The task is marked cancelled, and that is all: its work's signal never aborts, so the work
    // reads on to its last chunk. Stop the work when the status becomes `cancelled`.
    // EXERCISE 2: once the status is terminal (isTerminal(status): completed, failed or cancelled),
    // the work is over or being stopped. Let go of its controller.
  }

  override async storeTaskResult(
    taskId: string,
    status: 'completed' | 'failed',
    result: Result,
    sessionId?: string,
  ): Promise<void> {
    await super.storeTaskResult(taskId, status, result, sessionId);
    // EXERCISE 3: a task that completes (or fails) keeps its controller here forever. Let go of it.
  }
}
