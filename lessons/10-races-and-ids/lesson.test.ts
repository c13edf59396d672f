// Lesson 10, end to end: the real server and client processes on ephemeral ports, SDK clients that
// record what they send, and plain HTTP for ids and cancels the SDK client would never send. Every
// claim in the README is checked here, on the server's side: job states, the server log, /proc.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, LATEST_PROTOCOL_VERSION, McpError, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import {
  Client as Client2,
  SdkError,
  SdkErrorCode,
  StreamableHTTPClientTransport as StreamableHTTPClientTransport2,
  type JSONRPCMessage as JSONRPCMessage2,
} from '@modelcontextprotocol/client';
import { startLessonServer, startTs } from '../shared/processes.ts';
import { checkReadmeOutput, checkReadmePair } from '../shared/readme-output.ts';
import { serverRunner, type LessonServer } from '../shared/shared-servers.ts';
import { openRawSession, type RawSession } from '../shared/raw-mcp.ts';
import {
  assertProvedInOrder,
  canSeeFileDescriptors,
  connectRecordingClient,
  jobWhere,
  jsonRpcErrorMessage,
  lineIndex,
  onlyProof,
  openDescriptorsTo,
  proofOf,
  textOf,
  type Proof,
  asShipped,
} from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const README = join(import.meta.dirname, 'README.md');
const EXERCISE = join(import.meta.dirname, 'exercise-server.ts');
/** True when git says the file is as committed: a learner's work in progress is not the exercise as given. */
const asGiven = asShipped;

type Server = LessonServer;
const runner = serverRunner(SERVER);
/** The file's shared server, or one of its own (`{ own: true }`: it stops it, or reads its whole log). */
const withServer = (body: (server: Server) => Promise<void>, options: { own?: boolean } = {}) =>
  runner([], body, options);

const fileDescriptorsOpen = (server: Server) =>
  openDescriptorsTo(server.child.pid!, '10-races-and-ids/data/sample.txt');

const call = (id: string | number, chunks: number, chunkDelayMs = 50): JSONRPCMessage => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
});
const cancel = (requestId: unknown, reason = 'test') => ({
  jsonrpc: '2.0',
  method: 'notifications/cancelled',
  params: { requestId, reason },
});

interface JobReport {
  state: string;
  chunksDone: number;
  chunksTotal: number;
  cancelReason?: string;
  chunksDoneWhenCancelArrived?: number;
  fileHandle: string;
  reply?: string;
}

let statusId = 1000;
async function jobStatus(session: RawSession, requestId: string | number): Promise<JobReport> {
  const reading = await session.stream({
    jsonrpc: '2.0',
    id: statusId++,
    method: 'tools/call',
    params: { name: 'get_job_status', arguments: { requestId } },
  });
  await reading.done;
  const reply = reading.messages[0] as unknown as { result: { structuredContent: JobReport } };
  return reply.result.structuredContent;
}

/** A cancel is a notification: the answer is HTTP 202 with an empty body, never a JSON-RPC error. */
async function postCancel(session: RawSession, requestId: unknown, reason?: string) {
  const response = await session.post(cancel(requestId, reason));
  assert.equal(response.status, 202);
  assert.equal(await response.text(), '');
}

/**
 * A plain-HTTP session whose initialize has the id you choose (openRawSession's uses 0), so a test
 * can send a call with id 0 without reusing an id within the session, which the spec forbids.
 */
async function openSessionWithInitializeId(url: string, initializeId: string) {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: initializeId,
      method: 'initialize',
      params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    }),
  });
  const initText = await init.text();
  const sessionId = init.headers.get('mcp-session-id')!;
  const post = (body: unknown) =>
    fetch(url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': sessionId, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
      body: JSON.stringify(body),
    });
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
  return {
    sessionId,
    initText,
    post,
    close: () => fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': sessionId } }),
  };
}

/** The server's record (lessons/01's noteCancel) of a notifications/cancelled for `requestId`, and what it matched. */
const cancelOf = (requestId: unknown, matched: string | string[]) => (record: Proof) =>
  record.type === 'cancel' && record.requestId === requestId && [matched].flat().includes(record.matched);
/** Job `requestId` of session `session`, for which `holds` is true. */
const jobIn = (session: string, requestId: string | number, holds: (job: Proof) => boolean = () => true) =>
  jobWhere(requestId, (job) => job.session === session && holds(job));
