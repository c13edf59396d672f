// --naive: the stock way to stream a tool's output, kept to show what it costs against a slow reader.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { logMessage } from './live-view.ts';

/**
 * The stock way: every batch goes out the moment it is made. `sendNotification` resolves as soon as
 * the SDK has queued the event, whether or not the client reads, so nothing here ever waits for the
 * reader. Yielding a turn per batch only keeps the event loop (and so cancels) moving.
 */
export async function sendAtOnce(
  send: (notification: ReturnType<typeof logMessage>) => Promise<void>,
  batch: string[],
  linesDone: number,
  total: number,
  progressToken: string | number | undefined,
) {
  await send(logMessage(batch));
  if (progressToken !== undefined) {
    await send({ method: 'notifications/progress', params: { progressToken, progress: linesDone, total } });
  }
  await nextTurn();
}
