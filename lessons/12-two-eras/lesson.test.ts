// Lesson 12, end to end: lesson 12's SDK 2.x server and lesson 01's SDK 1.x server as real
// processes on ephemeral ports, the lesson's client, SDK 2.x clients in the test, and plain HTTP
// for the wire itself. Each row of the README's era table is checked here (the cross-era
// scenarios are in cross-era.test.ts); every cancel is proven on the server's side.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { startLessonServer, startTs } from '../shared/processes.ts';
import { openRawSession } from '../shared/raw-mcp.ts';
import { checkReadmeOutput, checkReadmePair } from '../shared/readme-output.ts';
import { serverRunner, type LessonServer } from '../shared/shared-servers.ts';
import { assertInOrder, canSeeFileDescriptors, lineIndex, openDescriptorsTo, textOf } from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';

const SERVER_2026 = join(import.meta.dirname, 'server.ts');
const SERVER_2025 = join(import.meta.dirname, '../01-cancel-by-id/server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const README = join(import.meta.dirname, 'README.md');

type Server = LessonServer;

/** The README shows each server on its default port. */
const asDocumented = (lines: string[], url: string, port: number) =>
  lines.map((line) => line.replaceAll(url, `http://127.0.0.1:${port}/mcp`));

const runners = { [SERVER_2025]: serverRunner(SERVER_2025), [SERVER_2026]: serverRunner(SERVER_2026) };
/** The file's shared `file` server, or one of its own (`{ own: true }`: it stops it, or reads its whole log). */
const withServer = (file: string, body: (server: Server) => Promise<void>, options: { own?: boolean } = {}) =>
  runners[file]!([], body, options);

interface JobReport {
  state: string;
  chunksDone: number;
  chunksTotal: number;
  cancelReason?: string;
  fileHandle: string;
  responseStream: string;
  responseStreamEnded?: string;
  era?: string;
  reply?: string;
}

// --- Protocol 2026-07-28 over plain HTTP --------------------------------------------------------
// Every request stands alone: its version and client info ride in `_meta`, and the method (and
// tool name) are mirrored into headers for intermediaries. This is what SDK 2.x sends.
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw-http', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

function post2026(
  url: string,
  message: { id?: string | number; method: string; params?: Record<string, unknown> },
  { signal, headers = {} }: { signal?: AbortSignal; headers?: Record<string, string> } = {},
) {
  const name = message.params?.name ?? message.params?.taskId;
  return fetch(url, {
    method: 'POST',
    signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': message.method,
      ...(typeof name === 'string' && { 'mcp-name': name }),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message, params: { ...message.params, _meta: ENVELOPE } }),
  });
}

const callMessage = (id: string | number, chunks: number, chunkDelayMs: number) => ({
  id,
  method: 'tools/call',
  params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
});

let statusIds = 0;
async function jobStatus2026(url: string, requestId: string | number): Promise<JobReport> {
  const response = await post2026(url, {
    id: `status-${statusIds++}`,
    method: 'tools/call',
    params: { name: 'get_job_status', arguments: { requestId } },
  });
  const body = (await response.json()) as { result: { structuredContent: JobReport } };
  return body.result.structuredContent;
}

const waitForJob = (url: string, id: string | number, done: (job: JobReport) => boolean) =>
  waitFor(`job ${id} on ${url}`, async () => {
    const job = await jobStatus2026(url, id).catch(() => undefined);
    return job && done(job) && job;
  });

// --- The lesson as the README runs it ------------------------------------------------------------

