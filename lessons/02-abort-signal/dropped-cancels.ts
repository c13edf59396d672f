// The two cancels SDK 1.x drops, and this server's opt-in fixes for them (lesson 02's
// --honour-falsy-ids and --remember-early-cancels):
// - a cancel naming a falsy id (0 or ""), which the SDK skips (`if (!requestId) return` in
//   Protocol._oncancel): each running job gets an AbortController of its own, aborted here;
// - a cancel that arrived before its request (the cancel POST overtook the tools/call POST).
//   Request ids are never reused within a session, so such a cancel names a request not sent
//   yet (or none at all): it is kept a while, and stops that request if it arrives in time.
import { CancelledNotificationSchema, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { noteCancel } from '../01-cancel-by-id/cancellation.ts';
import type { Job, JobBook } from '../shared/jobs.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { honourFalsyIds, rememberEarlyCancelsMs } from './server-flags.ts';

const keyOf = (id: RequestId) => `${typeof id}:${String(id)}`;

/** Per session: the running jobs' own controllers, and the cancels that came before their request. */
class OwnCancels {
  readonly running = new Map<string, AbortController>();
  readonly early = new Map<string, { reason?: string; receivedAt: number }>();
}
const sessions = new WeakMap<JobBook, OwnCancels>();
const ownCancelsOf = (jobs: JobBook) => sessions.get(jobs) ?? sessions.set(jobs, new OwnCancels()).get(jobs)!;

/** The job's own stop: its signal, aborted by the fixes; `release()` once the handler is done. */
export function ownStop(jobs: JobBook, job: Job, log: Timeline): { signal: AbortSignal; release(): void } {
  const own = ownCancelsOf(jobs);
  const key = keyOf(job.requestId);
  const controller = new AbortController();
  own.running.set(key, controller);
  const early = own.early.get(key);
  if (early && rememberEarlyCancelsMs > 0) {
    own.early.delete(key);
    job.cancel = { receivedAt: early.receivedAt, reason: early.reason, chunksDoneThen: 0 };
    log.highlight(`#${JSON.stringify(job.requestId)} was cancelled before it arrived: stopping it now`);
    controller.abort(early.reason);
  }
  return { signal: controller.signal, release: () => own.running.delete(key) };
}

/** Seen before the SDK handles each message: the shared bookkeeping, plus the cancels the SDK would drop. */
export function noteDroppedCancels(jobs: JobBook, message: JSONRPCMessage, log: Timeline) {
  const own = ownCancelsOf(jobs);
  const cancel = CancelledNotificationSchema.safeParse(message);
  if (!cancel.success || cancel.data.params.requestId === undefined) {
    noteCancel(jobs, message, log);
    return;
  }
  const { requestId, reason } = cancel.data.params;
  const key = keyOf(requestId);
  const known = jobs.get(requestId) ?? jobs.getWithOtherType(requestId);
  if (!known && rememberEarlyCancelsMs > 0) {
    // Not seen yet in this session: keep it a short while in case its request is still on the way.
    own.early.set(key, { reason, receivedAt: performance.now() });
    setTimeout(() => own.early.delete(key), rememberEarlyCancelsMs).unref();
    prove({ type: 'cancel', requestId, matched: 'a request not seen yet', rememberedMs: rememberEarlyCancelsMs });
    log.highlight(
      `notifications/cancelled for ${JSON.stringify(requestId)}, a request not seen yet: remembered for ${rememberEarlyCancelsMs} ms`,
    );
    return;
  }
  noteCancel(jobs, message, log);
  const running = own.running.get(key);
  if (!requestId && running) {
    prove({ type: 'falsy-id-cancel', requestId, stoppedByTheServer: honourFalsyIds });
    if (honourFalsyIds) {
      log.highlight(`#${JSON.stringify(requestId)}: SDK 1.x ignores cancels for a falsy id; stopping it ourselves`);
      running.abort(reason);
    } else {
      log.warn(`#${JSON.stringify(requestId)}: SDK 1.x ignores cancels for a falsy id (0 or ""); it runs on`);
    }
  }
}
