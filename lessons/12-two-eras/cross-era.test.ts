// Lesson 12, across the eras: the four scenarios of scenarios.ts, each against lesson 01's server
// (2025-11-25, SDK 1.x) and this lesson's (2026-07-28, SDK 2.x), with the same SDK 2.x client.
// Each test compares what was seen with what the scenario expects of that era (the job as the
// server reports it, /proc, the wire, the caller), then checks what the servers logged and what
// the SDK reported on its side. The last test prints the table and keeps the README's copy honest.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SdkError, SdkErrorCode, type RequestId } from '@modelcontextprotocol/client';
import { checkReadmeOutput, type Normaliser } from '../shared/readme-output.ts';
import { assertProvedInOrder, jobWhere, type Proof } from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';
import {
  ERAS,
  SCENARIOS,
  expectedFacts,
  normaliseFact,
  outcomeTable,
  runScenario,
  startEraServers,
  type Era,
  type EraServers,
  type Outcome,
  type Scenario,
} from './scenarios.ts';

const README = join(import.meta.dirname, 'README.md');

/** The table's columns are padded to their widest cell, which a chunk number can change. */
const TABLE_NORMALISERS: Normaliser[] = [
  [/ {2,}/g, ' '],
  [/-{2,}/g, '-'],
];

describe('lesson 12: the same cancels in both eras, one SDK 2.x client', { timeout: scaled(60_000) }, () => {
  let servers: EraServers;
  const outcomes = new Map<Scenario, Map<Era, Promise<Outcome>>>();

  /** Runs each scenario once per era, in the order asked, whichever test asks first. */
  function outcomeOf(scenario: Scenario, era: Era): Promise<Outcome> {
    const byEra = outcomes.get(scenario) ?? new Map<Era, Promise<Outcome>>();
    outcomes.set(scenario, byEra);
    if (!byEra.has(era)) byEra.set(era, runScenario(servers.clients[era], scenario));
    return byEra.get(era)!;
  }

  const serverLog = (era: Era) => servers.lines(era);
  const records = (era: Era) => servers.proof(era) as Proof[];
  /** Waits for the `era` server's record that `matches`, and returns it. */
  const proved = (era: Era, what: string, matches: (record: Proof) => boolean) =>
    waitFor(`the ${era} server's record of ${what}`, () => records(era).find(matches), { timeoutMs: 15_000 });
  const cancelFor = (id: RequestId, matched: string) => (r: Proof) =>
    r.type === 'cancel' && r.requestId === id && r.matched === matched;
  const lateReplyTo = (id: RequestId) => (error: string) =>
    error.startsWith('Received a response for an unknown message ID') && error.includes(`"id":${JSON.stringify(id)},`);

  before(async () => {
    servers = await startEraServers();
  });
  after(async () => {
    await servers?.stop();
  });

  test('the same client negotiates each era: 2025 after server/discover fails, 2026 from server/discover', () => {
    const opening = (era: Era) =>
      servers.clients[era].sent.slice(0, 4).map((s) => `${s.message?.method ?? s.http} ${s.status}`);
    assert.deepEqual(opening('2025-11-25'), [
      'server/discover 400',
      'initialize 200',
      'notifications/initialized 202',
      'GET 200',
    ]);
    assert.equal(servers.clients['2025-11-25'].client.getProtocolEra(), 'legacy');
    assert.deepEqual(opening('2026-07-28'), ['server/discover 200']);
    assert.equal(servers.clients['2026-07-28'].client.getProtocolEra(), 'modern');
  });

  // What each scenario also shows, beyond its facts: the servers' own logs and the SDK's side.
  const alsoShows: Record<string, (outcome: Outcome) => Promise<void>> = {
    async 'cancel mid-run'({ era, calls: [call] }) {
      const id = await call!.id;
      const state = call!.state();
      assert.ok(state.status === 'rejected' && state.error instanceof SdkError, 'the call rejected with an SdkError');
      assert.equal(state.error.code, SdkErrorCode.RequestTimeout, 'a user abort has the timeout code');
      assert.equal(state.error.message, 'the user cancelled', 'its message is the abort reason');

      // The server's records, in order: the cancel arrived (the notification with its reason in
      // 2025-11-25; the client closing the call's stream in 2026-07-28), the handler stopped, the
      // file closed, and the reply went out (-32800), or nothing did.
      const cancelArrived = {
        '2025-11-25': cancelFor(id, 'running'),
        '2026-07-28': (r: Proof) => r.type === 'exchange' && r.requestId === id && r.ended === 'closed by the client',
      }[era];
      const reply = era === '2025-11-25' ? 'error -32800' : 'nothing';
      await proved(
        era,
        `#${id}'s reply`,
        jobWhere(id, (job) => job.reply === reply),
      );
      assertProvedInOrder(records(era), [
        ['the cancel arriving', cancelArrived],
        ['the cancel noted on the job', jobWhere(id, (job) => job.cancelReceivedAtMs !== undefined)],
        ['the handler stopping', jobWhere(id, (job) => job.state === 'cancelled')],
        ['the file closing', jobWhere(id, (job) => job.fileHandle === 'closed')],
        ['the reply', jobWhere(id, (job) => job.reply === reply)],
      ]);
      if (era === '2025-11-25')
        assert.ok(records(era).some(jobWhere(id, (job) => job.cancelReason === 'the user cancelled')));
      if (era === '2025-11-25') {
        // The -32800 reaches a client that already gave up: SDK 2.x drops it and reports it to onerror.
        const errors = servers.clients[era].errors;
        const late = await waitFor('the late -32800 to reach onerror', () => errors.find(lateReplyTo(id)));
        assert.match(late, /"code":-32800/);
      }
    },

    async 'cancel after completion'({ era, calls: [call] }) {
      const id = await call!.id;
      // The cancel sent by hand reached the server, and the server said it stopped nothing.
      const ignored = { '2025-11-25': 'completed', '2026-07-28': 'nothing: it arrived as its own request' }[era];
      await proved(era, `the late cancel for #${id}`, cancelFor(id, ignored));
    },

    async 'disconnect mid-run'({ era, calls: [call] }) {
      const id = await call!.id;
      const { sent, errors } = servers.clients[era];
      const cancels = sent.filter((s) => s.message?.method === 'notifications/cancelled');
      const cancelsFor = cancels.filter((s) => s.message?.params?.requestId === id);
      if (era === '2025-11-25') {
        // The SDK saw its SSE stream break, did not resume it (no event ids to resume from), and kept
        // waiting. The abort that ended the scenario then sent a cancel the server could only ignore.
        assert.ok(errors.includes('SSE stream disconnected: Error: connection lost'), errors.join('\n'));
        assert.equal(cancelsFor.length, 1, 'the closing abort sent one notifications/cancelled');
        await proved(era, `the cancel for #${id}, ignored`, cancelFor(id, 'completed'));
      } else {
        // The POST failed before any response: the fetch's own error reached the caller and onerror.
        assert.ok(errors.includes('connection lost'), errors.join('\n'));
        assert.equal(cancelsFor.length, 0, 'no cancel, then or at the closing abort');
        assert.ok(
          records(era).some(jobWhere(id, (job) => job.cancelReceivedAtMs !== undefined)),
          'the server saw the disconnect as the cancel',
        );
      }
    },

    async 'three calls, middle cancelled'({ era, calls }) {
      const ids = await Promise.all(calls.map((call) => call.id));
      const errors = servers.clients[era].errors;
      if (era === '2025-11-25') {
        await waitFor('the late -32800 for call 2 to reach onerror', () => errors.find(lateReplyTo(ids[1]!)));
      }
      for (const id of [ids[0]!, ids[2]!]) {
        assert.ok(!errors.some(lateReplyTo(id)), `call #${id}'s result went to its caller, not to onerror`);
      }
    },
  };

  for (const scenario of SCENARIOS) {
    for (const era of ERAS) {
      test(`${scenario.name} [${era}]: ${scenario.does}`, async () => {
        const outcome = await outcomeOf(scenario, era);
        const seen = Object.fromEntries(
          Object.entries(outcome.facts).map(([name, fact]) => [name, normaliseFact(fact)]),
        );
        assert.deepEqual(
          seen,
          expectedFacts(scenario, era),
          `the ${era} server's log:\n${serverLog(era).slice(-40).join('\n')}`,
        );
        await alsoShows[scenario.name]!(outcome);
      });
    }
  }

  test('the client never resumed, retried or re-initialized, in either era', async () => {
    for (const scenario of SCENARIOS) for (const era of ERAS) await outcomeOf(scenario, era);
    for (const era of ERAS) {
      const { sent } = servers.clients[era];
      const resumed = sent.filter((s) => s.lastEventId !== null);
      assert.deepEqual(resumed, [], `${era}: no GET with Last-Event-ID`);
      const ids = sent.flatMap((s) => (s.message?.id === undefined ? [] : [s.message.id]));
      assert.equal(new Set(ids).size, ids.length, `${era}: no request id sent twice`);
      // 2025: one session for everything (one initialize, one standalone GET stream); 2026: neither.
      const once = era === '2025-11-25' ? 1 : 0;
      assert.equal(sent.filter((s) => s.message?.method === 'initialize').length, once);
      assert.equal(sent.filter((s) => s.http === 'GET').length, once);
    }
  });

  test('the outcome table, as README.md shows it', async (t) => {
    const all: Outcome[] = [];
    for (const scenario of SCENARIOS) for (const era of ERAS) all.push(await outcomeOf(scenario, era));
    const table = outcomeTable(all);
    console.log(['', ...table, ''].join('\n'));
    // docs:update runs only this test: never write a table that differs from what the eras should show.
    assert.deepEqual(
      all.flatMap((outcome) =>
        outcome.mismatches.map((mismatch) => `${outcome.scenario.name} [${outcome.era}] ${mismatch}`),
      ),
      [],
    );
    if (!existsSync(README)) return t.skip('lessons/12-two-eras/README.md is not written yet');
    checkReadmeOutput(README, 'cross-era-table', table, TABLE_NORMALISERS);
  });
});
