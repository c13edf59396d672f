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
import { startTs } from '../shared/processes.ts';
import { checkReadmeOutput, checkReadmePair } from '../shared/readme-output.ts';
import { serverRunner, type LessonServer } from '../shared/shared-servers.ts';
import { openRawSession, type RawSession } from '../shared/raw-mcp.ts';
import {
  assertInOrder,
  canSeeFileDescriptors,
  connectRecordingClient,
  jsonRpcErrorMessage,
  lineIndex,
  openDescriptorsTo,
  textOf,
} from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const README = join(import.meta.dirname, 'README.md');

type Server = LessonServer;
const runner = serverRunner(SERVER);
/** The file's shared server, or one of its own (`{ own: true }`: it stops it, or reads its whole log). */
const withServer = (body: (server: Server) => Promise<void>, options: { own?: boolean } = {}) =>
  runner([], body, options);

const fileDescriptorsOpen = (server: Server) =>
  openDescriptorsTo(server.child.pid!, '10-races-and-ids/data/sample.txt');
const tagOf = (session: RawSession) => `\\[${session.sessionId.slice(0, 8)}\\]`;

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

const countLines = (server: Server, pattern: RegExp) => server.lines.filter((line) => pattern.test(line)).length;

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
        await server.waitForLine(/session \S+ ended/);
        const out = client.lines;
        const log = server.lines;
        const main = out[lineIndex(out, /client session /)]!.match(/session ([0-9a-f]{8})/)![1]!;

        // after-completion: the call completed, then the cancel was ignored; exactly one reply.
        assertInOrder(log, [
          new RegExp(`\\[${main}\\] #1 completed all 2 chunks`),
          new RegExp(
            `\\[${main}\\] notifications/cancelled for #1, which already completed: nothing to cancel, ignored`,
          ),
          new RegExp(`\\[${main}\\] notifications/cancelled for 999 matches no request in this session: ignored`),
        ]);
        // second-cancel: one stop, one reply; the other cancel is ignored (the handler was stopping, or had stopped).
        assert.equal(countLines(server, new RegExp(`\\[${main}\\] #6 handler stopped .*reason: "first"`)), 1);
        assert.equal(countLines(server, new RegExp(`\\[${main}\\] #6 handler stopped`)), 1);
        assert.equal(countLines(server, new RegExp(`\\[${main}\\] #6 replying: error -32800`)), 1);
        assert.equal(
          countLines(server, /notifications\/cancelled for #6( again: already stopping|, which already cancelled)/),
          1,
        );
        // three-calls: 8 and 10 completed, 9 stopped and freed its file.
        for (const id of [8, 10]) lineIndex(log, new RegExp(`\\[${main}\\] #${id} completed all 10 chunks`));
        assertInOrder(log, [
          new RegExp(`\\[${main}\\] notifications/cancelled for #9 \\(reason: "not this one"\\)`),
          new RegExp(`\\[${main}\\] #9 handler stopped after chunk \\d+/10`),
          new RegExp(`\\[${main}\\] #9 file handle closed`),
        ]);
        assert.equal(countLines(server, /#(8|10) handler stopped/), 0);
        // cross-session: two sessions each ran a #1; the cancel on the second stopped only its own.
        const [alice, bob] = out[lineIndex(out, /client sessions /)]!.match(/sessions (\S{8})\S* and (\S{8})/)!.slice(
          1,
        );
        lineIndex(log, new RegExp(`\\[${alice}\\] #1 completed all 10 chunks`));
        lineIndex(log, new RegExp(`\\[${bob}\\] #1 handler stopped after chunk \\d+/10, on the cancel`));
        assert.equal(countLines(server, new RegExp(`\\[${alice}\\] .*(notifications/cancelled|stopped)`)), 0);
        // id-types: "14" matched nothing; 14 stopped it.
        assertInOrder(log, [
          /notifications\/cancelled for "14" matches no request: the running one's id is 14, and ids must match in JSON type/,
          /notifications\/cancelled for #14 \(reason: "right type"\)/,
          /#14 handler stopped/,
        ]);
        // Every file handle is closed: the process holds no descriptor for the file.
        if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 0);

        // initialize: the server made a session for the aborted connect, which nobody ended. It is still there.
        const started = log.flatMap((line) => line.match(/session (\S+) started/)?.[1] ?? []);
        const ended = new Set(log.flatMap((line) => line.match(/session (\S+) ended/)?.[1] ?? []));
        const orphans = started.filter((id) => !ended.has(id));
        assert.equal(orphans.length, 1, log.join('\n'));
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
        client.lines.filter((line) => / == /.test(line)).map((line) => line.replace(/^.* == /, '')),
        ['unknown-id: cancel an id this session never sent'],
      );
      const bad = startTs(CLIENT, ['--url', server.url, '--scenario', 'nope']);
      assert.equal(await bad.exited, 2);
      assert.match(bad.output(), /--scenario must be one of after-completion, unknown-id, .*; got "nope"/);
    });
    const badPort = startTs(SERVER, ['--port', 'abc']);
    assert.equal(await badPort.exited, 2);
    assert.match(badPort.output(), /--port must be a whole number from 0 to 65535; got "abc"/);
  });
});

