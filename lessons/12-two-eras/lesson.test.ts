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
import {
  assertInOrder,
  assertProvedInOrder,
  canSeeFileDescriptors,
  jobWhere,
  onlyProof,
  openDescriptorsTo,
  proofOf,
  textOf,
  type Proof,
  asShipped,
} from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';

const SERVER_2026 = join(import.meta.dirname, 'server.ts');
const SERVER_2025 = join(import.meta.dirname, '../01-cancel-by-id/server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const EXERCISE = join(import.meta.dirname, 'exercise-server.ts');
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
          // The README block below is the server's whole log, to its last line.
          await server.waitForLine(/replying: nothing/);
          const lines = client.lines;
          // What reached the server: server/discover answered 200, then every request in 2026-07-28;
          // no initialize, no notifications/cancelled, no DELETE (there is no session to end).
          const exchanges = proofOf(server, 'exchange');
          assert.deepEqual(
            [exchanges[0]!.method, exchanges[0]!.status, exchanges[0]!.version],
            ['server/discover', 200, '2026-07-28'],
          );
          for (const exchange of exchanges) {
            assert.ok(exchange.http === 'POST' && exchange.version === '2026-07-28', JSON.stringify(exchange));
            assert.ok(!['initialize', 'notifications/cancelled'].includes(exchange.method), JSON.stringify(exchange));
          }
          assertInOrder(lines, [
            /-> tools\/call #0 /,
            /aborting the call after/,
            /-> closed the response stream of #0 \(no notification: the close is the cancel\)/,
            /the call rejected at once: SdkError REQUEST_TIMEOUT "user changed their mind"/,
          ]);
          // What the client read of the server's record, and that it judged it stopped (exit 0 above).
          const { job } = onlyProof(client, 'server-report');
          assert.deepEqual(
            [job.state, job.cancelReason, job.fileHandle, job.responseStream, job.reply],
            ['cancelled', 'SdkError: Connection closed', 'closed', 'closed', 'nothing'],
          );
          assert.ok(job.chunksDone < 20, JSON.stringify(job));
          assert.deepEqual(onlyProof(client, 'late-replies').replies, []);
          // The server's records, in order: the client closed the stream (that is the cancel), the
          // handler stopped, the file closed, nothing replied.
          assertProvedInOrder(server.proof(), [
            ['the call, in 2026-07-28', jobWhere(0, (j) => j.era === '2026-07-28')],
            [
              'the client closing its stream',
              (r) => r.type === 'exchange' && r.requestId === 0 && r.ended === 'closed by the client',
            ],
            ['the cancel noted', jobWhere(0, (j) => j.cancelReceivedAtMs !== undefined)],
            ['the handler stopping', jobWhere(0, (j) => j.state === 'cancelled')],
            ['the file closing', jobWhere(0, (j) => j.fileHandle === 'closed')],
            ['nothing replied', jobWhere(0, (j) => j.reply === 'nothing')],
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
        ]);
        assert.ok(!lines.some((line) => /closed the response stream/.test(line)), client.output());
        // The -32800 came after the SDK had given up: dropped, and reported to onerror.
        assert.deepEqual(onlyProof(client, 'late-replies').replies, ['error -32800']);
        const { job } = onlyProof(client, 'server-report');
        assert.deepEqual(
          [job.state, job.cancelReason, job.fileHandle, job.responseStream, job.reply],
          ['cancelled', 'user changed their mind', 'closed', 'closed', 'error -32800'],
        );
        // Lesson 01's records: one session, the cancel for #1 with the client's reason while it ran,
        // then the session ended (the client's DELETE).
        await server.waitForProof('the session to end', (r) => r.type === 'session' && r.state === 'ended');
        const records = server.proof();
        assertProvedInOrder(records, [
          ['the session starting', (r) => r.type === 'session' && r.state === 'started'],
          [
            'the cancel for #1, while it ran',
            (r) => r.type === 'cancel' && r.requestId === 1 && r.matched === 'running',
          ],
          ['its reason', jobWhere(1, (j) => j.cancelReason === 'user changed their mind')],
          ['the reply', jobWhere(1, (j) => j.reply === 'error -32800')],
          ['the session ending', (r) => r.type === 'session' && r.state === 'ended'],
        ]);
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
        const from = server.proof().length; // the records of this client's run, after the subtest's
        const client = startTs(CLIENT, ['--url', server.url, ...args, '--cancel-after', '400']);
        assert.equal(await client.exited, 0, client.output());
        assertInOrder(client.lines, [
          /-> POST initialize {2}<- HTTP 200/,
          /connected: protocol 2025-11-25 \(the 2025 era\), no session \(this server is stateless\)/,
        ]);
        // What reached the server: initialize (no server/discover probe), the call, and the cancel as
        // a request of its own, answered 202.
        const records = server.proof().slice(from);
        // An exchange is recorded when it ends: the subtest's last tools/list may still land after `from`.
        const all = records.filter((r) => r.type === 'exchange') as Proof[];
        const exchanges = all.slice(all.findIndex((e) => e.method === 'initialize'));
        const methods = exchanges.map((e) => e.method);
        assert.deepEqual(methods.slice(0, 2), ['initialize', 'notifications/initialized']);
        assert.ok(!methods.includes('server/discover'), methods.join());
        const cancelExchange = exchanges.find((e) => e.method === 'notifications/cancelled');
        assert.equal(cancelExchange?.status, 202, methods.join());
        // The result came after the SDK had given up on the call: dropped, and reported to onerror.
        assert.deepEqual(onlyProof(client, 'late-replies').replies, ['result']);
        const { job } = onlyProof(client, 'server-report');
        assert.deepEqual([job.state, job.chunksDone, job.chunksTotal, job.reply], ['completed', 6, 6, 'result']);
        // The server's records: the cancel arrived while the call ran, and stopped nothing.
        assertProvedInOrder(records, [
          ['the call, in the 2025 era', jobWhere(1, (j) => j.era === '2025 era, served statelessly')],
          ['the cancel, as its own request', (r) => r.type === 'cancel' && r.requestId === 1],
          ['the last chunk', jobWhere(1, (j) => j.chunksDone === 6 && j.cancelReceivedAtMs === undefined)],
          ['the result', jobWhere(1, (j) => j.state === 'completed' && j.reply === 'result')],
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
      // Exit 0 with --expect no-connect: only the SDK's EraNegotiationFailed gives it (client.ts).
      assert.equal(await pinned.exited, 0, pinned.output());
      assert.ok(!pinned.lines.some((line) => /initialize/.test(line)), pinned.output());
      // No fallback: lesson 01's server saw no initialize, so no session started.
      assert.deepEqual(proofOf(server, 'session'), []);
    });
    await withServer(SERVER_2026, async (server) => {
      const client = startTs(CLIENT, ['--url', server.url, '--no-cancel', '--chunks', '3', '--chunk-delay', '10']);
      assert.equal(await client.exited, 0, client.output());
      assert.ok(
        client.lines.some((line) => /<- result: Processed sample\.txt: 3 chunks/.test(line)),
        client.output(),
      );
      const { job } = onlyProof(client, 'server-report');
      assert.deepEqual([job.state, job.chunksDone, job.chunksTotal, job.reply], ['completed', 3, 3, 'result']);
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
      const { matched } = await server.waitForProof<Proof>(
        'the cancel for "n-1"',
        (r) => r.type === 'cancel' && r.requestId === 'n-1',
      );
      assert.equal(matched, 'nothing: it arrived as its own request');
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
      await server.waitForJob(7, (job) => job.chunksDone >= 1);
      connection.abort(); // mid-run: the plain-HTTP client drops the connection
      const chunksAtDrop = proofOf(server, 'job').findLast(jobWhere(7))!.chunksDone;
      assert.ok(chunksAtDrop < 10, `dropped after chunk ${chunksAtDrop}`);
      await call.catch(() => {});
      await server.waitForJob(7, (job) => job.state === 'completed');
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
      // Both have id 0: the server's records tell its jobs apart by number.
      const jobsOf = (holds: (job: Proof) => boolean) =>
        new Set(
          proofOf(server, 'job')
            .filter(jobWhere(0, holds))
            .map((job) => job.jobNumber),
        );
      await waitFor('both calls reading', () => jobsOf((job) => job.chunksDone >= 1).size === 2);
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
      await server.waitForJob(0, (job) => job.state === 'cancelled');
      assert.match(textOf(await callB), /Processed sample\.txt: 10 chunks/);
      await server.waitForJob(0, (job) => job.state === 'completed');
      const [stopped, completed] = [jobsOf((j) => j.state === 'cancelled'), jobsOf((j) => j.state === 'completed')];
      assert.deepEqual([stopped.size, completed.size], [1, 1], JSON.stringify(server.proof()));
      assert.notDeepEqual([...stopped], [...completed], 'one job stopped, the other completed');
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
      await server.waitForJob(1, (job) => job.chunksDone >= 1);
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, server.output());
      await call;
      const records = server.proof();
      assertProvedInOrder(records, [
        ['the call, in the 2025 era', jobWhere(1, (j) => j.era === '2025 era, served statelessly')],
        ['the shutdown closing the open responses', (r) => r.type === 'exchanges-closed' && r.open >= 1],
        ['the handler stopping', jobWhere(1, (j) => j.state === 'cancelled')],
        ['the file closing', jobWhere(1, (j) => j.fileHandle === 'closed')],
      ]);
      assert.ok(!records.some(jobWhere(1, (j) => j.state === 'completed')), JSON.stringify(records));
    } finally {
      await server.stop();
    }
  },
);

