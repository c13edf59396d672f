// The check of lesson 04's exercise (`npm run learn -- 04`): the learner's layers, run by the
// lesson's own server (server.ts --layers FILE), cancelled the way lesson.test.ts cancels them, and
// what they did said in plain words: from the server's proof records, the upstream's own record,
// the server's sockets and the child's pid.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { latestJob, moreChunks, runCheck, within, type CheckRun, type Exercise } from '../shared/exercise-kit.ts';
import type { JobRecord } from '../shared/proof.ts';
import { openRawSession, type RawSession, type SseReading } from '../shared/raw-mcp.ts';
import { canSeeFileDescriptors } from '../shared/testing.ts';
import type { Source } from './layers.ts';
import { openTcpConnectionsOnPort, tcpConnectionsOnPort } from './proc.ts';

const root = join(import.meta.dirname, '../..');
const SERVER = join(import.meta.dirname, 'server.ts');
const CHUNKS = 20;
const CHUNK_DELAY_MS = 100;

type LessonServer = Awaited<ReturnType<CheckRun['startServer']>>;
const answerTo = (reading: SseReading, id: number) =>
  reading.messages.find((m) => 'id' in m && m.id === id) as (JSONRPCMessage & { error?: { code: number } }) | undefined;
const described = (reading: SseReading, id: number) => {
  if (!reading.ended) return 'no answer yet (its stream is still open)';
  const answer = answerTo(reading, id);
  return !answer ? 'no answer' : answer.error ? `error ${answer.error.code}` : 'the full result';
};
const isGone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH' && !existsSync(`/proc/${pid}`);
  }
};

/** Calls `source`, cancels it after chunk 2, and returns what the server recorded once the handler ended (or 1 s passed). */
async function cancelAfterTwoChunks(
  run: CheckRun,
  server: LessonServer,
  session: RawSession,
  id: number,
  source: Source,
  beforeCancel = () => {},
) {
  const reading = await session.stream({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'process_large_file', arguments: { source, chunks: CHUNKS, chunkDelayMs: CHUNK_DELAY_MS } },
  });
  reading.done.catch(() => {}); // a server that dies mid-call cuts the stream: said below, not thrown here
  // Not judged, so not hurried: a loaded machine is slow to start the call.
  const started = await within(
    15_000,
    server.waitForJob(id, (job) => job.chunksDone >= 2, { timeoutMs: 15_000 }),
  );
  run.require(
    `the ${source} call runs`,
    started !== undefined,
    `no record of the ${source} layer (tools/call #${id}) reaching chunk 2 within 15 s: keep run.onChunk() for each chunk, the check reads it`,
  );
  beforeCancel();
  await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'check' } });
  const cancelled = await within(
    2000,
    server.waitForJob(id, (job) => job.chunksDoneWhenCancelArrived !== undefined),
  );
  run.require(
    `the server sees the cancel of the ${source} call`,
    cancelled !== undefined,
    `the cancel for #${id} never reached the job record`,
  );
  const atCancel = cancelled!.chunksDoneWhenCancelArrived!;
  const ended = await within(
    1000,
    server.waitForJob(id, (job) => job.state !== 'running'),
  );
  await within(200, server.exited); // a server that crashes on the cancel does so at once
  const died = server.lines.filter((line) => /Unhandled 'error' event|^\w*Error\b/.test(line)).slice(0, 3);
  run.require(
    `the server survives the cancel of the ${source} call`,
    server.child.exitCode === null && server.child.signalCode === null,
    `the server process exited (code ${server.child.exitCode}) after the cancel:\n${died.join('\n')}` +
      "\nan 'error' event nobody listens to is thrown, and takes the process down",
  );
  // A handler that stopped has answered by now, or is about to; one still running has not.
  if (ended) await within(1000, reading.done);
  return { reading, atCancel, ended };
}

/** "stops within one chunk": the finding, in plain words, for one layer. */
function expectStop(
  run: CheckRun,
  server: LessonServer,
  id: number,
  source: Source,
  atCancel: number,
  ended?: JobRecord,
) {
  const now = latestJob(server, id)!;
  const before = (ended ?? now).chunksDone - atCancel;
  const after = now.chunksDone - (ended ?? now).chunksDone;
  run.expect(
    `${source}: stops within one chunk of the cancel, and reads nothing after`,
    ended?.state === 'cancelled' && before <= 1 && after === 0,
    !ended
      ? `1 s after the cancel the handler is still reading from ${source}: ${moreChunks(now.chunksDone - atCancel)} since the cancel`
      : ended.state !== 'cancelled'
        ? `the handler ended as "${ended.state}" after the cancel, ${moreChunks(before)} later`
        : after > 0
          ? `the handler stopped, and the ${source} layer then read ${moreChunks(after)}`
          : `the handler read ${moreChunks(before)} after the cancel before it stopped`,
  );
}

