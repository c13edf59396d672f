// The check of lesson 03's exercise (`npm run learn -- 03`): the learner's strategies, run by the
// lesson's own server (server.ts --strategies FILE), cancelled the way lesson.test.ts cancels them,
// and what they did said in plain words: from the server's proof records and /proc.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { latestJob, moreChunks, runCheck, within, type Exercise } from '../shared/exercise-kit.ts';
import { openRawSession, type SseReading } from '../shared/raw-mcp.ts';
import { canSeeFileDescriptors } from '../shared/testing.ts';
import type { Strategy } from './strategies.ts';

const root = join(import.meta.dirname, '../..');
const SERVER = join(import.meta.dirname, 'server.ts');
const CHUNK_MS = 50;

/** Threads of process `pid` (Linux's /proc); 0 where there is no /proc to count them, so only the job record is checked. */
const threadsOf = (pid: number) => (canSeeFileDescriptors ? readdirSync(`/proc/${pid}/task`).length : 0);
const answerTo = (reading: SseReading, id: number) =>
  reading.messages.find((m) => 'id' in m && m.id === id) as
    (JSONRPCMessage & { error?: { code: number }; result?: unknown }) | undefined;
const described = (reading: SseReading, id: number) => {
  const answer = answerTo(reading, id);
  if (!answer) return 'no answer';
  if (answer.error) return `error ${answer.error.code}`;
  return 'the full result';
};

