// The check of lesson 10's exercise (`npm run learn -- 10`): the learner's server, run for real,
// sent the cancels lesson.test.ts sends over plain HTTP (an id of the other JSON type, the same id
// on two sessions, a second cancel, a late one), with its proofs: the server's job and cancel
// records, the replies on the wire, and from /proc the descriptors the process holds at the end.
import { join } from 'node:path';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { runCheck, within, type Exercise, type LessonServer } from '../shared/exercise-kit.ts';
import type { JobRecord } from '../shared/proof.ts';
import { waitFor } from '../shared/wait.ts';
import { openRawSession, type RawSession, type SseReading } from '../shared/raw-mcp.ts';
import { canSeeFileDescriptors, openDescriptorsTo } from '../shared/testing.ts';

const root = join(import.meta.dirname, '../..');
const CHUNKS = 10;
const CHUNK_DELAY_MS = 100;

type Reply = { id?: RequestId; result?: { isError?: boolean }; error?: { code: number } };

const call = (id: RequestId, chunks = CHUNKS, chunkDelayMs = CHUNK_DELAY_MS): JSONRPCMessage => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
});
const cancel = (session: RawSession, requestId: RequestId, reason: string) =>
  session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason } });

/** The replies for `id` on a call's stream, matched by value and JSON type. */
const repliesTo = (reading: SseReading, id: RequestId) =>
  reading.messages.filter((m) => 'id' in m && m.id === id) as Reply[];
const described = (reply: Reply | undefined) =>
  !reply
    ? 'no answer'
    : reply.error
      ? `error ${reply.error.code}`
      : reply.result?.isError
        ? 'a tool error result'
        : 'the full result';
const shown = (id: RequestId) => JSON.stringify(id);

/** The latest record of job `id` in `session` (ids repeat across sessions). */
const jobIn = (server: LessonServer, session: RawSession, id: RequestId) =>
  server
    .proof()
    .filter((r): r is JobRecord => r.type === 'job' && r.requestId === id && r.session === session.sessionId)
    .at(-1);

