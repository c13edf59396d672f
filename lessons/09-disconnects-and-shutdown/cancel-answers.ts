// The --on-cancel answers that send no reply, once a cancelled handler has stopped: close the
// request's response stream without a message, or leave it open as SDK 1.x does by itself (the
// leak section 3 of the README counts). The default answer, -32800, is answerCancelled (lesson 01).
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Job } from '../shared/jobs.ts';
import type { Timeline } from '../shared/timeline.ts';
import type { CancelAnswer } from './server-flags.ts';

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Sends nothing for the cancelled request; `way` says what becomes of its response stream. */
export function closeOrLeaveStream(
  way: Exclude<CancelAnswer, 'error'>,
  transport: StreamableHTTPServerTransport,
  job: Job,
  extra: Extra,
  log: Timeline,
) {
  if (way === 'close-stream') {
    transport.closeSSEStream(job.requestId);
    job.reply = 'nothing (stream closed with transport.closeSSEStream)';
    log.highlight(`#${job.requestId} transport.closeSSEStream(${JSON.stringify(job.requestId)}): stream closed`);
  } else if (way === 'extra-close-stream') {
    // Defined only when the transport has an event store (and the client speaks 2025-11-25 or later).
    const close = extra.closeSSEStream;
    close?.();
    job.reply = `nothing (extra.closeSSEStream is ${close ? 'a function: called' : 'undefined: nothing closed'})`;
    log.highlight(`#${job.requestId} extra.closeSSEStream is ${close ? 'a function: called' : 'undefined'}`);
  } else {
    job.reply = 'nothing';
    log.highlight(`#${job.requestId} replying: nothing (SDK 1.x keeps this request's stream open)`);
  }
}
