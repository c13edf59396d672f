// The check of lesson 07's exercise (`npm run learn -- 07`): the learner's flood_progress, served by
// flood-server.ts, with the proofs lesson.test.ts makes of the yielding flood, said in plain words:
// from the call's own stream (read with plain fetch) and the server's records, the server reads a
// cancel sent mid-flood, and no progress follows it.
import { join } from 'node:path';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { latestJob, runCheck, within, type Exercise } from '../shared/exercise-kit.ts';
import type { JobRecord, ProofRecord } from '../shared/proof.ts';
import { openRawSession, type SseReading } from '../shared/raw-mcp.ts';
import { scaled } from '../shared/wait.ts';

const root = join(import.meta.dirname, '../..');
const NOTIFICATIONS = 10_000;

type CancelRecord = ProofRecord & { type: 'cancel'; matched: string; at: number };
const progressCount = (messages: JSONRPCMessage[]) =>
  messages.filter((m) => 'method' in m && m.method === 'notifications/progress').length;
const flood = (id: number, notifications: number) =>
  ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: 'flood_progress',
      arguments: { notifications, yieldEveryNotification: true },
      _meta: { progressToken: id },
    },
  }) as JSONRPCMessage;

export const exercise: Exercise = {
  lesson: '07',
  title: 'A progress flood that hears its cancel',
  file: 'lessons/07-progress/exercise-flood.ts',
  solution: 'lessons/07-progress/flood.ts',
  asks:
    'flood_progress checks its signal before every send, yet a cancel sent mid-flood is read only after the ' +
    'last notification: the progress goes on after the cancel. Make the yielding loop (the default) let the cancel in.',
  hints: [
    "extra.sendNotification completes at once, and `await` on a settled promise resumes in a microtask, before Node reads any socket: the cancel's POST waits, unread, until the loop ends.",
    'Give the event loop a turn after each send when yieldEveryNotification is true: `await setImmediate()` from node:timers/promises (imported here as yieldToEventLoop). Then the cancel is read between two sends, extra.signal aborts, and the check at the top of the loop stops it.',
  ],
  check: (floodFile) =>
    runCheck(root, async (run) => {
      const server = await run.startServer(join(root, 'lessons/07-progress/flood-server.ts'), ['--flood', floodFile]);
      const session = await openRawSession(server.url);
      run.afterwards(() => session.close());

      // Not awaited: a starved server cannot even send the response headers until its loop ends.
      let reading: SseReading | undefined;
      let streamFailed: string | undefined;
      const streaming = session.stream(flood(1, NOTIFICATIONS)).then(
        (r) => (reading = r),
        (error: unknown) => void (streamFailed = String((error as Error).cause ?? error)),
      );
      const running = await within(
        scaled(5000),
        server.waitForJob(1, (job) => job.tool === 'flood_progress' && job.chunksDone >= 200),
      );
      run.require(
        'the flood runs',
        running !== undefined,
        'no record of flood_progress #1 sending 200 notifications within 5 s (keep jobs.start and job.chunksDone: the check reads them)',
      );
      const seenBeforeCancel = reading ? progressCount(reading.messages) : 0;
      const cancelled = session
        .post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'check' } })
        .catch(() => undefined); // a starved server may answer late, or not at all: its records say what it read
      const cancelRead = await within(
        10_000,
        server.waitForProof<CancelRecord>('the cancel', (r) => r.type === 'cancel' && r.requestId === 1, 10_000),
      );
      run.require(
        'the server reads the cancel',
        cancelRead !== undefined,
        'the cancel for #1 never reached the server records, 10 s after it was sent',
      );
      await within(
        5000,
        server.waitForJob(1, (job) => job.state !== 'running'),
      );
      await within(5000, cancelled);
      await within(
        5000,
        streaming.then((r) => r?.done),
      );
      const job = latestJob(server, 1)!;
      const onWire = reading ? progressCount(reading.messages) : 0;

      // The job's record as the cancel arrived, and when it completed, if it did first.
      const records = server.proof();
      const completedAt = (
        records.find((r) => r.type === 'job' && r.requestId === 1 && r.state === 'completed') as
          (JobRecord & { at: number }) | undefined
      )?.at;
      const atCancel = cancelRead!.matched === 'running' ? job.chunksDoneWhenCancelArrived : undefined;
      const after = atCancel === undefined ? undefined : onWire - atCancel;
      run.expect(
        'the cancel is read mid-flood, and no progress follows it',
        after !== undefined && after <= 0 && job.chunksDone === onWire,
        cancelRead!.matched !== 'running'
          ? `the server read the cancel only after its loop had sent all ${job.chunksDone} progress notifications` +
              (completedAt === undefined ? '' : `, ${cancelRead!.at - completedAt} ms after the job had completed`) +
              (streamFailed
                ? ` (and the stream of #1 failed: ${streamFailed})`
                : `: ${onWire - seenBeforeCancel} of them reached the stream after the cancel had left`)
          : after !== undefined && after > 0
            ? `the stream of #1 carried ${after} progress notification${after === 1 ? '' : 's'} after the server had read the cancel (at ${atCancel} sent)`
            : `the server records ${job.chunksDone} sent, the stream of #1 carried ${onWire}`,
      );

      const last = reading?.messages.at(-1) as { id?: unknown; error?: { code: number }; result?: unknown } | undefined;
      run.expect(
        'the cancelled flood answers -32800, last on its stream',
        reading?.ended === true && last?.id === 1 && last.error?.code === -32800,
        streamFailed
          ? `the stream of #1 failed: ${streamFailed}`
          : !reading?.ended
            ? 'the stream of #1 is still open 5 s after the cancel'
            : last?.result
              ? `the stream of #1 ended with the result "${JSON.stringify(last.result).slice(0, 120)}": the flood completed`
              : `the last message on the stream of #1 is ${JSON.stringify(last).slice(0, 200)}`,
      );

      const whole = await session.stream(flood(2, 300));
      await within(5000, whole.done);
      const final = whole.messages.at(-1) as { id?: unknown; result?: unknown } | undefined;
      run.expect(
        'a flood nobody cancels sends every notification, then its result',
        progressCount(whole.messages) === 300 && final?.id === 2 && final.result !== undefined,
        `a flood of 300 nobody cancelled carried ${progressCount(whole.messages)} progress notifications, then ${JSON.stringify(final).slice(0, 200)}`,
      );
    }),
};
