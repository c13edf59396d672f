// Waiting for a condition, never for a fixed time.
import { availableParallelism, loadavg } from 'node:os';

/**
 * How much slower than a quiet machine this one runs right now: the load per core (at least 1),
 * times TEST_SLOWDOWN when set (e.g. 3 on a slow CI machine). A deadline is how long to wait before
 * calling a condition failed; passing tests never wait for it, so stretching it costs nothing.
 */
export function slowdown(): number {
  const fromEnv = Number(process.env.TEST_SLOWDOWN);
  const load = Math.min(4, Math.max(1, loadavg()[0]! / availableParallelism()));
  return (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 1) * load;
}

/** `ms` stretched by how loaded the machine is now: for a test's deadlines, never for delays it relies on. */
export const scaled = (ms: number) => Math.round(ms * slowdown());

let stretched = false;
/**
 * From now on, this process's `waitFor` deadlines are `scaled`. Only the test command turns it on
 * (`lessons/shared/test-setup.ts`, run ahead of each test file), in the test files' own processes: a lesson's own
 * deadlines (a shutdown's grace, a client's wait for a reply) mean what they say on any machine.
 */
export function stretchDeadlines() {
  stretched = true;
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false`, and returns that value.
 * Throws a WaitTimeoutError naming `what` when `timeoutMs` passes first (stretched in tests: see stretchDeadlines).
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 10_000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const budget = stretched ? scaled(timeoutMs) : timeoutMs;
  const deadline = Date.now() + budget;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new WaitTimeoutError(`timed out after ${budget} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A promise you can resolve from outside, e.g. when an event fires. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