test(
  'Exercise, two terminals: against the unsolved exercise the client closes the stream, the handler reads on, and the client exits 1',
  {
    timeout: scaled(60_000),
    // A learner's work in progress is not the exercise as given (git says it is modified).
    skip: !asShipped(EXERCISE) && 'the exercise file is being worked on',
  },
  async () => {
    const server = await startLessonServer(EXERCISE);
    try {
      const args = ['--url', server.url, '--chunks', '10', '--chunk-delay', '100', '--cancel-after', '350'];
      const client = startTs(CLIENT, args);
      assert.equal(await client.exited, 1, client.output());
      assertInOrder(client.lines, [
        /-> closed the response stream of #0 \(no notification: the close is the cancel\)/,
        /server reports #0: completed, 10\/10 chunks/,
        /observed: completed, expected: stopped/,
      ]);
      // The server saw the close, and the handler read on after it: no notifications/cancelled came.
      assertInOrder(server.lines, [/#0 the client closed the response stream/, /#0 chunk 10\/10/]);
      const job = await server.waitForJob(0, (j) => j.state === 'completed' && j.fileHandle === 'closed');
      assert.ok(job.chunksDoneWhenCancelArrived! < 10, JSON.stringify(job));
      assert.deepEqual(proofOf(server, 'cancel'), []);
    } finally {
      await server.stop();
    }
  },
);
