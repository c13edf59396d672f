// What a lesson server does with a cancel: taught here in lesson 01, and imported from here by
// every later lesson server that answers a cancel the same way.
//
// - `noteCancel` sees each `notifications/cancelled` before the SDK acts on it, records when it
//   arrived on the job it names (so the job can report cancel-to-stop), and says plainly when it
//   names no running request.
// - `answerCancelled` sends the cancelled request's final message itself, once the handler has
//   stopped. SDK 1.x sends nothing for a cancelled request and so keeps its SSE stream, socket and
//   keep-alive timer until the session ends; a final message for that id lets it release them.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CancelledNotificationSchema, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { Job, JobBook } from '../shared/jobs.ts';
import { prove } from '../shared/proof.ts';
import { preview, type Timeline } from '../shared/timeline.ts';

/** What the answers below need of a server transport: `send`. SDK 2.x's NodeStreamableHTTPServerTransport has it too. */
type MessageSender = Pick<StreamableHTTPServerTransport, 'send'>;

/**
 * Why a handler's signal fired when no cancel did: the server's own reason (its shutdown names
 * itself), else its session ended (SDK 1.x then aborts with no reason: protocol.js `controller.abort()`).
 */
export const stopReason = (signal: AbortSignal): string =>
  typeof signal.reason === 'string' ? signal.reason : 'the session ended';

/** LSP's RequestCancelled. Not an MCP error code: the MCP schema defines none for cancellation. */
export const REQUEST_CANCELLED = -32800;

/** Records a `notifications/cancelled` on the job it names, and logs what it matched. Other messages pass by. */
export function noteCancel(jobs: JobBook | undefined, message: JSONRPCMessage, log: Timeline): void {
  if (!('method' in message) || message.method !== 'notifications/cancelled') return;
  const parsed = CancelledNotificationSchema.safeParse(message);
  if (!parsed.success) {
    // The SDK parses it with the same schema and drops it: even a valid requestId beside, say, a
    // reason that is not a string cancels nothing.
    const what = message.params === undefined ? 'without params' : `with invalid params ${preview(message.params)}`;
    log.warn(`notifications/cancelled ${what}: the SDK drops it, so it cancels nothing`);
    return prove({ type: 'cancel', session: jobs?.session(), matched: 'invalid params' });
  }
  const { requestId, reason } = parsed.data.params;
  // The SDK's schema lets requestId be left out (tasks are cancelled with tasks/cancel instead), but
  // a cancellation notification must name the request it cancels.
  if (requestId === undefined) {
    log.warn('notifications/cancelled without a requestId: names no request, ignored');
    return prove({ type: 'cancel', session: jobs?.session(), matched: 'no requestId' });
  }
  const job = jobs?.get(requestId);
  const shownId = preview(requestId);
  const other = job ? undefined : jobs?.getWithOtherType(requestId);
  prove({
    type: 'cancel',
    session: jobs?.session(),
    requestId,
    matched: !job
      ? other
        ? 'an id of the other JSON type'
        : 'nothing'
      : job.state === 'running' && job.cancel
        ? 'a job already stopping'
        : job.state,
  });
  if (job?.state === 'running' && job.cancel) {
    // The handler's signal is already aborted, and aborting again does nothing: keep the first record.
    log.warn(`notifications/cancelled for #${shownId} again: already stopping, ignored`);
  } else if (job?.state === 'running') {
    job.cancel = { receivedAt: performance.now(), reason, chunksDoneThen: job.chunksDone };
    log.highlight(`notifications/cancelled for #${shownId} (reason: ${preview(reason ?? '')})`);
  } else if (job) {
    log.warn(`notifications/cancelled for #${shownId}, which already ${job.state}: nothing to cancel, ignored`);
  } else {
    log.warn(
      other
        ? `notifications/cancelled for ${shownId} matches no request: the running one's id is ` +
            `${JSON.stringify(other.requestId)}, and ids must match in JSON type. Ignored.`
        : `notifications/cancelled for ${shownId} matches no request in this session: ignored`,
    );
  }
}

/**
 * The answer to a cancel, as the server's --on-cancel says. The SDK sends nothing for a cancelled
 * request, and SDK 1.x keeps that request's SSE stream open until it gets a final message; so the
 * handler writes one itself, once it has stopped: error -32800 (`answerCancelled`, as the later
 * lessons answer), a clean-cancel result (the tool's own `status: "cancelled"`), or nothing.
 */
