// The check of lesson 06's exercise (`npm run learn -- 06`): the learner's callToolWithTotalCap,
// run by cap-client.ts against the lesson's server, with the proofs lesson.test.ts makes of the
// total cap: no cancel leaves once a call has completed, and the cap still stops a call that runs on.
import { join } from 'node:path';
import { latestJob, runCheck, within, type Exercise } from '../shared/exercise-kit.ts';
import { startTs } from '../shared/processes.ts';
import { scaled } from '../shared/wait.ts';
import type { ProofRecord } from '../shared/proof.ts';

const root = join(import.meta.dirname, '../..');
const CAP_MS = 2000; // cap-client.ts's caps: the completed call's, and the long call's
const LONG_CAP_MS = 600;

type Sent = { type: 'cancel-sent'; requestId: number; reason?: string; at: number };
type Call = { type: 'cap-call'; label: string; requestId: number; at: number };
type Settled = {
  type: 'cap-call-settled';
  label: string;
  requestId: number;
  outcome: string;
  stop?: string;
  at: number;
};

export const exercise: Exercise = {
  lesson: '06',
  title: 'A total cap that sends no stale cancel',
  file: 'lessons/06-timeouts/exercise-total-cap.ts',
  solution: 'lessons/06-timeouts/total-cap.ts',
  asks:
    'callToolWithTotalCap caps a call with AbortSignal.timeout, joined to the caller signal: after a call ' +
    'completed, the cap passing or the caller aborting makes SDK 1.x send a cancel for it. Make the ' +
    'signal one that nothing can abort once the call has settled, and keep the cap working.',
  hints: [
    'SDK 1.x adds an abort listener to the signal you pass callTool and never removes it: whenever that signal aborts, it sends notifications/cancelled. So pass a signal that only you abort: new AbortController(), this call alone.',
    'Abort that controller from a setTimeout(totalMs) of your own, and from a listener on the caller signal (abort at once if it is already aborted).',
    'In `finally`, clearTimeout the timer and removeEventListener the caller listener: after that nothing can abort the call signal.',
    'SDK 1.x rejects every stop with McpError -32001: remember which of the two aborted the controller (a variable set before call.abort), so the catch can tell the total cap from a caller cancel.',
  ],
  check: (capFile) =>
    runCheck(root, async (run) => {
      const server = await run.startServer(join(root, 'lessons/06-timeouts/server.ts'));
      const client = startTs(join(root, 'lessons/06-timeouts/cap-client.ts'), ['--url', server.url, '--cap', capFile]);
      run.afterwards(() => client.stop());
      // About 3 s of calls and waits, after tsx has loaded it: on a loaded machine, much longer.
      const limitMs = scaled(20_000);
      const exited = await within(limitMs, client.exited);
      const records = client.proof();
      const of = <R>(type: string) => records.filter((r: ProofRecord) => r.type === type) as R[];
      const calls = of<Call>('cap-call');
      const settled = of<Settled>('cap-call-settled');
      const cancels = of<Sent>('cancel-sent');
      const call = (label: string) => {
        const sent = calls.find((c) => c.label === label);
        const end = settled.find((s) => s.label === label);
        return { sent, end, cancels: cancels.filter((c) => c.requestId === sent?.requestId) };
      };
      const [capPasses, callerAborts, long] = [call('cap passes'), call('caller aborts'), call('runs too long')];
      const tail = client.lines.slice(-8).join('\n') || '(it printed nothing yet)';
      run.require(
        'the calls run: the short ones complete',
        exited !== undefined && capPasses.end?.outcome === 'completed' && callerAborts.end?.outcome === 'completed',
        exited === undefined
          ? `cap-client.ts was still running ${Math.round(limitMs / 1000)} s after it started:\n${tail}`
          : !capPasses.end || !callerAborts.end
            ? `cap-client.ts did not finish its calls (exit ${exited}):\n${tail}`
            : `a 2-chunk call did not complete: it ${[capPasses, callerAborts].map((c) => c.end?.stop ?? 'completed').join(', ')}`,
      );

      // A cancel that left after its call completed, and what the server made of it.
      const stale = (what: { end?: Settled; cancels: Sent[] }, when: string) => {
        const late = what.cancels.find((c) => c.at >= what.end!.at);
        if (!late) return '';
        const seen = server
          .proof()
          .some((r) => r.type === 'cancel' && r.requestId === late.requestId && r.matched === 'completed');
        return (
          `a cancel went out ${late.at - what.end!.at} ms after the call completed, ${when}` +
          (seen ? ': the server got it for a call that had already completed ("nothing to cancel, ignored")' : '')
        );
      };
      const afterCap = stale(capPasses, `when its ${CAP_MS} ms cap passed`);
      run.expect('no cancel after a call completed, when the cap passes', !afterCap, afterCap);
      const afterAbort = stale(callerAborts, 'when the caller aborted its signal');
      run.expect('no cancel after a call completed, when the caller aborts', !afterAbort, afterAbort);

      const job =
        long.sent &&
        (await within(
          long.end ? 2000 : 0, // a call still running 3.6 s in is not going to stop now
          server.waitForJob(long.sent.requestId, (j) => j.state !== 'running'),
        ));
      const last = long.sent && latestJob(server, long.sent.requestId);
      const firstCancel = long.cancels[0];
      const early = firstCancel && long.sent ? firstCancel.at - long.sent.at < LONG_CAP_MS - 20 : false;
      run.expect(
        'the cap still stops a call that runs too long',
        long.end?.stop === 'total cap' && long.cancels.length === 1 && !early && job?.state === 'cancelled',
        !long.end
          ? `the 40-chunk call with a ${LONG_CAP_MS} ms cap was still running 3.6 s after it started (${last?.chunksDone ?? 0} chunks done)`
          : long.cancels.length === 0
            ? `no cancel left for the 40-chunk call when its ${LONG_CAP_MS} ms cap passed: it ${long.end.outcome}${long.end.stop ? ` (${long.end.stop})` : ''}`
            : long.end.stop !== 'total cap'
              ? `the call stopped, but not as the total cap: the error said "${long.end.stop ?? long.end.outcome}" (a CallStoppedError with stop.kind 'total cap' was expected)`
              : long.cancels.length > 1
                ? `${long.cancels.length} cancels left for the call, one is enough`
                : early
                  ? `the cancel left ${firstCancel!.at - long.sent!.at} ms after the call began, before its ${LONG_CAP_MS} ms cap`
                  : `the server's job ended as "${job?.state ?? last?.state}" after ${last?.chunksDone} chunks, not stopped by the cancel`,
      );
    }),
};
