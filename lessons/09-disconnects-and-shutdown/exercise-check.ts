// The check of lesson 09's exercise (`npm run learn -- 09`): the learner's shutdown, run by the
// lesson's own server (server.ts --shutdown FILE), sent SIGTERM mid-call, with the proofs
// lesson.test.ts makes: the handler stopped and cleaned up (job records, /proc, the scratch folder)
// before the process exited, its caller heard why, and the exit code says whether it all stopped.
// Then the same shutdown with a call that never cleans up (stuck-call.ts): it must wait its
// deadline and exit 1.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCheck, within, type Exercise } from '../shared/exercise-kit.ts';
import { startTs } from '../shared/processes.ts';
import type { JobRecord, ProofRecord } from '../shared/proof.ts';
import { openRawSession } from '../shared/raw-mcp.ts';
import { canSeeFileDescriptors, openDescriptorsTo } from '../shared/testing.ts';

const root = join(import.meta.dirname, '../..');
const SERVER = join(import.meta.dirname, 'server.ts');
const STUCK = join(import.meta.dirname, 'stuck-call.ts');
const SCRATCH = join(import.meta.dirname, 'data/scratch');
const CHUNKS = 12;
const DEADLINE_MS = 300; // stuck-call.ts's: how long the shutdown must wait for a call that never cleans up

type Shutdown = { type: 'shutdown'; step: string; stopped?: number; stillRunning?: number; code?: number };
const isShutdown = (step: string) => (r: ProofRecord) => r.type === 'shutdown' && r.step === step;
const cleanedUp = (job: JobRecord) => job.fileHandle === 'closed' && job.resources?.['scratch file'] === 'removed';

