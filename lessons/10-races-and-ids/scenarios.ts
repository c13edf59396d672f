// Lesson 10 client's other scenarios (client.ts writes out second-cancel), each a story of the same
// shape: start calls, cancel, print what came back, ask the server what it did; and the runner that
// says which of a scenario's checks held.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { cancelInitialize } from './cancel-initialize.ts';
import { cancelAfterMs, chunks, expected, type Scenario } from './client-flags.ts';
import { Session } from './recording-session.ts';
import { describe } from './what-came-back.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

/** Each scenario returns the checks that make it pass: [what, held]. */
export type Checks = [string, boolean][];
export type Entry = { about: string; run: () => Promise<Checks> };

/** Runs each scenario in turn and says whether its checks held; returns those that did not, as "scenario: what". */
export async function runScenarios(names: readonly Scenario[], run: Record<Scenario, Entry>, log: Timeline) {
  const failed: string[] = [];
  for (const scenario of names) {
    log.event(`== ${scenario}: ${run[scenario].about}`);
    const checks = await run[scenario].run();
    const missed = checks.filter(([, held]) => !held).map(([what]) => what);
    prove({ type: 'scenario', scenario, checks: checks.map(([what]) => what), missed });
    if (missed.length === 0) log.ok(`${scenario}: as expected`);
    else log.fail(`${scenario}: NOT as expected; these did not hold: ${missed.join('; ')}`);
    failed.push(...missed.map((what) => `${scenario}: ${what}`));
  }
  return failed;
}

/** Every scenario but second-cancel, each on the `main` session (or sessions of its own). */
export function otherScenarios(main: Session): Record<Exclude<Scenario, 'second-cancel'>, Entry> {
  const log = main.log;

  async function afterCompletion(): Promise<Checks> {
    const { id, settled } = await main.startCall(2);
    const outcome = describe(main, id, await settled);
    const before = await main.report(id);
    const status = await main.cancel(id, 'too late');
    const after = await main.report(id);
    return [
      ['the call completed', outcome === 'result'],
      ['the cancel got HTTP 202', status === 202],
      ['the job record did not change', JSON.stringify(before) === JSON.stringify(after)],
      ['the session keeps serving', await main.stillServing()],
    ];
  }

  async function unknownId(): Promise<Checks> {
    const status = await main.cancel(999, 'no such request');
    const sentIds = main.sent.filter((m) => 'id' in m && 'method' in m).map((m) => (m as { id: RequestId }).id);
    log.detail(`[${main.tag}] ids this session has sent: ${JSON.stringify(sentIds)}`);
    return [
      ['the cancel got HTTP 202', status === 202],
      ['no JSON-RPC message came back for it', main.repliesTo(999).length === 0],
      ['the session keeps serving', await main.stillServing()],
    ];
  }

  async function threeCalls(): Promise<Checks> {
    const calls = [await main.startCall(), await main.startCall(), await main.startCall()];
    const [first, middle, last] = calls as [(typeof calls)[0], (typeof calls)[0], (typeof calls)[0]];
    await sleep(cancelAfterMs);
    await main.cancel(middle.id, 'not this one');
    const outcomes: string[] = [];
    for (const { id, settled } of calls) outcomes.push(describe(main, id, await settled)); // in call order
    const [a, b, c] = [await main.report(first.id), await main.report(middle.id), await main.report(last.id)];
    if (expected === 'too-late')
      return [
        ['all three completed', outcomes.every((outcome) => outcome === 'result')],
        ['all their chunks', [a, b, c].every((job) => job.chunksDone === chunks)],
        ['no cancel recorded: the server ignored it', [a, b, c].every((job) => job.cancelReason === undefined)],
        ['every file handle closed', [a, b, c].every((job) => job.fileHandle === 'closed')],
      ];
    return [
      ['the first and last completed', outcomes[0] === 'result' && outcomes[2] === 'result'],
      ['all their chunks', a.chunksDone === chunks && c.chunksDone === chunks],
      ['the middle one was cancelled', outcomes[1] === 'cancelled' && b.state === 'cancelled'],
      ['before its last chunk', b.chunksDone < chunks],
      ['no cancel recorded on the others', a.cancelReason === undefined && c.cancelReason === undefined],
      ['every file handle closed', [a, b, c].every((job) => job.fileHandle === 'closed')],
    ];
  }

  async function crossSession(): Promise<Checks> {
    // Two fresh sessions: each numbers its requests from 0, so both first calls are #1.
    const [alice, bob] = [new Session(log), new Session(log)];
    await Promise.all([alice.connect(), bob.connect()]);
    log.detail(`sessions ${alice.transport.sessionId} and ${bob.transport.sessionId}`);
    prove({ type: 'sessions', alice: alice.transport.sessionId, bob: bob.transport.sessionId });
    const [aCall, bCall] = [await alice.startCall(), await bob.startCall()];
    await sleep(cancelAfterMs);
    await bob.cancel(bCall.id, 'only mine');
    const outcomes = [describe(alice, aCall.id, await aCall.settled), describe(bob, bCall.id, await bCall.settled)];
    const [a, b] = [await alice.report(aCall.id), await bob.report(bCall.id)];
    await Promise.all([alice.close(), bob.close()]);
    return [
      ['both calls had the same id', aCall.id === bCall.id],
      ["the other session's call completed", outcomes[0] === 'result' && a.state === 'completed'],
      ['no cancel recorded on it', a.cancelReason === undefined],
      ["this session's call was cancelled", outcomes[1] === 'cancelled' && b.state === 'cancelled'],
    ];
  }

  async function idTypes(): Promise<Checks> {
    const initialize = main.sent.find((m) => 'method' in m && m.method === 'initialize') as { id: RequestId };
    log.detail(`[${main.tag}] the SDK sent initialize as #${JSON.stringify(initialize.id)}; its calls count up from 1`);
    const { id, settled } = await main.startCall();
    await sleep(cancelAfterMs);
    await main.cancel(String(id), 'wrong type');
    const chunksThen = (await main.jobStatus(id)).chunksDone;
    // Not stopped: it reads on. Wait for two more chunks rather than for a fixed time.
    const still = await waitFor(`#${id} to read on`, async () => {
      const job = await main.jobStatus(id);
      return (job.state !== 'running' || job.chunksDone >= chunksThen + 2) && job;
    });
    log.detail(`[${main.tag}] #${id} is still ${still.state}: chunk ${chunksThen} then, ${still.chunksDone} now`);
    await main.cancel(id, 'right type');
    const outcome = describe(main, id, await settled);
    const job = await main.report(id);
    return [
      ['initialize was #0', initialize.id === 0],
      ['the call id is a number', typeof id === 'number'],
      ['"N" stopped nothing', still.state === 'running' && still.chunksDone > chunksThen],
      ['N stopped it', outcome === 'cancelled' && job.cancelReason === 'right type'],
    ];
  }

  return {
    'after-completion': { about: 'cancel a call that already completed', run: afterCompletion },
    'unknown-id': { about: 'cancel an id this session never sent', run: unknownId },
    'three-calls': { about: 'three calls at once; cancel the middle one', run: threeCalls },
    'cross-session': { about: 'two sessions, the same request id; cancel on one', run: crossSession },
    'id-types': { about: 'initialize is #0; "N" does not cancel N', run: idTypes },
    initialize: { about: 'initialize MUST NOT be cancelled; what SDK 1.x does', run: () => cancelInitialize(log) },
  };
}
