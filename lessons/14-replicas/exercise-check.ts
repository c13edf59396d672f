// The check of lesson 14's exercise (`npm run learn -- 14`): two replicas of the learner's server
// on one throwaway Redis, the call sent to one, its `notifications/cancelled` to the other, as a
// round-robin balancer would send them. It proves what lesson.test.ts proves of the bus, from the
// record and the descriptors of the replica that ran the call. No HAProxy: the check picks the
// replica itself.
import { join } from 'node:path';
import { canSeeFileDescriptors, openDescriptorsTo } from '../shared/testing.ts';
import { missingServices, startRedis } from '../shared/throwaway-services.ts';
import { moreChunks, latestJob, runCheck, within, type Exercise } from '../shared/exercise-kit.ts';

const root = join(import.meta.dirname, '../..');
const CHUNKS = 30;
const CHUNK_DELAY_MS = 100;
const CREDENTIAL = 'Bearer exercise-check'; // the same caller on both replicas: the bus key is caller + id

/** A JSON-RPC message POSTed to one replica, as SDK 1.x's stateless client sends it (no session). */
function post(url: string, message: object) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
      authorization: CREDENTIAL,
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
}

export const exercise: Exercise = {
  lesson: '14',
  title: 'Hear a cancel that landed on another replica',
  file: 'lessons/14-replicas/exercise-server.ts',
  solution: 'lessons/14-replicas/server.ts',
  needs: ['redis-server'],
  asks:
    'A notifications/cancelled that the balancer sends to another replica is published on the cancel bus, ' +
    'but process_large_file never listens to the bus, so it reads on. Make it stop within one chunk of that ' +
    'cancel, free its file, and answer on its own stream.',
  hints: [
    "The bus is already connected (`bus`), and forwardCancel publishes every cancel under cancelKey(caller, id). What is missing is the call's side: bus.watch(cancelKey(caller, extra.requestId)) gives a signal that a published cancel for this call aborts.",
    'Stop for either signal: AbortSignal.any([extra.signal, fromBus.signal]). Tell the bus when the call is over (fromBus.done() in `finally`), or its map keeps every call; and noteCancelWhenAborted(job, fromBus.signal) (replica-jobs.ts) notes in the job record when the cancel arrived.',
    "Leave extra.signal alone: a bus cancel does not abort it, so the SDK still sends what the handler returns on the call's own stream, and the client's call ends with the clean-cancel result.",
  ],
  check: (serverFile) =>
    runCheck(root, async (run) => {
      const missing = missingServices(['redis-server']);
      run.require('Redis is there for the cancel bus', !missing, missing ?? '');
      const redis = await startRedis();
      run.afterwards(() => redis.stop());
      const bus = ['--bus', redis.url];
      const runsIt = await run.startServer(serverFile, ['--name', 'replica-a', ...bus]);
      const other = await run.startServer(serverFile, ['--name', 'replica-b', ...bus]);

      const args = { path: 'sample.txt', chunks: CHUNKS, chunkDelayMs: CHUNK_DELAY_MS };
      const call = { id: 1, method: 'tools/call', params: { name: 'process_large_file', arguments: args } };
      const reply = post(runsIt.url, call).then(
        (response) => response.text(),
        () => '',
      );
      const started = await within(
        3000,
        runsIt.waitForJob(1, (job) => job.chunksDone >= 2),
      );
      run.require(
        'the call runs on replica-a',
        started !== undefined,
        'no record of tools/call #1 reaching chunk 2 on replica-a within 3 s: keep trackJob and job.chunkDone() in the handler, the check reads them',
      );

      // The cancel goes to the other replica, as round robin sends it. Its answer comes once it has published.
      const cancel = { method: 'notifications/cancelled', params: { requestId: 1, reason: 'exercise check' } };
      const accepted = await post(other.url, cancel).then((response) => response.status);
      const sentAt = performance.now();
      const atCancel = latestJob(runsIt, 1)!.chunksDone;
      run.require(
        'replica-b takes the cancel',
        accepted === 202,
        `replica-b answered the notifications/cancelled with HTTP ${accepted}, not 202`,
      );

      // Two chunk delays and a margin: a handler that stops within one chunk has stopped by then.
      const ended = await within(
        CHUNK_DELAY_MS * 2 + 800,
        runsIt.waitForJob(1, (job) => job.state !== 'running'),
      );
      const after = latestJob(runsIt, 1)!.chunksDone - atCancel;
      run.expect(
        'stops within one chunk of a cancel sent to another replica',
        ended?.state === 'cancelled' && after <= 1,
        !ended
          ? `1 s after replica-b took the cancel, the handler on replica-a is still running: it read ${moreChunks(after)} after the cancel`
          : ended.state === 'completed'
            ? `the handler read all ${CHUNKS} chunks, ${after} of them after the cancel`
            : ended.state === 'cancelled'
              ? `the handler read ${moreChunks(after)} after the cancel before it stopped`
              : `the handler ended as "${ended.state}", not as stopped by the cancel (a rejection while the signal is aborted is a stop)`,
      );

      const fileClosed = await within(
        500,
        runsIt.waitForJob(1, (job) => job.fileHandle === 'closed'),
      );
      // Counted by the kernel, not by the job record: /proc/<pid>/fd lists what the process holds.
      const sinceCancel = `${((performance.now() - sentAt) / 1000).toFixed(1)} s`;
      const descriptors = canSeeFileDescriptors
        ? openDescriptorsTo(runsIt.child.pid!, '14-replicas/data/sample.txt')
        : 0;
      run.expect(
        'closes its file',
        descriptors === 0 && fileClosed !== undefined,
        descriptors > 0
          ? `a descriptor for data/sample.txt is still open on replica-a ${sinceCancel} after the cancel (${descriptors} in /proc/${runsIt.child.pid}/fd)`
          : `the job record says the file handle is "${latestJob(runsIt, 1)!.fileHandle}"`,
      );

      // The call's own stream carries the answer: SDK 1.x sends what the handler returns, and ends it.
      const body = (await within(2000, reply)) ?? '';
      const text = /"text":"([^"]*)"/.exec(body)?.[1];
      run.expect(
        "answers on the call's own stream",
        text !== undefined && text.startsWith('Cancelled after'),
        text === undefined
          ? `the call's stream carried no result within 2 s of the stop${body ? `: ${body.slice(0, 200)}` : ''}`
          : `the call's stream ended with "${text.slice(0, 120)}", not a clean-cancel result`,
      );
    }),
};