export const exercise: Exercise = {
  lesson: '03',
  title: 'Give a CPU loop back to the cancel: slice it, or move it to a worker',
  file: 'lessons/03-cooperative-handlers/exercise-strategies.ts',
  solution: 'lessons/03-cooperative-handlers/strategies.ts',
  asks:
    'cpu-sliced never gives the thread back, so a cancel is not even read until its loop ends; cpu-worker ' +
    'waits for its worker without the signal and never stops it. Make a cancel stop both within a chunk.',
  hints: [
    'A loop that never awaits holds the only thread: the cancel is an HTTP request, and reading it is JavaScript too. ' +
      '`await setImmediate()` (imported here as yieldToEventLoop) after each chunk lets the server read it; look at the signal right after.',
    "`once(worker, 'exit', { signal })` rejects the moment the signal aborts, as `sleep(ms, undefined, { signal })` does in abortable.",
    "Stopping the wait does not stop the worker. In a `finally`, when the worker has not exited yet: `await worker.terminate()`, wait for its 'exit', " +
      "and set job.resources.worker = 'terminated' (job.resources.threads too, threadCount() before and after).",
  ],
  check: (strategiesFile) =>
    runCheck(root, async (run) => {
      const server = await run.startServer(SERVER, ['--strategies', strategiesFile]);
      const pid = server.child.pid!;
      const session = await openRawSession(server.url);
      run.afterwards(() => session.close());
      const start = (id: number, strategy: Strategy, chunks: number) =>
        session.stream({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'process_large_file', arguments: { strategy, chunks, chunkMs: CHUNK_MS } },
        });
      /** Sends the cancel without waiting for its HTTP 202: a blocked server does not even read it. */
      const cancel = (requestId: number) => {
        const sentAt = performance.now();
        const acked = session
          .post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'check' } })
          .then(() => performance.now() - sentAt);
        return { acked };
      };
      const cancelRecord = (id: number) =>
        within(
          CHUNK_MS * 40 + 2000,
          server.waitForProof<{ type: string; matched: string }>(
            `the cancel for #${id}`,
            (r) => r.type === 'cancel' && r.requestId === id,
          ),
        );

      // --- cpu-sliced: 20 chunks of 50 ms of CPU, cancelled after chunk 2 ---------------------
      const SLICED = 20;
      const sliced = await start(1, 'cpu-sliced', SLICED);
      // Not judged, so not hurried: a loaded machine is slow to start the call.
      const slicing = await within(
        15_000,
        server.waitForJob(1, (job) => job.chunksDone >= 2, { timeoutMs: 15_000 }),
      );
      run.require(
        'the call runs',
        slicing !== undefined,
        'no record of cpu-sliced (tools/call #1) reaching chunk 2 within 15 s: keep job.chunksDone++ after each chunk, the check reads it',
      );
      const slicedCancel = cancel(1);
      const read = await cancelRecord(1);
      const ackMs = await within(CHUNK_MS * SLICED + 2000, slicedCancel.acked);
      run.expect(
        'cpu-sliced: the server reads the cancel while the loop runs',
        read?.matched === 'running',
        read === undefined
          ? 'the server never read the cancel for #1'
          : `the server read the cancel only once the loop had ended (it names a request already ${read.matched}); ` +
              `its HTTP 202 came ${ackMs === undefined ? 'never' : `${Math.round(ackMs)} ms`} after it was sent: ` +
              'a loop that never awaits leaves the thread no turn to read it',
      );
      await within(CHUNK_MS * SLICED + 2000, sliced.done);
      const slicedJob = latestJob(server, 1)!;
      const slicedAfter = slicedJob.chunksDone - (slicedJob.chunksDoneWhenCancelArrived ?? slicing!.chunksDone);
      run.expect(
        'cpu-sliced: stops within one chunk of the cancel, answered -32800',
        slicedJob.state === 'cancelled' && slicedAfter <= 1 && answerTo(sliced, 1)?.error?.code === -32800,
        slicedJob.state === 'completed'
          ? `the loop ran all ${SLICED} chunks and the client got ${described(sliced, 1)}, not -32800`
          : slicedJob.state === 'cancelled'
            ? `it did ${moreChunks(slicedAfter)} after the cancel arrived, and the client got ${described(sliced, 1)}`
            : `the job ended as "${slicedJob.state}"${slicedJob.state === 'failed' ? ': the strategy threw while no cancel had come' : ''}`,
      );

      // --- cpu-worker: 100 chunks (5 s) in a worker thread, cancelled after chunk 2 -------------------
      const baseline = threadsOf(pid);
      const working = await start(2, 'cpu-worker', 100);
      const inWorker = await within(
        15_000,
        server.waitForJob(2, (job) => job.chunksDone >= 2, { timeoutMs: 15_000 }),
      );
      run.require(
        'cpu-worker runs',
        inWorker !== undefined,
        "no record of cpu-worker (tools/call #2) reaching chunk 2 within 15 s: keep the worker's 'message' listener that sets job.chunksDone",
      );
      cancel(2);
      await cancelRecord(2);
      const atCancel = latestJob(server, 2)!.chunksDoneWhenCancelArrived ?? inWorker!.chunksDone;
      const ended = await within(
        1000,
        server.waitForJob(2, (job) => job.state !== 'running'),
      );
      // The record as the handler ended (a worker left running goes on counting chunks).
      const workerAfter = (ended ?? latestJob(server, 2)!).chunksDone - atCancel;
      run.expect(
        'cpu-worker: stops within one chunk of the cancel',
        ended?.state === 'cancelled' && workerAfter <= 1,
        !ended
          ? `1 s after the cancel the handler is still waiting for its worker, which did ${moreChunks(workerAfter)} since`
          : ended.state === 'cancelled'
            ? `it did ${moreChunks(workerAfter)} after the cancel arrived before it stopped`
            : `the job ended as "${ended.state}" after the cancel, ${moreChunks(workerAfter)} later`,
      );

      // Counted by the kernel: /proc/<pid>/task lists the threads the server process has now.
      let threads = threadsOf(pid);
      for (let waited = 0; threads > baseline && waited < 1000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        threads = threadsOf(pid);
      }
      const worker = latestJob(server, 2)!.resources?.worker;
      run.expect(
        'cpu-worker: terminates the worker, and its thread is gone',
        worker === 'terminated' && threads <= baseline,
        threads > baseline
          ? `the server has ${threads} threads, ${threads - baseline} more than before the call (/proc/${pid}/task): ` +
              `the worker thread outlives the cancel (its record says worker: ${worker ?? 'nothing'})`
          : `the thread is gone, but the job record says worker: ${worker ?? 'nothing'} (set job.resources.worker = 'terminated' once it is)`,
      );

      await within(1000, working.done);
      run.expect(
        'cpu-worker: the cancelled call is answered -32800',
        answerTo(working, 2)?.error?.code === -32800,
        working.ended
          ? `the client got ${described(working, 2)}`
          : 'the client got no answer 3 s after the cancel: the call is still running in its worker',
      );
    }),
};