describe('lesson 10 on the wire: races and ids over plain HTTP', { timeout: scaled(60_000) }, () => {
  test('cancel after completion, an unknown id, a malformed cancel: 202, ignored, nothing changed, still serving', async () => {
    await withServer(async (server) => {
      const session = await openRawSession(server.url);
      const tag = tagOf(session);
      const done = await session.stream(call(5, 2, 0));
      await done.done;
      const before = await jobStatus(session, 5);
      await postCancel(session, 5);
      await server.waitForLine(new RegExp(`${tag} notifications/cancelled for #5, which already completed`));
      assert.deepEqual(await jobStatus(session, 5), before);
      assert.equal(before.state, 'completed');

      await postCancel(session, 77);
      await server.waitForLine(new RegExp(`${tag} notifications/cancelled for 77 matches no request in this session`));
      // Malformed: a requestId that is neither string nor number. The spec says to ignore invalid cancels.
      const malformed = await session.post({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: null },
      });
      assert.equal(malformed.status, 202);
      assert.equal(await malformed.text(), '');
      await server.waitForLine(
        /notifications\/cancelled with invalid params \{"requestId":null\}: the SDK drops it, so it cancels nothing/,
      );
      // No requestId at all: the same empty 202, and the server says it names no request.
      const noId = await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { reason: 'x' } });
      assert.equal(noId.status, 202);
      assert.equal(await noId.text(), '');
      await server.waitForLine(/notifications\/cancelled without a requestId: names no request, ignored/);

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
      await server.waitForLine(new RegExp(`${tagOf(session)} #3 chunk 2/100`));
      // In order (the second leaves once the first is accepted), so which one the server reads first is known.
      await postCancel(session, 3, 'first');
      await postCancel(session, 3, 'second');
      await reading.done;
      const replies = reading.messages.filter((m) => 'id' in m && m.id === 3);
      assert.equal(replies.length, 1);
      assert.equal((replies[0] as { error?: { code: number } }).error?.code, -32800);
      await server.waitForLine(/notifications\/cancelled for #3( again: already stopping|, which already cancelled)/);
      const job = await jobStatus(session, 3);
      assert.deepEqual(
        [job.state, job.cancelReason, job.reply, job.fileHandle],
        ['cancelled', 'first', 'error -32800', 'closed'],
      );
      assert.equal(countLines(server, /#3 handler stopped/), 1);
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
      for (const line of [/#21 chunk 1\/3/, /#22 chunk 2\/30/, /#23 chunk 1\/3/]) await server.waitForLine(line);
      if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 3);
      await postCancel(session, 22);
      await server.waitForLine(/#22 file handle closed/);
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
      await server.waitForLine(new RegExp(`${tagOf(a)} #1 chunk 2/20`));
      await server.waitForLine(new RegExp(`${tagOf(b)} #1 chunk 2/20`));
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
      await server.waitForLine(/#"7" chunk 2\/100/);
      await postCancel(session, 7);
      await server.waitForLine(
        /for 7 matches no request: the running one's id is "7", and ids must match in JSON type/,
      );
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

  test('SDK 1.x today (#2283): a stock server ignores a cancel for id 0 (lesson 02 has the workaround)', async () => {
    await withServer(async (server) => {
      const session = await openSessionWithInitializeId(server.url, 'init-1');
      const replying = session.post(call(0, 4)).then((response) => response.text());
      await server.waitForLine(/#0 chunk 1\/4/);
      const cancelled = await session.post(cancel(0));
      assert.equal(cancelled.status, 202);
      assert.match(await replying, /Processed sample.txt: 4 chunks/);
      await server.waitForLine(/#0 completed although a cancel for it arrived: SDK 1.x ignores cancels for id 0/);
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

describe('lesson 10: initialize MUST NOT be cancelled; what SDK 1.x and 2.x do', { timeout: scaled(60_000) }, () => {
  test('aborting connect() once the server has answered initialize (one server for both SDKs)', async (t) => {
    await withServer(async (server) => {
      await t.test('SDK 1.x today (#998): it sends notifications/cancelled for initialize (#0)', async () => {
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
        await server.waitForLine(/session \S+ started/);
      });

      await t.test('SDK 2.x (2.1.0+, PR #2668): the same abort sends no cancel for initialize', async () => {
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
          'the server to have made a second session',
          () => server.lines.filter((line) => /session \S+ started/.test(line)).length === 2 || undefined,
        );
      });
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
      await server.waitForLine(/notifications\/cancelled for "init-1" matches no request in this session: ignored/);
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
      await server.waitForLine(/notifications\/cancelled for 0 matches no request in this session: ignored/);
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