export async function replyToCancelled(
  transport: MessageSender,
  job: Job,
  toolResult: Record<string, unknown>,
  policy: 'error' | 'result' | 'none',
  log: Timeline,
): Promise<void> {
  const id = job.requestId;
  if (policy === 'error') return answerCancelled(transport, job, log);
  if (policy === 'result') {
    log.highlight(`#${id} replying: "Cancelled after ${job.chunksDone} of ${job.chunksTotal} chunks" (policy: result)`);
    return sendFinalMessage(transport, job, { result: toolResult }, 'clean-cancel result', log);
  }
  log.highlight(`#${id} replying: nothing (policy: none); the SDK keeps this request's SSE stream open`);
  job.reply = 'nothing';
}

/** For serveMcp's `onResponseStreamClosed`: says when a cancelled request's response stream closed. */
export const logStreamEnded =
  (log: Timeline) =>
  (session: { jobs: JobBook }, requestId: RequestId): void => {
    if (session.jobs.get(requestId)?.state === 'cancelled')
      log.highlight(`#${preview(requestId)} response stream closed`);
  };

/**
 * Answers a cancelled request with error -32800 "Request cancelled" (its `data` says how far the job
 * got), which releases the request's response stream in SDK 1.x. Call it after the handler stopped.
 * A client that already gave up on the request ignores the answer, as the spec asks.
 */
export async function answerCancelled(
  transport: MessageSender,
  job: Job,
  log: Timeline,
  data: Record<string, unknown> = {},
): Promise<void> {
  log.highlight(`#${job.requestId} replying: error ${REQUEST_CANCELLED} "Request cancelled"`);
  const error = {
    code: REQUEST_CANCELLED,
    message: 'Request cancelled',
    data: { reason: job.cancel?.reason, chunksDone: job.chunksDone, chunksTotal: job.chunksTotal, ...data },
  };
  await sendFinalMessage(transport, job, { error }, `error ${REQUEST_CANCELLED}`, log);
}

/**
 * Writes the final message for the job's request to the transport itself, and records `reply` as
 * what was sent. If the client is already gone there is nobody left to answer: that is recorded too.
 */
export async function sendFinalMessage(
  transport: MessageSender,
  job: Job,
  message: { result: Record<string, unknown> } | { error: { code: number; message: string; data?: unknown } },
  reply: string,
  log: Timeline,
): Promise<void> {
  try {
    await transport.send({ jsonrpc: '2.0', id: job.requestId, ...message } as JSONRPCMessage);
    job.reply = reply;
  } catch (error) {
    job.reply = `nothing (send failed: ${(error as Error).message})`;
    log.warn(`#${job.requestId} could not send the reply: ${(error as Error).message}`);
  }
}

/**
 * For a handler that ignored its signal and finished its work after all: SDK 1.x drops the result
 * of a cancelled request, and the handler sends none itself, so the request's stream stays open.
 */
export function resultDropped(job: Job, log: Timeline): void {
  job.reply = 'nothing (the SDK dropped the result: the request had been cancelled)';
  log.warn(`#${job.requestId} ran to the end despite the cancel; the SDK drops its result`);
}

/**
 * For a handler whose work is done: if its request was aborted between its last step and its
 * return (a cancel, a shutdown, its session ending), SDK 1.x drops whatever it returns (protocol.js:
 * `if (abortController.signal.aborted) return`), so nothing would ever end the request's stream. This
 * sends the result through the transport instead (the work is done; a client that cancelled
 * ignores a late reply) and returns true; when the request was not cancelled it returns false.
 */
export async function sendResultAfterLateCancel(
  transport: MessageSender,
  extra: { signal: AbortSignal; requestId: RequestId },
  job: Job,
  result: Record<string, unknown>,
  log: Timeline,
): Promise<boolean> {
  if (!extra.signal.aborted) return false;
  const id = preview(extra.requestId);
  log.warn(`#${id} finished its work as its request was aborted: sending the result itself (SDK 1.x would drop it)`);
  try {
    await transport.send({ jsonrpc: '2.0', id: extra.requestId, result });
    job.reply = 'result (sent by the handler: the cancel came after the work was done)';
  } catch (error) {
    job.reply = `nothing (send failed: ${(error as Error).message})`; // the session ended meanwhile
  }
  return true;
}
