// The check of lesson 01's exercise (`npm run learn -- 01`): the same proofs lesson.test.ts makes,
// on the learner's server, said in plain words.
import { join } from 'node:path';
import { canSeeFileDescriptors, openDescriptorsTo } from '../shared/testing.ts';
import { moreChunks, latestJob, runCheck, within, type Exercise } from '../shared/exercise-kit.ts';
import { openRawSession } from '../shared/raw-mcp.ts';

const root = join(import.meta.dirname, '../..');
const CHUNKS = 20;
const CHUNK_DELAY_MS = 100;

export const exercise: Exercise = {
  lesson: '01',
  title: 'Stop within a chunk, free the file, answer the cancel',
  file: 'lessons/01-cancel-by-id/exercise-server.ts',
  solution: 'lessons/01-cancel-by-id/server.ts',
  asks:
    'process_large_file ignores a cancel, keeps its file open until its loop ends, and answers no cancelled ' +
    'request. Make it stop within one chunk of a cancel, close the file on every way out, and answer.',
  hints: [
    'The cancel reaches the handler as extra.signal. `sleep` from node:timers/promises takes { signal } and rejects the moment it fires.',
    'That rejection leaves the loop as an error. Catch it: when extra.signal.aborted, it is a stop, not a failure (job.stopped(stopReason(extra.signal))); otherwise rethrow it.',
    'Code in `finally` runs on every way out (completed, cancelled, failed): close the file handle there, and call job.fileClosed().',
    'After a cancel SDK 1.x drops what the handler returns, so nobody is answered and the response stream stays open. replyToCancelled(transport, job, toolResult, policy, log) from ./cancellation.ts writes the answer itself.',
  ],
  check: (serverFile) =>
    runCheck(root, async (run) => {
      const server = await run.startServer(serverFile);
      const session = await openRawSession(server.url);
      run.afterwards(() => session.close());
      const call = { path: 'sample.txt', chunks: CHUNKS, chunkDelayMs: CHUNK_DELAY_MS };
      const reading = await session.stream({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'process_large_file', arguments: call },
      });
      const started = await within(
        3000,
        server.waitForJob(1, (job) => job.chunksDone >= 2),
      );
      run.require(
        'the call runs',
        started !== undefined,
        'no record of tools/call #1 reaching chunk 2 within 3 s: keep trackJob and job.chunkDone() in the handler, the check reads them',
      );

      await session.post({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: 1, reason: 'check' },
      });
      const cancelled = await within(
        2000,
        server.waitForJob(1, (job) => job.chunksDoneWhenCancelArrived !== undefined),
      );
      run.require(
        'the server sees the cancel',
        cancelled !== undefined,
        'the cancel for #1 never reached the job record',
      );
      const atCancel = cancelled!.chunksDoneWhenCancelArrived!;

      // Two chunk delays and a margin: a handler that stops within one chunk has stopped by then.
      const ended = await within(
        CHUNK_DELAY_MS * 2 + 800,
        server.waitForJob(1, (job) => job.state !== 'running'),
      );
      const now = latestJob(server, 1)!;
      const after = now.chunksDone - atCancel;
      run.expect(
        'stops within one chunk of the cancel',
        ended?.state === 'cancelled' && after <= 1,
        !ended
          ? `1 s after the cancel the handler is still running: it read ${moreChunks(after)} after the cancel`
          : ended.state === 'completed'
            ? `the handler read all ${CHUNKS} chunks, ${after} of them after the cancel`
            : ended.state === 'cancelled'
              ? `the handler read ${moreChunks(after)} after the cancel before it stopped`
              : `the handler ended as "${ended.state}", not as stopped by the cancel (job.stopped)`,
      );

      const closed = await within(
        500,
        server.waitForJob(1, (job) => job.fileHandle === 'closed'),
      );
      // Counted by the kernel, not by the job record: /proc/<pid>/fd lists what the process holds.
      const descriptors = canSeeFileDescriptors ? openDescriptorsTo(server.child.pid!, '/data/sample.txt') : 0;
      run.expect(
        'closes the file',
        descriptors === 0 && closed !== undefined,
        descriptors > 0
          ? `a descriptor for data/sample.txt is still open after the cancel (${descriptors} in /proc/${server.child.pid}/fd)`
          : `the job record says the file handle is "${now.fileHandle}" (call job.fileClosed() once it is closed)`,
      );

      await within(2000, reading.done);
      const answer = reading.messages.find((message) => 'id' in message && message.id === 1);
      run.expect(
        'answers the cancelled request, so its stream ends',
        reading.ended && answer !== undefined,
        reading.ended
          ? 'the response stream of #1 ended with no message for it'
          : 'the response stream of #1 is still open 2 s after the cancel: nobody answered it, and SDK 1.x holds it until the session ends',
      );

      const next = await session.stream({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: 2, chunkDelayMs: 0 } },
      });
      await within(3000, next.done);
      const result = next.messages.find((message) => 'id' in message && message.id === 2) as
        { result?: { isError?: boolean } } | undefined;
      run.expect(
        'keeps serving: the next call completes',
        result?.result?.isError === false,
        `a short call after the cancel got ${result ? JSON.stringify(result).slice(0, 200) : 'no answer within 3 s'}`,
      );
    }),
};