export const exercise: Exercise = {
  lesson: '10',
  title: 'A cancel stops the request it names: same id, same JSON type, same session',
  file: 'lessons/10-races-and-ids/exercise-server.ts',
  solution: 'lessons/10-races-and-ids/server.ts',
  asks:
    'This server stops calls from its own table of controllers, one for the process, keyed by String(requestId): ' +
    'a cancel for "14" stops #14, and a cancel on one session stops the other session\'s #1. Make a cancel ' +
    'stop only the request it names, in the session it came on.',
  hints: [
    'JSON-RPC ids are strings or integers, and "14" is not 14. String(requestId) makes them one key; so does ' +
      'any lookup that converts the id. Ids are unique only within a session, too: a table for the process mixes sessions.',
    'SDK 1.x already keeps one Protocol per session (a table of running requests per session), keyed in a Map by ' +
      'the id exactly as it was sent, and aborts extra.signal for the cancel that names it. That is the lookup you want.',
    'So the table is not needed: drop stoppers and stopByCancel, and let the handler wait on extra.signal alone ' +
      '(sleep, the aborted check, stopReason). A table of your own would need a key of session id + JSON.stringify(id).',
  ],
  check: (serverFile) =>
    runCheck(root, async (run) => {
      const server = await run.startServer(serverFile);
      const a = await openRawSession(server.url);
      run.afterwards(() => a.close());

      // 1. Ids of the other JSON type: "14" for the call 14, 7 for the call "7".
      const [n14, s7] = await Promise.all([a.stream(call(14)), a.stream(call('7'))]);
      const running = await within(
        3000,
        Promise.all(
          [14, '7'].map((id) => server.waitForJob(id, (job) => job.chunksDone >= 2, { session: a.sessionId })),
        ),
      );
      run.require(
        'the calls run',
        running !== undefined,
        'no record of tools/call #14 and #"7" reaching chunk 2 within 3 s: keep jobs.start and job.chunksDone in the handler',
      );
      await Promise.all([cancel(a, '14', 'wrong type'), cancel(a, 7, 'wrong type')]);
      // Until each call has either stopped or read two more chunks: by then a cancel that stops it has.
      const then = new Map(([14, '7'] as const).map((id) => [id, jobIn(server, a, id)!.chunksDone]));
      await within(
        CHUNK_DELAY_MS * 6 + 1000,
        waitFor(
          'both calls to stop or go on',
          () =>
            ([14, '7'] as const).every((id) => {
              const job = jobIn(server, a, id)!;
              return job.state !== 'running' || job.chunksDone >= then.get(id)! + 2;
            }),
          { timeoutMs: CHUNK_DELAY_MS * 6 + 1000 },
        ),
      );
      const stoppedByWrong = ([14, '7'] as const).filter((id) => jobIn(server, a, id)!.state !== 'running');
      run.expect(
        'a cancel whose id has the other JSON type stops nothing',
        stoppedByWrong.length === 0,
        stoppedByWrong
          .map((id) => {
            const job = jobIn(server, a, id)!;
            const other = typeof id === 'number' ? shown(String(id)) : String(id);
            return (
              `the cancel for ${other} (${typeof id === 'number' ? 'a string' : 'a number'}) stopped #${shown(id)} ` +
              `(a ${typeof id}) at chunk ${job.chunksDone}/${CHUNKS}`
            );
          })
          .join('; ') + ': ids match by value and JSON type',
      );
      await Promise.all([cancel(a, 14, 'right type'), cancel(a, '7', 'right type')]);
      await within(2000, Promise.all([n14.done, s7.done]));
      const typed = ([14, '7'] as const).map((id) => ({
        id,
        job: jobIn(server, a, id)!,
        replies: repliesTo(id === 14 ? n14 : s7, id),
      }));
      const wrongTyped = typed.find(
        ({ job, replies }) => job.state !== 'cancelled' || replies[0]?.error?.code !== -32800,
      );
      run.expect(
        'the cancel with the id as it was sent stops the call, answered -32800 with that id',
        wrongTyped === undefined,
        wrongTyped
          ? wrongTyped.job.state === 'cancelled' && wrongTyped.job.cancelReason === undefined
            ? `#${shown(wrongTyped.id)} had been stopped by the cancel of the other type, which the server's record of ` +
              `cancels ignored: no cancel is recorded on it, and it was answered ${described(wrongTyped.replies[0])}, not -32800`
            : `#${shown(wrongTyped.id)} ended "${wrongTyped.job.state}" at chunk ${wrongTyped.job.chunksDone}/${CHUNKS}, ` +
              `with cancel reason ${shown(wrongTyped.job.cancelReason ?? 'none')}, answered ${described(wrongTyped.replies[0])}`
          : '',
      );

      // 2. The same id on two sessions: the cancel on the first stops only the first's #1.
      const b = await openRawSession(server.url);
      const c = await openRawSession(server.url);
      run.afterwards(() => b.close());
      run.afterwards(() => c.close());
      const onB = await b.stream(call(1));
      await within(
        2000,
        server.waitForJob(1, () => true, { session: b.sessionId }),
      );
      const onC = await c.stream(call(1));
      const both = await within(
        3000,
        Promise.all([b, c].map((s) => server.waitForJob(1, (job) => job.chunksDone >= 2, { session: s.sessionId }))),
      );
      run.require("both sessions' #1 run", both !== undefined, 'the two calls #1 never both reached chunk 2');
      await cancel(b, 1, 'only mine');
      await within(CHUNKS * CHUNK_DELAY_MS + 2000, Promise.all([onB.done, onC.done]));
      const [jobB, jobC] = [jobIn(server, b, 1)!, jobIn(server, c, 1)!];
      const [replyB, replyC] = [repliesTo(onB, 1)[0], repliesTo(onC, 1)[0]];
      run.expect(
        'the cancel on one session stops its own #1',
        jobB.state === 'cancelled' && replyB?.error?.code === -32800,
        `the cancelled session's #1 ended "${jobB.state}" at chunk ${jobB.chunksDone}/${CHUNKS}, answered ${described(replyB)}`,
      );
      run.expect(
        "the other session's #1, which no cancel named, completes",
        jobC.state === 'completed' && jobC.chunksDone === CHUNKS && described(replyC) === 'the full result',
        `the other session's #1, which no cancel named, ended "${jobC.state}" at chunk ${jobC.chunksDone}/${CHUNKS} ` +
          `and was answered ${described(replyC)}: a cancel from another session stopped it`,
      );

      // 3. A second cancel, and one after completion: one stop, one reply, the record unchanged.
      const twice = await a.stream(call(20));
      await within(
        3000,
        server.waitForJob(20, (job) => job.chunksDone >= 2, { session: a.sessionId }),
      );
      await cancel(a, 20, 'first');
      await cancel(a, 20, 'second');
      await within(2000, twice.done);
      const job20 = jobIn(server, a, 20)!;
      const replies20 = repliesTo(twice, 20);
      run.expect(
        'a second cancel changes nothing: one stop, one reply, the first reason kept',
        job20.state === 'cancelled' && replies20.length === 1 && job20.cancelReason === 'first',
        `#20 ended "${job20.state}" with cancel reason ${shown(job20.cancelReason ?? 'none')} and ${replies20.length} ` +
          'replies on the wire',
      );
      const quick = await a.stream(call(21, 2, 0));
      await within(3000, quick.done);
      const before = jobIn(server, a, 21);
      await cancel(a, 21, 'too late');
      const ping = await a.stream({ jsonrpc: '2.0', id: 22, method: 'ping' });
      await within(2000, ping.done);
      const after = jobIn(server, a, 21);
      const record = (job?: JobRecord) => job && [job.state, job.chunksDone, job.cancelReason, job.reply].join(', ');
      run.expect(
        'a cancel after completion is ignored, and the session keeps serving',
        before?.state === 'completed' && record(after) === record(before) && repliesTo(ping, 22).length === 1,
        `#21's record (state, chunks, cancel reason, reply) was "${record(before)}" before the late cancel and ` +
          `"${record(after)}" after; the ping after it got ${repliesTo(ping, 22).length} answers`,
      );

      const open = canSeeFileDescriptors ? openDescriptorsTo(server.child.pid!, '/data/sample.txt') : 0;
      run.expect(
        'no file left open',
        open === 0,
        `${open} descriptors for data/sample.txt are still open in /proc/${server.child.pid}/fd after every call ended`,
      );
    }),
};