/** How many times a job's handler stopped: each stop sets stoppedAt once. */
const stopsOf = (jobs: Proof[]) => new Set(jobs.map((job) => job.stoppedAtMs).filter((ms) => ms !== undefined)).size;
const sessionsThat = (server: Server, state: 'started' | 'ended') =>
  proofOf(server, 'session')
    .filter((r) => r.state === state)
    .map((r) => r.session as string);

describe('lesson 10: the client runs every scenario, and the server agrees', { timeout: scaled(60_000) }, () => {
  const extra: [RegExp, string][] = [
    [/\[[0-9a-f]{8}\]/g, '[session]'],
    [/chunk \d+ then, \d+ now/, 'chunk N then, M now'],
  ];
  const asDocumented = (lines: string[], url: string) =>
    lines.map((line) => line.replaceAll(url, 'http://127.0.0.1:3110/mcp'));

  test('all scenarios: the client exits 0, the server log and /proc back it, the README shows it', async () => {
    await withServer(
      async (server) => {
        const client = startTs(CLIENT, ['--url', server.url]);
        assert.equal(await client.exited, 0, client.output());
        // Every scenario's checks held, by the client's own account.
        assert.deepEqual(
          proofOf(client, 'scenario').map((r) => [r.scenario, r.missed]),
          [
            'after-completion',
            'unknown-id',
            'second-cancel',
            'three-calls',
            'cross-session',
            'id-types',
            'initialize',
          ].map((scenario) => [scenario, []]),
        );
        const [main] = sessionsThat(server, 'started'); // the client's first session runs every scenario but two
        await server.waitForProof(
          'its session to end',
          (r) => r.type === 'session' && r.session === main && r.state === 'ended',
        );
        await server.waitForLine(/session \S+ ended/); // the README's server block is read in full
        const records = server.proof();
        const jobs = (id: number, session = main!) => proofOf(server, 'job').filter(jobIn(session, id));

        // after-completion: the call completed, then the cancel was ignored; so was one for an id never sent.
        assertProvedInOrder(records, [
          ['#1 completing all 2 chunks', jobIn(main!, 1, (job) => job.state === 'completed' && job.chunksDone === 2)],
          ['the cancel for #1, which had completed', cancelOf(1, 'completed')],
          ['the cancel for 999, which matched nothing', cancelOf(999, 'nothing')],
        ]);
        assert.ok(
          jobs(1).every((job) => job.cancelReason === undefined),
          'the late cancel changed nothing',
        );
        // second-cancel: one stop, on the first cancel; the other is ignored (the handler was stopping, or had stopped).
        assert.equal(stopsOf(jobs(6)), 1);
        assert.deepEqual(
          [jobs(6).at(-1)?.state, jobs(6).at(-1)?.cancelReason, jobs(6).at(-1)?.reply],
          ['cancelled', 'first', 'error -32800'],
        );
        assert.equal(proofOf(server, 'cancel').filter(cancelOf(6, 'running')).length, 1);
        assert.equal(proofOf(server, 'cancel').filter(cancelOf(6, ['a job already stopping', 'cancelled'])).length, 1);
        // three-calls: 8 and 10 completed, 9 stopped and freed its file.
        for (const id of [8, 10]) {
          assert.deepEqual([jobs(id).at(-1)?.state, jobs(id).at(-1)?.chunksDone], ['completed', 10]);
          assert.equal(stopsOf(jobs(id)), 0);
        }
        assertProvedInOrder(records, [
          ['the cancel for #9', jobIn(main!, 9, (job) => job.cancelReason === 'not this one')],
          ['#9 stopping', jobIn(main!, 9, (job) => job.state === 'cancelled' && job.chunksDone < 10)],
          ['#9 closing its file', jobIn(main!, 9, (job) => job.fileHandle === 'closed')],
        ]);
        // cross-session: two sessions each ran a #1; the cancel on the second stopped only its own.
        const { alice, bob } = onlyProof(client, 'sessions');
        assert.deepEqual([jobs(1, alice).at(-1)?.state, jobs(1, alice).at(-1)?.chunksDone], ['completed', 10]);
        assert.ok(jobs(1, alice).every((job) => job.cancelReason === undefined && job.stoppedAtMs === undefined));
        assert.deepEqual(
          [jobs(1, bob).at(-1)?.state, jobs(1, bob).at(-1)?.cancelReason, stopsOf(jobs(1, bob))],
          ['cancelled', 'only mine', 1],
        );
        // id-types: "14" matched nothing; 14 stopped it.
        assertProvedInOrder(records, [
          ['the cancel for "14", the wrong JSON type', cancelOf('14', 'an id of the other JSON type')],
          ['the cancel for 14', cancelOf(14, 'running')],
          ['#14 stopping', jobIn(main!, 14, (job) => job.state === 'cancelled' && job.cancelReason === 'right type')],
        ]);
        // Every file handle is closed: the process holds no descriptor for the file.
        if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 0);

        // initialize: the server made a session for the aborted connect, which nobody ended. It is still there.
        const ended = new Set(sessionsThat(server, 'ended'));
        const orphans = sessionsThat(server, 'started').filter((id) => !ended.has(id));
        assert.equal(orphans.length, 1, records.map((r) => JSON.stringify(r)).join('\n'));
        const ping = await fetch(server.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-session-id': orphans[0]!,
            'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
        });
        assert.equal(ping.status, 200);
        assert.match(await ping.text(), /"result":\{\}/);

        const [out, log] = [client.lines, server.lines];
        const shown = (lines: string[], from: RegExp, to: RegExp) =>
          asDocumented(lines.slice(lineIndex(lines, from), lineIndex(lines, to) + 1), server.url);
        checkReadmePair(
          README,
          [
            ['server', shown(log, /listening on/, /for 999 matches no request/)],
            ['client', shown(out, /connecting to/, /unknown-id: as expected/)],
          ],
          extra,
        );
        for (const scenario of ['second-cancel', 'three-calls', 'cross-session', 'id-types', 'initialize']) {
          const block = shown(out, new RegExp(`== ${scenario}:`), new RegExp(`${scenario}: as expected`));
          checkReadmeOutput(README, `client: ${scenario}`, block, extra);
        }
      },
      { own: true },
    );
  });

  test('--scenario runs one; a bad flag is named', async () => {
    await withServer(async (server) => {
      const client = startTs(CLIENT, ['--url', server.url, '--scenario', 'unknown-id']);
      assert.equal(await client.exited, 0, client.output());
      assert.deepEqual(
        proofOf(client, 'scenario').map((r) => [r.scenario, r.missed]),
        [['unknown-id', []]],
      );
      const bad = startTs(CLIENT, ['--url', server.url, '--scenario', 'nope']);
      assert.equal(await bad.exited, 2);
      assert.match(bad.output(), /--scenario must be one of after-completion, unknown-id, .*; got "nope"/);
    });
    const badPort = startTs(SERVER, ['--port', 'abc']);
    assert.equal(await badPort.exited, 2);
    assert.match(badPort.output(), /--port must be a whole number from 0 to 65535; got "abc"/);
  });

  test(
    'two terminals: the client against the unsolved exercise misses id-types, not cross-session, and exits 1',
    { skip: !asGiven(EXERCISE) && 'the exercise file is being worked on' },
    async () => {
      const server = await startLessonServer(EXERCISE);
      try {
        const client = startTs(CLIENT, ['--url', server.url]);
        assert.equal(await client.exited, 1, client.output());
        const missed = Object.fromEntries(proofOf(client, 'scenario').map((r) => [r.scenario, r.missed]));
        assert.deepEqual(missed['id-types'], ['"N" stopped nothing', 'N stopped it']);
        // The client cancels on the session whose #1 started last: the one the exercise's table holds.
        for (const scenario of ['after-completion', 'unknown-id', 'second-cancel', 'three-calls', 'cross-session'])
          assert.deepEqual(missed[scenario], [], scenario);
        assert.match(client.output(), /id-types: NOT as expected; these did not hold: "N" stopped nothing/);
      } finally {
        await server.stop();
      }
    },
  );
});

