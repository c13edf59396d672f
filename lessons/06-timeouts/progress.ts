// Lesson 06's progress: the client that waits for a deadline hears how far the job got.
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Timeline } from '../shared/timeline.ts';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * Sends notifications/progress for this request when the client asked for it (a progressToken in
 * `_meta`; the SDK client adds one when you pass `onprogress`), at most one per `progressEveryMs`:
 * the spec asks senders to rate-limit progress. `sent` counts them. Progress is best effort: a
 * notification that cannot be delivered is logged, and the job goes on.
 */
export function progressReporter(extra: Extra, total: number, progressEveryMs: number, log: Timeline) {
  const progressToken = extra._meta?.progressToken;
  let lastSentAt = performance.now();
  let sent = 0;
  return {
    get sent() {
      return sent;
    },
    async report(progress: number) {
      if (progressToken === undefined || performance.now() - lastSentAt < progressEveryMs) return;
      lastSentAt = performance.now();
      sent++;
      const message = `${progress} of ${total} chunks`;
      await extra
        .sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total, message } })
        .catch((error: Error) => log.warn(`#${extra.requestId} progress not delivered: ${error.message}`));
    },
  };
}