describe(
  'lesson 12: the client cancels by aborting; what goes on the wire depends on the era',
  { timeout: scaled(60_000) },
  () => {
    test('README: against the 2.x server (2026-07-28) the client closes the stream; the handler stops and nothing is replied', async () => {
      await withServer(
        SERVER_2026,
        async (server) => {
          const client = startTs(CLIENT, ['--url', server.url]);
          assert.equal(await client.exited, 0, client.output());
          await server.waitForLine(/replying: nothing/);
          const lines = client.lines;
          lineIndex(lines, /-> POST server\/discover {2}<- HTTP 200/);
          lineIndex(lines, /connected: protocol 2026-07-28\. No initialize, no session/);
          assert.ok(
            !lines.some((line) => /POST initialize|notifications\/cancelled|DELETE/.test(line)),
            client.output(),
          );
          assertInOrder(lines, [
            /-> tools\/call #0 /,
            /aborting the call after/,
            /-> closed the response stream of #0 \(no notification: the close is the cancel\)/,
            /the call rejected at once: SdkError REQUEST_TIMEOUT "user changed their mind"/,
            /server reports #0: stopped after chunk \d+\/20/,
            /the handler's signal said "SdkError: Connection closed"/,
            /file handle closed, response stream closed, replied nothing/,
            /observed: stopped, as expected/,
          ]);
          assertInOrder(server.lines, [
            /tools\/call #0 \(2026-07-28\)/,
            /#0 the client closed the response stream: that is the cancel/,
            /#0 handler stopped after chunk \d+\/20/,
            /#0 file handle closed/,
            /#0 replying: nothing/,
          ]);
          // The client's reason never reaches this server: no message carries it.
          assert.ok(!server.output().includes('user changed their mind'), server.output());
          if (canSeeFileDescriptors)
            assert.equal(openDescriptorsTo(server.child.pid!, '12-two-eras/data/sample.txt'), 0);
          checkReadmePair(README, [
            ['server-2026', asDocumented(server.lines, server.url, 3112)],
            ['client-2026', asDocumented(lines, server.url, 3112)],
          ]);
        },
        { own: true },
      );
    });

    test("README: the same client against lesson 01's 1.x server negotiates 2025-11-25 and sends notifications/cancelled", async () => {
      await withServer(SERVER_2025, async (server) => {
        const client = startTs(CLIENT, ['--url', server.url]);
        assert.equal(await client.exited, 0, client.output());
        const lines = client.lines;
        assertInOrder(lines, [
          /-> POST server\/discover {2}<- HTTP 400/,
          /-> POST initialize {2}<- HTTP 200/,
          /connected: protocol 2025-11-25 \(the 2025 era\), session [0-9a-f-]{36}/,
          /-> tools\/call #1 /,
          /-> POST notifications\/cancelled \{ requestId: 1, reason: "user changed their mind" \} {2}<- HTTP 202/,
          /the call rejected at once: SdkError REQUEST_TIMEOUT "user changed their mind"/,
          /<- a late reply to #1: error -32800\. The SDK drops it/,
          /server reports #1: stopped after chunk \d+\/20/,
          /the handler's signal said "user changed their mind"/,
          /file handle closed, response stream closed, replied error -32800/,
          /-> DELETE/,
          /observed: stopped, as expected/,
        ]);
        assert.ok(!lines.some((line) => /closed the response stream/.test(line)), client.output());
        lineIndex(server.lines, /notifications\/cancelled for #1 \(reason: "user changed their mind"\)/);
        checkReadmeOutput(README, 'client-2025', asDocumented(lines, server.url, 3101));
      });
    });

    test('README: a 2025-era client on the 2.x server is served statelessly: its notifications/cancelled stops nothing', async (t) => {
      await withServer(SERVER_2026, async (server) => {
        await t.test(
          "an SDK 2.x client speaks 2026-07-28 only when asked: versionNegotiation's mode defaults to 'legacy'",
          async () => {
            const connect = async (options?: ConstructorParameters<typeof Client>[1]) => {
              const wire: [method: string, header: string | null][] = [];
              const recording: typeof fetch = (input, init) => {
                if (typeof init?.body === 'string') {
                  const { method } = JSON.parse(init.body) as { method: string };
                  wire.push([method, new Headers(init.headers).get('mcp-protocol-version')]);
                }
                return fetch(input, init);
              };
              const client = new Client({ name: 'defaults', version: '1.0.0' }, options);
              await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch: recording }));
              await client.listTools();
              const seen = { version: client.getNegotiatedProtocolVersion(), era: client.getProtocolEra(), wire };
              await client.close();
              return seen;
            };
            // No option: initialize, and 2025-11-25 in every header after it, from a 2026-07-28 server.
            assert.deepEqual(await connect(), {
              version: '2025-11-25',
              era: 'legacy',
              wire: [
                ['initialize', null],
                ['notifications/initialized', '2025-11-25'],
                ['tools/list', '2025-11-25'],
              ],
            });
            for (const mode of ['auto', { pin: '2026-07-28' }] as const) {
              assert.deepEqual(await connect({ versionNegotiation: { mode } }), {
                version: '2026-07-28',
                era: 'modern',
                wire: [
                  ['server/discover', '2026-07-28'],
                  ['tools/list', '2026-07-28'],
                ],
              });
            }
          },
        );
        const args = ['--era', 'legacy', '--expect', 'completed', '--chunks', '6', '--chunk-delay', '150'];
        const client = startTs(CLIENT, ['--url', server.url, ...args, '--cancel-after', '400']);
        assert.equal(await client.exited, 0, client.output());
        assertInOrder(client.lines, [
          /-> POST initialize {2}<- HTTP 200/,
          /connected: protocol 2025-11-25 \(the 2025 era\), no session \(this server is stateless\)/,
          /-> POST notifications\/cancelled \{ requestId: 1, .* <- HTTP 202/,
          /<- a late reply to #1: result/,
          /server reports #1: completed, 6\/6 chunks/,
          /replied result/,
        ]);
        assert.ok(!client.lines.some((line) => /server\/discover/.test(line)), client.output());
        assertInOrder(server.lines, [
          /tools\/call #1 \(2025 era, served statelessly\)/,
          /notifications\/cancelled for #1 arrived as its own request: .* stops nothing/,
          /#1 chunk 6\/6/,
          /#1 completed: replying with the result/,
        ]);
        checkReadmeOutput(README, 'client-legacy', asDocumented(client.lines, server.url, 3112));
      });
    });
  },
);