describe('lesson 10 on the wire: races and ids over plain HTTP', { timeout: scaled(60_000) }, () => {
  test('cancel after completion, an unknown id, a malformed cancel: 202, ignored, nothing changed, still serving', async () => {
    await withServer(async (server) => {
      const session = await openRawSession(server.url);
      const done = await session.stream(call(5, 2, 0));
      await done.done;
      const before = await jobStatus(session, 5);
      await postCancel(session, 5);
      await server.waitForProof('the cancel for #5, which had completed', cancelOf(5, 'completed'));
      assert.deepEqual(await jobStatus(session, 5), before);
      assert.equal(before.state, 'completed');

      await postCancel(session, 77);
      await server.waitForProof('the cancel for 77, which matched nothing', cancelOf(77, 'nothing'));
      // Malformed: a requestId that is neither string nor number. The spec says to ignore invalid cancels.
      const malformed = await session.post({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: null },
      });
      assert.equal(malformed.status, 202);
      assert.equal(await malformed.text(), '');
      await server.waitForProof('the malformed cancel', (r) => r.type === 'cancel' && r.matched === 'invalid params');
      // No requestId at all: the same empty 202, and the server says it names no request.
      const noId = await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { reason: 'x' } });
      assert.equal(noId.status, 202);
      assert.equal(await noId.text(), '');
      await server.waitForProof(
        'the cancel naming no request',
        (r) => r.type === 'cancel' && r.matched === 'no requestId',
      );

      const next = await session.stream(call(6, 2, 0));
      await next.done;
      assert.match(JSON.stringify(next.messages), /Processed sample.txt: 2 chunks/);
      await session.close();
    });
  });

  test('a second cancel stops nothing more: one stop, one reply on the wire', async () => {
    await withServer(async (server) => {
      const session = await openRawSession(server.url);
      const reading = await session.stream(call(3, 100));
      await server.waitForJob(3, (job) => job.chunksDone >= 2, { session: session.sessionId });
      // In order (the second leaves once the first is accepted), so which one the server reads first is known.
      await postCancel(session, 3, 'first');
      await postCancel(session, 3, 'second');
      await reading.done;
      const replies = reading.messages.filter((m) => 'id' in m && m.id === 3);
      assert.equal(replies.length, 1);
      assert.equal((replies[0] as { error?: { code: number } }).error?.code, -32800);
      await server.waitForProof('the second cancel, ignored', cancelOf(3, ['a job already stopping', 'cancelled']));
      const job = await jobStatus(session, 3);
      assert.deepEqual(
        [job.state, job.cancelReason, job.reply, job.fileHandle],
        ['cancelled', 'first', 'error -32800', 'closed'],
      );
      assert.equal(stopsOf(proofOf(server, 'job').filter(jobIn(session.sessionId, 3))), 1);
      await session.close();
    });
  });

  test('three calls, the middle one cancelled: it alone stops and closes its file; the others finish in full', async () => {
    await withServer(async (server) => {
      const session = await openRawSession(server.url);
      // The outer calls pause 1 s after each of their 3 chunks, the middle one 50 ms after each of 30:
      // the middle one is cancelled and gone long before the outer ones can finish, so /proc is read
      // while they still run.
      const [outer, middle] = [(id: number) => call(id, 3, 1000), (id: number) => call(id, 30, 50)];
      const readings = await Promise.all([outer(21), middle(22), outer(23)].map((message) => session.stream(message)));
      for (const [id, chunks] of [
        [21, 1],
        [22, 2],
        [23, 1],
      ] as const)
        await server.waitForJob(id, (job) => job.chunksDone >= chunks, { session: session.sessionId });
      if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 3);
      await postCancel(session, 22);
      await server.waitForJob(22, (job) => job.state === 'cancelled' && job.fileHandle === 'closed', {
        session: session.sessionId,
      });
      if (canSeeFileDescriptors) {
        const open = fileDescriptorsOpen(server);
        const others = await Promise.all([21, 23].map((id) => jobStatus(session, id)));
        assert.deepEqual(
          others.map((job) => job.state),
          ['running', 'running'],
          'the outer calls still ran after /proc was read',
        );
        assert.equal(open, 2);
      }
      await Promise.all(readings.map((reading) => reading.done));
      for (const id of [21, 23]) {
        const job = await jobStatus(session, id);
        assert.deepEqual(
          [job.state, job.chunksDone, job.cancelReason, job.fileHandle],
          ['completed', 3, undefined, 'closed'],
        );
      }
      const stopped = await jobStatus(session, 22);
      assert.equal(stopped.state, 'cancelled');
      assert.ok(stopped.chunksDone < 30);
      // Within one chunk of the cancel: at most the chunk being read when it came.
      assert.ok(stopped.chunksDone - stopped.chunksDoneWhenCancelArrived! <= 1, JSON.stringify(stopped));
      assert.equal(stopped.fileHandle, 'closed');
      if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 0);
      await session.close();
    });
  });

  test('the same id in two sessions: a cancel on one never touches the other', async () => {
    await withServer(async (server) => {
      const [a, b] = await Promise.all([openRawSession(server.url), openRawSession(server.url)]);
      const [readingA, readingB] = await Promise.all([a.stream(call(1, 20)), b.stream(call(1, 20))]);
      for (const { sessionId } of [a, b])
        await server.waitForJob(1, (job) => job.chunksDone >= 2, { session: sessionId });
      await postCancel(b, 1, 'only b');
      await Promise.all([readingA.done, readingB.done]);
      assert.match(JSON.stringify(readingA.messages), /Processed sample.txt: 20 chunks/);
      assert.equal((readingB.messages.at(-1) as { error?: { code: number } }).error?.code, -32800);
      const [jobA, jobB] = [await jobStatus(a, 1), await jobStatus(b, 1)];
      assert.deepEqual([jobA.state, jobA.chunksDone, jobA.cancelReason], ['completed', 20, undefined]);
      assert.deepEqual([jobB.state, jobB.cancelReason], ['cancelled', 'only b']);
      await Promise.all([a.close(), b.close()]);
    });
  });

  test('ids keep their JSON type: "7" is cancelled by "7", not by 7, and its reply carries "7"', async () => {
    await withServer(async (server) => {
      const session = await openRawSession(server.url);
      const reading = await session.stream(call('7', 100));
      await server.waitForJob('7', (job) => job.chunksDone >= 2, { session: session.sessionId });
      await postCancel(session, 7);
      await server.waitForProof('the cancel for 7, the wrong JSON type', cancelOf(7, 'an id of the other JSON type'));
      const chunksThen = (await jobStatus(session, '7')).chunksDone;
      await waitFor('"7" to read on', async () => (await jobStatus(session, '7')).chunksDone >= chunksThen + 2);
      await postCancel(session, '7');
      await reading.done;
      assert.deepEqual(reading.messages.at(-1), {
        jsonrpc: '2.0',
        id: '7',
        error: {
          code: -32800,
          message: 'Request cancelled',
          data: { reason: 'test', chunksDone: (await jobStatus(session, '7')).chunksDone, chunksTotal: 100 },
        },
      });
      await session.close();
    });
  });

  test('pinned #2283: SDK 1.32.2 still ignores a cancel for id 0 on a stock server (fixed in 2.1.0, PR #2654; lesson 02 pins 2.4.0 and has the 1.x workaround)', async () => {
    await withServer(async (server) => {
      const session = await openSessionWithInitializeId(server.url, 'init-1');
      const replying = session.post(call(0, 4)).then((response) => response.text());
      await server.waitForJob(0, (job) => job.chunksDone >= 1, { session: session.sessionId });
      const cancelled = await session.post(cancel(0));
      assert.equal(cancelled.status, 202);
      assert.match(await replying, /Processed sample.txt: 4 chunks/);
      // The server saw the cancel name the running #0; the SDK never aborted it: it completed.
      await server.waitForProof('the cancel for #0, while it ran', cancelOf(0, 'running'));
      const job = await server.waitForJob(0, (j) => j.state !== 'running', { session: session.sessionId });
      assert.deepEqual(
        [job.state, job.chunksDone, job.cancelReason, job.stoppedAtMs],
        ['completed', 4, 'test', undefined],
      );
      await session.close();
    });
  });
});