export const exercise: Exercise = {
  lesson: '04',
  title: 'Hand the signal to the fetch and to the child process',
  file: 'lessons/04-signal-into-io/exercise-layers.ts',
  solution: 'lessons/04-signal-into-io/layers.ts',
  asks:
    'fetchFromUpstream and runChildProcess never hear the cancel: the upstream goes on sending and the child ' +
    'goes on running. Make a cancel close the connection, and kill and reap the child before the handler replies.',
  hints: [
    'fetch takes { signal }: an abort rejects the pending read of the body too, and closes the connection.',
    "spawn takes { signal } as well: an abort sends the child SIGTERM, and Node reports it as an 'error' event " +
      '(an AbortError), which is not a failure. A line still in the pipe after the cancel is not work to count: leave the loop.',
    "Throw only after the child's 'close' (it has exited and been reaped): `await closed` in a finally, then " +
      'signal.throwIfAborted(). Kill the child there too if you stopped reading early.',
  ],
  check: (layersFile) =>
    runCheck(root, async (run) => {
      const server = await run.startServer(SERVER, ['--layers', layersFile]);
      const pid = server.child.pid!;
      const session = await openRawSession(server.url);
      run.afterwards(() => session.close());

      // --- http: a fetch of 20 chunks, 100 ms apart ---------------------------------------------
      const upstreamPort =
        (server.proof().find((r) => r.type === 'upstream') as { port?: number } | undefined)?.port ?? 0;
      // The connection the response comes over, seen from the kernel: the server's TCP socket to the
      // upstream's port, by its own (client-side) port. /proc/<pid>/net/tcp lists it while it is open.
      let fetchPort: number | undefined;
      const http = await cancelAfterTwoChunks(run, server, session, 1, 'http', () => {
        if (canSeeFileDescriptors)
          fetchPort = tcpConnectionsOnPort(pid, upstreamPort).find((c) => c.remotePort === upstreamPort)?.localPort;
      });
      const upstreamThen = latestJob(server, 1)!.resources?.['upstream response'];
      expectStop(run, server, 1, 'http', http.atCancel, http.ended);
      const hungUp = await within(
        http.ended ? 1000 : 0,
        server.waitForJob(
          1,
          (job) => job.resources?.['upstream response']?.startsWith('closed by the client') === true,
        ),
      );
      const stillOpen = () => (fetchPort === undefined ? false : openTcpConnectionsOnPort(pid, fetchPort) > 0);
      let open = stillOpen();
      for (let waited = 0; hungUp && open && waited < 1000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        open = stillOpen();
      }
      const connection = `the connection to it (127.0.0.1:${fetchPort} -> ${upstreamPort} in /proc/${pid}/net/tcp)`;
      run.expect(
        'http: the connection to the upstream is closed, before its response is finished',
        hungUp !== undefined && !open,
        hungUp === undefined
          ? `1 s after the cancel the upstream's own record says "${upstreamThen}": nobody hung up on it, it is still sending` +
              (open ? `, and ${connection} is open` : '')
          : `the upstream says "${hungUp.resources?.['upstream response']}", but ${connection} is still open 1 s later`,
      );
      run.expect(
        'http: the cancelled call is answered -32800',
        answerTo(http.reading, 1)?.error?.code === -32800,
        `the client got ${described(http.reading, 1)}`,
      );

      // --- child: a child process printing 20 lines, 100 ms apart --------------------------------
      const child = await cancelAfterTwoChunks(run, server, session, 2, 'child');
      expectStop(run, server, 2, 'child', child.atCancel, child.ended);
      const [name, state] = Object.entries(latestJob(server, 2)!.resources ?? {})[0] ?? ['no child process', 'none'];
      const childPid = Number(/^child process (\d+)$/.exec(name)?.[1]);
      const gone = Number.isInteger(childPid) && isGone(childPid);
      // Its 'close' record, then the reply: the handler answered only once the child was gone.
      const records = server.proof().filter((r): r is JobRecord => r.type === 'job' && r.requestId === 2);
      const reapedAt = records.findIndex((job) => /^killed \(\w+\), reaped$/.test(job.resources?.[name] ?? ''));
      const repliedAt = records.findIndex((job) => job.reply !== undefined);
      run.expect(
        'child: the child is killed and reaped before the handler replies',
        gone && reapedAt !== -1 && (repliedAt === -1 || reapedAt < repliedAt),
        !gone
          ? `${name} is still running 1 s after the cancel (its record says "${state}"; process.kill(${childPid}, 0) finds it)`
          : reapedAt === -1
            ? `${name} is gone, but it was not killed: its record says "${state}"`
            : `${name} was killed and reaped only after the handler replied: wait for its 'close' before you throw`,
      );
      run.expect(
        'child: the cancelled call is answered -32800',
        answerTo(child.reading, 2)?.error?.code === -32800,
        `the client got ${described(child.reading, 2)}`,
      );

      const next = await session.stream({
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'process_large_file', arguments: { source: 'child', chunks: 2, chunkDelayMs: 0 } },
      });
      await within(3000, next.done);
      const result = answerTo(next, 3) as { result?: { structuredContent?: { status?: string } } } | undefined;
      run.expect(
        'keeps serving: the next call completes',
        result?.result?.structuredContent?.status === 'completed',
        server.child.exitCode !== null
          ? `the server exited (code ${server.child.exitCode}); its last lines:\n${server.lines.slice(-5).join('\n')}`
          : `a short call after the cancels got ${result ? JSON.stringify(result).slice(0, 200) : 'no answer within 3 s'}`,
      );
    }),
};
