// The check of lesson 02's exercise (`npm run learn -- 02`): the learner's client, run against the
// lesson's own server for each way a call can fail, and what it made of each said in plain words:
// from the client's proof records (what it observed) and the server's (what really happened).
import { join } from 'node:path';
import { runCheck, within, type CheckRun, type Exercise } from '../shared/exercise-kit.ts';
import { startTs } from '../shared/processes.ts';
import type { JobRecord } from '../shared/proof.ts';

const root = join(import.meta.dirname, '../..');
const SERVER = join(import.meta.dirname, 'server.ts');
const CALL = ['--chunks', '20', '--chunk-delay', '100'];
/** How long a client gets to say what happened: seconds, where SDK 1.x's own wait for a dead server is a minute. */
const SAYS_WITHIN_MS = 4000;
/** How long a client may take to start and make its call (a loaded machine is slow to start Node): not judged. */
const STARTS_WITHIN_MS = 20_000;

type Client = ReturnType<typeof startTs>;
/** The client, started against `url`; stopped when the check ends. */
function startClient(run: CheckRun, file: string, url: string, args: string[]): Client {
  const client = startTs(file, ['--url', url, ...CALL, ...args]);
  run.afterwards(() => client.stop());
  return client;
}
const observed = (client: Client) =>
  (client.proof().find((r) => r.type === 'outcome') as { observed?: string } | undefined)?.observed;
const rejected = (client: Client) => {
  const r = client.proof().find((record) => record.type === 'rejected') as Record<string, unknown> | undefined;
  return r ? `${String(r.name)} ${String(r.code)} "${String(r.message)}"` : 'nothing';
};

export const exercise: Exercise = {
  lesson: '02',
  title: 'Read what comes back: a cancel is not a timeout, a dead server is not a slow one',
  file: 'lessons/02-abort-signal/exercise-client.ts',
  solution: 'lessons/02-abort-signal/client.ts',
  asks:
    'The client cancels the SDK way, then misreads the outcome: it takes its own cancel for a timeout (both ' +
    'are McpError -32001), and waits a minute on a server that died. Make it say cancelled, timed out, or connection lost.',
  hints: [
    "The error's code cannot tell a cancel from a timeout: SDK 1.x rejects both with -32001. Your own signal can: " +
      'if controller.signal.aborted, you stopped the call. classifyCallFailure(error, signal) in call-failures.ts does the rest.',
    'A call whose server died waits for its own timeout. The spec says ping: closeWhenServerGone(client, { everyMs, onLost }) ' +
      'pings while the call runs and closes the client when a ping fails, which rejects the call with -32000 "Connection closed".',
    'Stop the pinging once the call has settled (watch.stop() in the finally), or the client never exits.',
  ],
  check: (clientFile) =>
    runCheck(root, async (run) => {
      // --- the user cancels: controller.abort("user pressed cancel") after 500 ms ------------------
      const server = await run.startServer(SERVER);
      const cancelling = startClient(run, clientFile, server.url, ['--scenario', 'cancel', '--cancel-after', '500']);
      const calling = await within(
        STARTS_WITHIN_MS,
        server.waitForJob(1, (job) => job.fileHandle === 'open', { timeoutMs: STARTS_WITHIN_MS }),
      );
      run.require(
        'the client calls process_large_file',
        calling !== undefined,
        `no tools/call #1 reached the server within ${STARTS_WITHIN_MS / 1000} s of starting the client:\n${cancelling.lines.slice(-5).join('\n')}`,
      );
      const stopped = await within(
        500 + SAYS_WITHIN_MS,
        server.waitForJob(1, (job) => job.state !== 'running' && job.fileHandle === 'closed'),
      );
      run.require(
        'the client cancels the call, and the server stops it',
        stopped?.state === 'cancelled' && stopped.cancelReason === 'user pressed cancel',
        stopped === undefined
          ? `tools/call #1 did not end within ${SAYS_WITHIN_MS / 1000} s of the cancel being due: keep the call's signal and controller.abort(reason)`
          : `the server's record says "${stopped.state}" with cancel reason ${JSON.stringify(stopped.cancelReason ?? null)}`,
      );
      const cancelExit = await within(SAYS_WITHIN_MS, cancelling.exited);
      run.expect(
        'tells its own cancel from a timeout',
        observed(cancelling) === 'cancelled' && cancelExit === 0,
        observed(cancelling) === undefined
          ? `the client said nothing about the outcome within ${SAYS_WITHIN_MS / 1000} s of the cancel`
          : `after its own controller.abort(), the client says "${observed(cancelling)}" (it was rejected with ${rejected(cancelling)})`,
      );

      // --- the SDK's own timeout option, 500 ms ------------------------------------------------------
      const from = server.proof().length; // a new session: its tools/call is #1 again
      const timing = startClient(run, clientFile, server.url, ['--scenario', 'timeout', '--timeout', '500']);
      await within(
        STARTS_WITHIN_MS,
        server.waitForJob(1, () => true, { from, timeoutMs: STARTS_WITHIN_MS }),
      );
      const timeoutExit = await within(SAYS_WITHIN_MS, timing.exited);
      run.expect(
        'tells a timeout from a cancel',
        observed(timing) === 'timed out' && timeoutExit === 0,
        observed(timing) === undefined
          ? `the client said nothing within ${SAYS_WITHIN_MS / 1000} s of its 500 ms timeout`
          : `after the timeout option fired, the client says "${observed(timing)}" (it was rejected with ${rejected(timing)})`,
      );

      // --- the server dies (SIGKILL) at chunk 3 ------------------------------------------------------
      const dying = await run.startServer(SERVER, ['--crash-at-chunk', '3']);
      const lost = startClient(run, clientFile, dying.url, ['--scenario', 'lost-connection']);
      await within(STARTS_WITHIN_MS, dying.exited);
      const lostExit = await within(SAYS_WITHIN_MS, lost.exited);
      run.expect(
        'notices a server that died, at once',
        observed(lost) === 'connection lost' && lostExit === 0,
        lostExit === undefined
          ? `${SAYS_WITHIN_MS / 1000} s after the server died the client still waits for an answer: SDK 1.x fails ` +
              'nobody when the server goes, the call waits for its own timeout (a minute here)'
          : `after the server died, the client says "${observed(lost) ?? 'nothing'}" (it was rejected with ${rejected(lost)})`,
      );
    }),
};