/**
 * A fetch that hands the server's answer to `initialize` to the SDK only after 2 s (sooner if the SDK
 * aborts that POST), so a connect() can be aborted once the server has answered. Records each POST.
 */
function slowInitializeAnswers() {
  const posts: { body: string; sessionId: string | null; outcome?: number | 'aborted' }[] = [];
  let answered = false;
  const slowFetch: typeof fetch = async (input, init) => {
    const post = { body: String(init?.body), sessionId: new Headers(init?.headers).get('mcp-session-id') };
    posts.push(post);
    const response = await fetch(input, init).catch((error: unknown) => {
      Object.assign(post, { outcome: 'aborted' });
      throw error;
    });
    Object.assign(post, { outcome: response.status });
    if (post.body.includes('"initialize"')) {
      answered = true;
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 2000);
        init?.signal?.addEventListener('abort', () => (clearTimeout(timer), reject(init.signal!.reason)));
      });
    }
    return response;
  };
  return { fetch: slowFetch, posts, answered: () => answered };
}

/** Method and id (or params, for a notification) of each message, as the client sent it. */
const methodsOf = (sent: { method?: string; id?: unknown; params?: unknown }[]) =>
  sent.map((m) => ('method' in m ? [m.method, 'id' in m ? m.id : m.params] : []));