export const exercise: Exercise = {
  lesson: '09',
  title: 'A shutdown that waits for the running calls to clean up',
  file: 'lessons/09-disconnects-and-shutdown/exercise-shutdown.ts',
  solution: 'lessons/09-disconnects-and-shutdown/shutdown.ts',
  asks:
    "On SIGTERM this shutdown stops the running calls, closes the sessions and exits 0 at once: each call's " +
    'clean-up is cut off and its caller hears nothing. Wait for the clean-up (within deadlineMs) before closing, ' +
    'and exit 1 when a call is still running at the deadline.',
  hints: [
    'stopAll only tells the calls to stop: each one still has to reach its `finally` (close its file, remove its ' +
      'scratch file) and have its reply written out. stillBusy() counts the calls that have not done that yet.',
    'Before close(): `while (stillBusy() > 0 && performance.now() < deadline) await sleep(5);` with ' +
      'deadline = performance.now() + deadlineMs. Awaiting gives the calls the event loop to finish in.',
    'Read stillBusy() once the wait is over (before close): if it is still above 0, the deadline passed. Prove that ' +
      'count as stillRunning with code 1, say it (log.fail), and process.exit(1).',
  ],
  check: (shutdownFile) =>
    runCheck(root, async (run) => {
      const server = await run.startServer(SERVER, ['--shutdown', shutdownFile]);
      const pid = server.child.pid!;
      const scratchFile = join(SCRATCH, `${pid}-1.part`);
      run.afterwards(() => rmSync(scratchFile, { force: true })); // what a cut-off clean-up leaves
      const session = await openRawSession(server.url);
      const reading = await session.stream({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: CHUNKS, chunkDelayMs: 250 } },
      });
      const started = await within(
        3000,
        server.waitForJob(1, (job) => job.chunksDone >= 2),
      );
      // From /proc: the handler holds the sample file and its scratch file, so a clean-up has work to do.
      const holds = canSeeFileDescriptors
        ? openDescriptorsTo(pid, '/data/sample.txt') + openDescriptorsTo(pid, `/scratch/${pid}-1.part`)
        : 2;
      run.require(
        'the call runs, holding its file and a scratch file',
        started !== undefined && holds === 2 && existsSync(scratchFile),
        started
          ? `/proc/${pid}/fd shows ${holds} of the 2 files the handler should hold open`
          : 'no record of tools/call #1 reaching chunk 2 within 3 s',
      );

      const sentAt = performance.now();
      server.child.kill('SIGTERM');
      const code = await within(3000, server.exited);
      const exitMs = Math.round(performance.now() - sentAt);
      await within(1000, reading.done);
      const records = server.proof(); // every record the process wrote before it exited
      run.require(
        'SIGTERM stops the running call, and the process exits',
        records.some(isShutdown('stopping')) && code !== undefined,
        code === undefined
          ? `the process is still running 3 s after SIGTERM`
          : 'the process exited without the shutdown\'s "stopping" record: is shutDownGracefully still listening for SIGTERM?',
      );

      // Each job record is written when the job changes, so what the last one says is what was done before the exit.
      const jobs = records.filter((r): r is JobRecord => r.type === 'job' && r.requestId === 1);
      const last = jobs.at(-1)!;
      const cleanAt = records.findIndex((r) => r.type === 'job' && r.requestId === 1 && cleanedUp(r as JobRecord));
      const exitingAt = records.findIndex(isShutdown('exiting'));
      const left = existsSync(scratchFile);
      run.expect(
        'the handler stops and cleans up before the process exits',
        last.state === 'cancelled' && cleanAt !== -1 && !left && (exitingAt === -1 || cleanAt < exitingAt),
        `the process exited ${exitMs} ms after SIGTERM, with the handler's clean-up cut off: its last record says ` +
          `state "${last.state}", file handle "${last.fileHandle}", scratch file "${last.resources?.['scratch file']}"` +
          (left ? `, and data/scratch/${pid}-1.part is still on disk` : ''),
      );

      const answer = reading.messages.find((m) => 'id' in m && m.id === 1) as
        { result?: { isError?: boolean; content?: { text?: string }[] } } | undefined;
      const text = answer?.result?.content?.[0]?.text ?? '';
      run.expect(
        'the caller is told why its call stopped, before its stream ends',
        answer?.result?.isError === true && text.includes('server shutting down'),
        answer
          ? `the caller got ${JSON.stringify(answer).slice(0, 200)}`
          : "the response stream of #1 ended with no answer: the sessions were closed before the handler's " +
              'reply ("Stopped after N of 12 chunks: server shutting down") went out',
      );

      const exiting = records.find(isShutdown('exiting')) as Shutdown | undefined;
      run.expect(
        'it exits 0, with no call still running',
        code === 0 && exiting?.code === 0 && exiting.stillRunning === 0,
        `it exited ${code} and its "exiting" record says ${exiting ? `stillRunning ${exiting.stillRunning}, code ${exiting.code}` : 'nothing (none was written)'}`,
      );

      // A call that never cleans up: the shutdown must give it deadlineMs, then say so with exit code 1.
      const stuck = startTs(STUCK, ['--shutdown', shutdownFile, '--shutdown-deadline-ms', String(DEADLINE_MS)]);
      run.afterwards(() => stuck.stop());
      const ready = await within(10_000, stuck.waitForLine(/ready/));
      run.require('the stuck call is ready', ready !== undefined, `stuck-call.ts did not start:\n${stuck.output()}`);
      const stuckSentAt = performance.now();
      stuck.child.kill('SIGTERM');
      const stuckCode = await within(DEADLINE_MS + 3000, stuck.exited);
      const waited = Math.round(performance.now() - stuckSentAt);
      const said = stuck.proof().find(isShutdown('exiting')) as Shutdown | undefined;
      run.expect(
        'a call still running at the deadline: it waits the deadline, then exits 1',
        stuckCode === 1 && waited >= DEADLINE_MS - 20 && said?.code === 1 && said.stillRunning === 1,
        stuckCode === undefined
          ? `${DEADLINE_MS + 3000} ms after SIGTERM the process has not exited: the wait has no deadline`
          : `with a call that never cleans up and a ${DEADLINE_MS} ms deadline, it exited ${stuckCode} ${waited} ms ` +
              `after SIGTERM (its "exiting" record: ${said ? `stillRunning ${said.stillRunning}, code ${said.code}` : 'none'})`,
      );
    }),
};
