// The server's own reasons to stop a handler, beside the SDK's: its client disconnected (with
// --disconnect-means-cancel) or the server is shutting down. What a stopped handler records, and
// what the shutdown waits for.
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { Job } from '../shared/jobs.ts';
import type { McpSession } from '../shared/mcp-http.ts';
import type { Timeline } from '../shared/timeline.ts';

export const DISCONNECTED = 'client disconnected';
export const SHUTTING_DOWN = 'server shutting down';

/**
 * The SDK's own AbortController per request is private, and only a cancel, DELETE or the transport
 * closing aborts it. The server's own reasons to stop a handler (its client disconnected, the
 * server is shutting down) go through a second controller per job; the handler listens to both.
 */
export const stoppers = new WeakMap<Job, AbortController>();
/** Every handler still running, so a shutdown can wait for their `finally` blocks. */
const runningCalls = new Set<Promise<unknown>>();

/** Awaits a handler's work, which counts as running (for the shutdown) until it has settled. */
export async function whileRunning<T>(work: Promise<T>): Promise<T> {
  runningCalls.add(work);
  try {
    return await work;
  } finally {
    runningCalls.delete(work);
  }
}

/** Records that the job stopped early, and why, in its record and on the timeline; returns the why. */
export function recordStop(job: Job, ownSignal: AbortSignal, sdkSignal: AbortSignal, log: Timeline): string {
  job.state = 'cancelled';
  job.stoppedAt = performance.now();
  const why = stopReason(job, ownSignal, sdkSignal);
  job.resources['stopped by'] = why;
  log.highlight(`#${job.requestId} handler stopped after chunk ${job.chunksDone}/${job.chunksTotal} (${why})`);
  return why;
}

/** Why a handler stopped. Only this server's own reasons and a client's cancel name themselves. */
function stopReason(job: Job, ownSignal: AbortSignal, sdkSignal: AbortSignal): string {
  if (ownSignal.aborted) return String(ownSignal.reason);
  if (job.cancel) return `cancelled by the client: "${job.cancel.reason ?? ''}"`;
  // Neither: the session's transport closed (a DELETE). SDK 1.x then aborts every running handler
  // with no reason (protocol.js _onclose: `controller.abort()`), so the signal's reason is the
  // platform's bare AbortError. "the session ended" is this server's reading of that, not the SDK's.
  const reason = sdkSignal.reason as unknown;
  const shown = reason instanceof Error ? `${reason.name} "${reason.message}"` : JSON.stringify(reason);
  return `the session ended; extra.signal.reason: ${shown}`;
}

/**
 * The shared wiring's `onResponseStreamClosed`: fires when a request's HTTP response closes. After
 * its reply that is the normal end; before it, the client went away: it closed its transport or was
 * killed, and its connection closed. With `disconnectMeansCancel`, that stops the handler.
 */
export const disconnectPolicy =
  (disconnectMeansCancel: boolean, log: Timeline) => (session: McpSession, requestId: RequestId) => {
    const job = session.jobs.get(requestId);
    if (!job) return;
    if (job.state !== 'running') {
      if (job.cancel) log.highlight(`#${JSON.stringify(requestId)} response stream closed`);
      return;
    }
    job.resources['response stream'] = 'closed before the reply';
    if (!disconnectMeansCancel) {
      log.warn(`#${JSON.stringify(requestId)} response stream closed before the reply: the handler runs on`);
      return;
    }
    // Opt-in policy: treat the disconnect as a cancel. A client that meant to resume the stream
    // (GET with Last-Event-ID) finds its work gone: that is the trade-off.
    job.cancel = { receivedAt: performance.now(), reason: DISCONNECTED, chunksDoneThen: job.chunksDone };
    log.highlight(`#${JSON.stringify(requestId)} response stream closed before the reply: stopping the handler`);
    stoppers.get(job)?.abort(DISCONNECTED);
  };

/**
 * For shutDownGracefully: `stopAll` stops every running job with the server's own controller, not
 * the SDK's, so the SDK still delivers each handler's answer; `stillBusy` counts the handlers not
 * done yet and the answers not written out yet.
 */
export function stopAtShutdown(sessions: Map<string, McpSession>) {
  const stopped: { session: McpSession; id: RequestId }[] = [];
  // Each stopped handler returned "stopped: server shutting down": wait until the SDK has written
  // it out too, before the streams are closed under it.
  const repliesPending = () =>
    stopped.filter(({ session, id }) => session.responseStreams.get(id)?.closedAt === undefined).length;
  return {
    stopAll() {
      for (const session of sessions.values()) {
        for (const id of session.jobs.ids()) {
          const job = session.jobs.get(id)!;
          if (job.state !== 'running') continue;
          stopped.push({ session, id });
          stoppers.get(job)?.abort(SHUTTING_DOWN);
        }
      }
      return stopped.length;
    },
    stillBusy: () => runningCalls.size + repliesPending(),
  };
}