test(
  'things to try: a pinned 2026-07-28 never falls back; --no-cancel completes and is answered with the result',
  { timeout: scaled(60_000) },
  async () => {
    await withServer(SERVER_2025, async (server) => {
      // As the README gives it: --expect no-connect makes the refusal this run's green outcome.
      const pinned = startTs(CLIENT, ['--url', server.url, '--era', '2026-07-28', '--expect', 'no-connect']);
      assert.equal(await pinned.exited, 0, pinned.output());
      lineIndex(pinned.lines, /observed: no-connect, as expected: .*Version negotiation failed/);
      assert.ok(!pinned.lines.some((line) => /initialize/.test(line)), pinned.output());
    });
    await withServer(SERVER_2026, async (server) => {
      const client = startTs(CLIENT, ['--url', server.url, '--no-cancel', '--chunks', '3', '--chunk-delay', '10']);
      assert.equal(await client.exited, 0, client.output());
      assertInOrder(client.lines, [
        /<- result: Processed sample\.txt: 3 chunks/,
        /server reports #0: completed, 3\/3 chunks/,
        /replied result/,
      ]);
    });
  },
);

// --- The era table, row by row --------------------------------------------------------------------

describe('the era table', { timeout: scaled(60_000) }, () => {
  test('notifications/cancelled sent over HTTP to the 2026-07-28 server: HTTP 202, and the call runs to the end', async () => {
    await withServer(SERVER_2026, async (server) => {
      const call = post2026(server.url, callMessage('n-1', 6, 100)).then((r) => r.json());
      await waitForJob(server.url, 'n-1', (job) => job.chunksDone >= 1);
      const cancel = await post2026(server.url, { method: 'notifications/cancelled', params: { requestId: 'n-1' } });
      assert.equal(cancel.status, 202);
      const running = await jobStatus2026(server.url, 'n-1');
      assert.ok(running.state === 'running' && running.chunksDone < 6, JSON.stringify(running));
      const reply = (await call) as { id: string; result?: object };
      assert.equal(reply.id, 'n-1');
      assert.match(textOf(reply.result!), /Processed sample\.txt: 6 chunks/);
      const job = await jobStatus2026(server.url, 'n-1');
      assert.deepEqual([job.state, job.chunksDone, job.reply], ['completed', 6, 'result']);
      await server.waitForLine(/notifications\/cancelled for #"n-1" arrived as its own request/);
    });
  });

  test('a disconnect: on the 2026-07-28 server it is the cancel; on the 2025-11-25 server the handler runs on', async () => {
    await withServer(SERVER_2026, async (server) => {
      const connection = new AbortController();
      const call = post2026(server.url, callMessage('d-1', 20, 50), { signal: connection.signal }).catch(() => {});
      await waitForJob(server.url, 'd-1', (job) => job.chunksDone >= 1);
      connection.abort(); // the plain-HTTP client drops the connection; it sends nothing
      await call;
      const job = await waitForJob(server.url, 'd-1', (j) => j.reply !== undefined);
      assert.equal(job.state, 'cancelled');
      assert.ok(job.chunksDone < 20, `stopped at chunk ${job.chunksDone}`);
      assert.deepEqual(
        [job.fileHandle, job.responseStreamEnded, job.reply],
        ['closed', 'closed by the client', 'nothing'],
      );
    });
    await withServer(SERVER_2025, async (server) => {
      const session = await openRawSession(server.url);
      const connection = new AbortController();
      const message = { jsonrpc: '2.0', ...callMessage(7, 10, 50) };
      const call = fetch(server.url, {
        method: 'POST',
        signal: connection.signal,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': session.sessionId,
          'mcp-protocol-version': session.protocolVersion,
        },
        body: JSON.stringify(message),
      });
      await server.waitForLine(/#7 chunk 1\/10/);
      connection.abort(); // mid-run: the plain-HTTP client drops the connection
      const chunksAtDrop = server.lines.filter((line) => /#7 chunk \d+\/10/.test(line)).length;
      assert.ok(chunksAtDrop < 10, `dropped after chunk ${chunksAtDrop}`);
      await call.catch(() => {});
      await server.waitForLine(/#7 completed/);
      const status = await session.stream({
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/call',
        params: { name: 'get_job_status', arguments: { requestId: 7 } },
      });
      await status.done;
      const job = (status.messages[0] as unknown as { result: { structuredContent: JobReport } }).result
        .structuredContent;
      assert.deepEqual([job.state, job.chunksDone], ['completed', 10]);
      await session.close();
    });
  });

  test('sessions: none in 2026-07-28 (no initialize, no Mcp-Session-Id, GET and DELETE get 405); 2025-11-25 needs one', async () => {
    await withServer(SERVER_2026, async (server) => {
      const discover = await post2026(server.url, { id: 'p-1', method: 'server/discover' });
      const advertised = (await discover.json()) as { result: { supportedVersions: string[] } };
      assert.ok(advertised.result.supportedVersions.includes('2026-07-28'), JSON.stringify(advertised));
      // A tools/call as the very first request, with a session id the server must ignore.
      const first = await post2026(server.url, callMessage('s-1', 1, 0), { headers: { 'mcp-session-id': 'abc' } });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('mcp-session-id'), null);
      const body = (await first.json()) as { result: object };
      assert.match(textOf(body.result), /Processed sample\.txt: 1 chunks/);
      for (const method of ['GET', 'DELETE']) {
        const response = await fetch(server.url, { method, headers: { accept: 'text/event-stream' } });
        assert.equal(response.status, 405, method);
      }
    });
    await withServer(SERVER_2025, async (server) => {
      const discover = await post2026(server.url, { id: 'p-1', method: 'server/discover' });
      assert.equal(discover.status, 400);
      assert.match(await discover.text(), /Send initialize first/);
      const noSession = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', ...callMessage(1, 1, 0) }),
      });
      assert.equal(noSession.status, 400);
      const session = await openRawSession(server.url);
      assert.match(session.sessionId, /^[0-9a-f-]{36}$/);
      assert.equal((await session.close()).status, 200);
      const afterDelete = await session.post({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      assert.equal(afterDelete.status, 404, 'DELETE ended the session');
    });
  });

  test('ids in 2026-07-28: two clients both call with id 0; aborting one stops only that one', async () => {
    await withServer(SERVER_2026, async (server) => {
      const connect = async () => {
        const client = new Client({ name: 'twin', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
        const sent: unknown[] = [];
        const fetchAndRecord: typeof fetch = (input, init) => {
          if (typeof init?.body === 'string') sent.push(JSON.parse(init.body));
          return fetch(input, init);
        };
        await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch: fetchAndRecord }));
        return { client, sent };
      };
      const [a, b] = [await connect(), await connect()];
      const stopA = new AbortController();
      const args = { path: 'sample.txt', chunks: 10, chunkDelayMs: 60 };
      const callA = a.client.callTool({ name: 'process_large_file', arguments: args }, { signal: stopA.signal });
      const callB = b.client.callTool({ name: 'process_large_file', arguments: args });
      callA.catch(() => {});
      await waitFor('both calls reading', () => server.lines.filter((l) => /#0 chunk 1\/10/.test(l)).length === 2);
      for (const { sent } of [a, b]) {
        const call = sent.find((m) => (m as { method?: string }).method === 'tools/call') as {
          id: unknown;
          params: { _meta: Record<string, unknown> };
        };
        assert.equal(
          call.id,
          0,
          'a 2.x client numbers its first request 0 (its server/discover probe has a string id)',
        );
        assert.equal(call.params._meta['io.modelcontextprotocol/protocolVersion'], '2026-07-28');
      }
      if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(server.child.pid!, '12-two-eras/data/sample.txt'), 2);
      stopA.abort('only A');
      await server.waitForLine(/#0 handler stopped after chunk/);
      assert.match(textOf(await callB), /Processed sample\.txt: 10 chunks/);
      const stops = server.lines.filter((line) => /#0 handler stopped/.test(line));
      const completions = server.lines.filter((line) => /#0 completed/.test(line));
      assert.deepEqual([stops.length, completions.length], [1, 1], server.output());
      if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(server.child.pid!, '12-two-eras/data/sample.txt'), 0);
      await Promise.all([a.client.close(), b.client.close()]);
    });
  });

  test('createMcpHandler builds a new McpServer for every HTTP request, a notification included', async () => {
    const built: string[] = [];
    const handler = createMcpHandler(({ era }) => {
      built.push(era);
      return new McpServer({ name: 'counting', version: '1.0.0' });
    });
    const serve = toNodeHandler(handler);
    const http = createServer((req, res) => void serve(req, res));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
    try {
      await (await post2026(url, { id: 1, method: 'server/discover' })).text();
      const notification = await post2026(url, { method: 'notifications/cancelled', params: { requestId: 1 } });
      assert.equal(notification.status, 202);
      // A 2025-era client, served statelessly: its initialize and its cancel get a server each too.
      const legacy = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      const initialize = await fetch(url, {
        method: 'POST',
        headers: legacy,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 2,
          method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'old', version: '1' } },
        }),
      });
      await initialize.text();
      const cancel = await fetch(url, {
        method: 'POST',
        headers: { ...legacy, 'mcp-protocol-version': '2025-11-25' },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }),
      });
      assert.equal(cancel.status, 202);
      assert.deepEqual(built, ['modern', 'modern', 'legacy', 'legacy']);
    } finally {
      await handler.close();
      http.close();
    }
  });

  test('tasks: the SDK 2.x server does not serve them, tasks/cancel gets -32601 (lesson 11 tests 2025-11-25 tasks)', async () => {
    await withServer(SERVER_2026, async (server) => {
      const response = await post2026(server.url, { id: 't-1', method: 'tasks/cancel', params: { taskId: 'task-1' } });
      const body = (await response.json()) as { id: string; error?: { code: number; message: string } };
      assert.equal(body.id, 't-1');
      assert.equal(body.error?.code, -32601, JSON.stringify(body));
      assert.match(body.error.message, /Method not found/);
    });
  });

  test('resumability: the 2026-07-28 server ignores Last-Event-ID; lesson 01 (no event store) sends events without ids', async () => {
    await withServer(SERVER_2026, async (server) => {
      const response = await post2026(server.url, callMessage('r-1', 1, 0), { headers: { 'last-event-id': '5' } });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { id: string; result: object };
      assert.equal(body.id, 'r-1');
      assert.match(textOf(body.result), /Processed sample\.txt/);
    });
    await withServer(SERVER_2025, async (server) => {
      const session = await openRawSession(server.url);
      const response = await session.post({ jsonrpc: '2.0', ...callMessage(3, 2, 0) });
      const sse = await response.text();
      assert.match(sse, /^data: .*"id":3/m);
      assert.doesNotMatch(sse, /^id:/m, 'an event id is what a client would resume from');
      await session.close();
    });
  });
});

test(
  'SIGTERM with a 2025-era call in flight: the server closes its response, the handler stops, and it exits 0',
  { timeout: scaled(60_000) },
  async () => {
    const server = await startLessonServer(SERVER_2026);
    try {
      const legacyHeaders = {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-11-25',
      };
      const call = fetch(server.url, {
        method: 'POST',
        headers: legacyHeaders,
        body: JSON.stringify({ jsonrpc: '2.0', ...callMessage(1, 100, 100) }),
      }).catch(() => {});
      await server.waitForLine(/#1 chunk 1\/100/);
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, server.output());
      await call;
      assertInOrder(server.lines, [
        /tools\/call #1 \(2025 era/,
        /SIGTERM: stopping/,
        /#1 handler stopped/,
        /#1 file handle closed/,
      ]);
      assert.ok(!server.lines.some((line) => /#1 completed/.test(line)), server.output());
    } finally {
      await server.stop();
    }
  },
);