describe('lesson 10: initialize MUST NOT be cancelled; what SDK 1.x does', { timeout: scaled(60_000) }, () => {
  test('pinned #998: SDK 1.32.2 still sends notifications/cancelled for initialize (#0) when connect() is aborted (fixed in 2.1.0, PR #2668)', async () => {
    await withServer(async (server) => {
      {
        const network = slowInitializeAnswers();
        const sent: JSONRPCMessage[] = [];
        const transport = new StreamableHTTPClientTransport(new URL(server.url), { fetch: network.fetch });
        const send = transport.send.bind(transport);
        transport.send = (message, options) => (sent.push(message as JSONRPCMessage), send(message, options));
        const client = new Client({ name: 'test', version: '1' });
        client.onerror = () => {};
        const controller = new AbortController();
        const connecting = client.connect(transport, { signal: controller.signal });
        await waitFor("the server's answer to initialize, still on its way to the SDK", network.answered);
        controller.abort('gave up');
        await assert.rejects(
          connecting,
          (error) => error instanceof McpError && error.code === ErrorCode.RequestTimeout,
        );
        assert.deepEqual(methodsOf(sent), [
          ['initialize', 0],
          ['notifications/cancelled', { requestId: 0, reason: 'gave up' }],
        ]);
        assert.equal(transport.sessionId, undefined);
        // That cancel had no session id to carry. The failed connect() closes the transport, which aborts
        // the cancel's POST; had it been answered, this server would have refused it (HTTP 400, next test).
        const cancelPost = await waitFor('the cancel POST to settle', () =>
          network.posts.find((post) => post.body.includes('notifications/cancelled') && post.outcome !== undefined),
        );
        assert.equal(cancelPost.sessionId, null);
        assert.ok(cancelPost.outcome === 'aborted' || cancelPost.outcome === 400, String(cancelPost.outcome));
        await server.waitForProof('the session made for it', (r) => r.type === 'session' && r.state === 'started');
      }
    });
  });

  test('over Streamable HTTP a cancel sent before initialize is answered has no session: HTTP 400', async () => {
    await withServer(async (server) => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(cancel(0)),
      });
      assert.equal(response.status, 400);
      assert.match(await jsonRpcErrorMessage(response), /no Mcp-Session-Id header\. Send initialize first/);
    });
  });

  test('a cancel naming an answered initialize is an unknown id: 202, ignored, the session serves on', async () => {
    await withServer(async (server) => {
      // initialize with a non-zero id, so what is shown is "unknown", not SDK 1.x's falsy-id skip.
      const { initText, post, close } = await openSessionWithInitializeId(server.url, 'init-1');
      assert.match(initText, /"id":"init-1"/);
      const cancelled = await post(cancel('init-1'));
      assert.equal(cancelled.status, 202);
      await server.waitForProof('the cancel for "init-1", which matched nothing', cancelOf('init-1', 'nothing'));
      const list = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      assert.match(await list.text(), /process_large_file/);
      await close();

      // The SDK client's initialize is #0: a cancel for it is skipped twice over (unknown, and falsy).
      const recording = await connectRecordingClient(server.url);
      assert.deepEqual(
        recording.sent.filter((m) => 'id' in m).map((m) => ['method' in m && m.method, 'id' in m && m.id]),
        [['initialize', 0]],
      );
      await recording.client.notification({ method: 'notifications/cancelled', params: { requestId: 0 } });
      await server.waitForProof('the cancel for 0, which matched nothing', cancelOf(0, 'nothing'));
      assert.equal(
        textOf(await recording.client.callTool({ name: 'get_job_status', arguments: { requestId: 0 } })).includes(
          'No job',
        ),
        true,
      );
      await recording.close();
    });
  });
});

