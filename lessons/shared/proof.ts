// The proof a lesson process hands its tests, beside the timeline a reader sees: structured records
// (a job's state after every change, a session starting or ending, what a client observed), one
// JSON line each, appended to the file LESSON_PROOF_FILE names. Only a test sets it (processes.ts);
// without it nothing is written. Tests assert on these values rather than on the wording of the
// log, so the log can say things better without breaking them.
import { openSync, writeSync } from 'node:fs';
import type { jobReport } from './jobs.ts';

const file = process.env.LESSON_PROOF_FILE;
/** Opened once, appended to with one write per record: a record is on disk before the next line of code runs. */
const fd = file === undefined ? undefined : openSync(file, 'a');

export type JobRecord = { type: 'job'; session?: string } & ReturnType<typeof jobReport>;
export type ProofRecord =
  | JobRecord
  | { type: 'session'; session: string; state: 'started' | 'expired' | 'ended' }
  | { type: 'stream-closed'; session?: string; requestId: string | number }
  /** A `notifications/cancelled` as the server saw it, and what it named: a job's state, or why it named none. */
  | { type: 'cancel'; session?: string; requestId?: string | number; matched: string }
  | { type: 'outcome'; observed: string; expected?: string; [detail: string]: unknown }
  | { type: string; [field: string]: unknown };

/** True when a test is reading this process's proof. */
export const proving = file !== undefined;

/** Set by the playground, which draws records from several processes on one timeline: stamp each with the wall clock too. */
const stampWallClock = process.env.LESSON_PROOF_WALL_CLOCK === '1';

export function prove(record: ProofRecord): void {
  if (fd === undefined) return;
  const now = performance.now();
  const wall = stampWallClock ? { wall: performance.timeOrigin + now } : {};
  writeSync(fd, `${JSON.stringify({ ...record, at: Math.round(now), ...wall })}\n`);
}

/** A plain object (not an array, a Map, a class instance): one a proxy can stand in for field by field. */
const isPlain = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/**
 * `target`, reporting itself through `onChange` after every write to one of its fields (or to an
 * object field of it, such as a job's `resources`). Returns `target` unchanged when nobody reads the proof.
 */
export function watched<T extends object>(target: T, onChange: () => void): T {
  if (!proving) return target;
  const wrap = <O extends object>(object: O): O =>
    new Proxy(object, {
      set(o, key, value) {
        const ok = Reflect.set(o, key, isPlain(value) ? wrap(value) : value);
        if (typeof value !== 'function') onChange();
        return ok;
      },
    });
  for (const [key, value] of Object.entries(target))
    if (isPlain(value)) (target as Record<string, unknown>)[key] = wrap(value);
  return wrap(target);
}