describe('lesson 10 in SDK 2.x: ids as in 1.x; initialize and id 0 fixed in 2.1.0', { timeout: scaled(60_000) }, () => {
  test('pinned #998: SDK 2.4.0 sends no cancel for initialize when connect() is aborted (fixed in 2.1.0, PR #2668)', async () => {
    await withServer(async (server) => {
      const network = slowInitializeAnswers();
      const sent: JSONRPCMessage2[] = [];
      const transport = new StreamableHTTPClientTransport2(new URL(server.url), { fetch: network.fetch });
      const send = transport.send.bind(transport);
      transport.send = (message, options) => (sent.push(...[message].flat()), send(message, options));
      const client = new Client2({ name: 'test', version: '2' });
      client.onerror = () => {};
      const controller = new AbortController();
      // 2.x's connect() takes request options too, and gives them to its initialize request.
      const connecting = client.connect(transport, { signal: controller.signal });
      await waitFor("the server's answer to initialize, still on its way to the SDK", network.answered);
      controller.abort('gave up');
      await assert.rejects(
        connecting,
        (error) =>
          error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout && error.message === 'gave up',
      );
      assert.deepEqual(methodsOf(sent), [['initialize', 0]]);
      // Nothing else went out over HTTP either.
      await waitFor('every POST to settle', () => network.posts.every((post) => post.outcome !== undefined));
      assert.deepEqual(
        network.posts.map((post) => (JSON.parse(post.body) as { method: string }).method),
        ['initialize'],
      );
      // The session the server made for it is as lost as with 1.x: its id never reached the client.
      assert.equal(transport.sessionId, undefined);
      await waitFor(
        'the server to have made a session for it',
        () => sessionsThat(server, 'started').length >= 1 || undefined,
      );
    });
  });

  test('client-v2.ts against the 1.x server: ids as in 1.x, no cancel for initialize; the README shows it', async () => {
    await withServer(async (server) => {
      const client = startTs(join(import.meta.dirname, 'client-v2.ts'), ['--url', server.url]);
      assert.equal(await client.exited, 0, client.output());
      assert.deepEqual(
        proofOf(client, 'scenario').map((r) => [r.scenario, r.missed]),
        [
          ['id-types', []],
          ['initialize', []],
        ],
      );
      // On the server's side: "1" matched a job of the other JSON type, 1 stopped it.
      await server.waitForProof('the cancel for "1"', cancelOf('1', 'an id of the other JSON type'));
      await server.waitForProof('the cancel for 1', cancelOf(1, 'running'));
      assert.ok(!server.proof().some((r) => r.type === 'cancel' && r.requestId === 0), 'no cancel named initialize');
      checkReadmeOutput(
        README,
        'client-v2',
        client.lines.map((line) => line.replaceAll(server.url, 'http://127.0.0.1:3110/mcp')),
        [
          [/chunk \d+ then, \d+ now/, 'chunk N then, M now'],
          [/after chunk \d+\/10/, 'after chunk N/10'],
        ],
      );
    });
  });
});

describe('lesson 10: bad input gets a clear answer and the server keeps serving', { timeout: scaled(30_000) }, () => {
  test('tool arguments', async () => {
    await withServer(async (server) => {
      const { client, close } = await connectRecordingClient(server.url);
      const tryCall = async (args: Record<string, unknown>, name = 'process_large_file') => {
        const result = await client.callTool({ name, arguments: args });
        assert.equal(result.isError, true);
        return textOf(result);
      };
      assert.match(await tryCall({ path: '../../etc/passwd' }), /is outside the data folder/);
      assert.match(await tryCall({ path: 'sample.txt', chunks: 0 }), /Too small: expected number to be >=1 at chunks/);
      assert.match(await tryCall({ requestId: 42 }, 'get_job_status'), /No job with request id 42 in this session/);
      const ok = await client.callTool({
        name: 'process_large_file',
        arguments: { path: 'sample.txt', chunks: 2, chunkDelayMs: 0 },
      });
      assert.match(textOf(ok), /Processed sample.txt: 2 chunks/);
      await close();
    });
  });
});
