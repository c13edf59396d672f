// The bad-input catalogue (catalogue.ts), sent over plain HTTP to the real lesson servers: each
// entry gets its clear answer, the server serves the next request, and a call running in another
// session is not touched. Then: what SDK 1.x does with five of them on its own, which is why the
// shared wiring (lessons/shared/mcp-http.ts) checks them before the SDK sees them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { jobStatusInSession } from '../../lessons/09-disconnects-and-shutdown/session-over-http.ts';
import { startLessonServer } from '../../lessons/shared/processes.ts';
import { openRawSession, type RawSession } from '../../lessons/shared/raw-mcp.ts';
import { checkReadmeOutput } from '../../lessons/shared/readme-output.ts';
import { scaled, waitFor } from '../../lessons/shared/wait.ts';
import {
  answerOf,
  catalogue,
  noServerErrors,
  ping,
  sendAndCheck,
  type Answer,
  type BadInput,
  type Target,
} from './catalogue.ts';

const root = join(import.meta.dirname, '../..');
const README = join(import.meta.dirname, 'README.md');
const B_RUNNING = 1000;

type Server = Awaited<ReturnType<typeof startLessonServer>>;

/** The README's entry for one input: what was sent and the answer's status and code, then what it says. */
function describeAnswer(index: number, entry: BadInput, answer: Answer, server: Server, from: number): string[] {
  const code = typeof answer.kind === 'number' ? `error ${answer.kind}` : answer.kind;
  const logged = entry.logs && server.lines.slice(from).find((line) => entry.logs!.test(line));
  const said = logged ? `server log: ${logged.replace(/^.*? server /, '')}` : answer.message;
  return [
    `${String(index + 1).padStart(2)} ${entry.name.padEnd(44)} HTTP ${answer.status}, ${code}`,
    ...(said ? [`   ${said}`] : []),
  ];
}

describe('bad input over plain HTTP: a clear answer, and the server serves on', { timeout: scaled(60_000) }, () => {
  test(`lesson 01: all ${catalogue.length} entries, while a call runs untouched in another session (README)`, async () => {
    const server = await startLessonServer(join(root, 'lessons/01-cancel-by-id/server.ts'));
    try {
      const [a, b] = [await openRawSession(server.url), await openRawSession(server.url)];
      const running = await b.stream({
        jsonrpc: '2.0',
        id: B_RUNNING,
        method: 'tools/call',
        params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: 10_000, chunkDelayMs: 20 } },
      });
      await server.waitForLine(new RegExp(`#${B_RUNNING} chunk 1/`));
      const before = await jobStatusInSession(server.url, b.sessionId, B_RUNNING);

      const target: Target = { url: server.url, a, b, bRunning: B_RUNNING };
      const rows: string[] = [];
      for (const [index, entry] of catalogue.entries()) {
        const from = server.lines.length;
        const answer = await sendAndCheck(entry, target, server, { checkLog: true });
        rows.push(...describeAnswer(index, entry, answer, server, from));
      }

      // Session b's call ran on through all of it: no cancel recorded, more chunks done, stream open.
      const after = await jobStatusInSession(server.url, b.sessionId, B_RUNNING);
      assert.equal(after.state, 'running');
      assert.equal(after.cancelReceivedAtMs, undefined);
      assert.ok(after.chunksDone > before.chunksDone, `${before.chunksDone} -> ${after.chunksDone}`);
      assert.equal(running.ended, false);
      // And a real cancel still stops it, closes its file and ends its stream with -32800.
      assert.equal(
        (await b.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: B_RUNNING } })).status,
        202,
      );
      await running.done;
      assert.equal((running.messages.at(-1) as { error?: { code: number } }).error?.code, -32800);
      const stopped = await jobStatusInSession(server.url, b.sessionId, B_RUNNING);
      assert.deepEqual([stopped.state, stopped.fileHandle], ['cancelled', 'closed']);

      assert.equal(server.child.exitCode, null, 'the server is still running');
      noServerErrors(server);
      // V8's JSON.parse message says where: Node 20 and 24 add "(line 1 column N)", Node 22 does not.
      checkReadmeOutput(README, 'catalogue', rows, [[/ \(line \d+ column \d+\)/g, '']]);
    } finally {
      await server.stop();
    }
  });
});

type BareServer = Awaited<ReturnType<typeof bareSdkServer>>;

/**
 * A bare SDK 1.x server, with none of the shared wiring: one session, a `sleep` tool, plain
 * node:http in front of the transport.
 */
async function bareSdkServer() {
  const finished: number[] = [];
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
  const mcp = new McpServer({ name: 'bare', version: '1.0.0' });
  mcp.registerTool('sleep', { inputSchema: { ms: z.number() } }, async ({ ms }, extra) => {
    await sleep(ms, undefined, { signal: extra.signal });
    finished.push(ms);
    return { content: [{ type: 'text', text: `slept ${ms} ms` }] };
  });
  await mcp.connect(transport);
  const http = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    await transport.handleRequest(req, res, body ? JSON.parse(body) : undefined);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    finished,
    async close() {
      await transport.close();
      http.closeAllConnections();
      http.close();
    },
  };
}

describe(
  'what SDK 1.x does on its own (pinned: a test fails when the SDK changes)',
  { timeout: scaled(30_000) },
  () => {
    /** Runs `body` with a session on a fresh bare server, and closes the server whatever happens. */
    async function withBareServer(body: (session: RawSession, bare: BareServer) => Promise<void>) {
      const bare = await bareSdkServer();
      try {
        await body(await openRawSession(bare.url), bare);
      } finally {
        await bare.close();
      }
    }
    const sleepCall = (id: number, ms: number) => ({
      jsonrpc: '2.0' as const,
      id,
      method: 'tools/call',
      params: { name: 'sleep', arguments: { ms } },
    });

    test('it serves a POST whose Origin is another site', () =>
      withBareServer(async (session) => {
        const answer = await answerOf(await session.post(ping('o1'), { origin: 'https://evil.example' }));
        assert.deepEqual([answer.status, answer.kind], [200, 'result']);
      }));

    test('it answers JSON that is not JSON-RPC with -32700 Parse error', () =>
      withBareServer(async (session) => {
        const answer = await answerOf(await session.post({ hello: 'world' }));
        assert.deepEqual(
          [answer.status, answer.kind, answer.message],
          [400, -32700, 'Parse error: Invalid JSON-RPC message'],
        );
      }));

    test('it serves a batch, which protocol 2025-06-18 removed', () =>
      withBareServer(async (session) => {
        const response = await session.post([ping('b1'), ping('b2')]);
        assert.equal(response.status, 200);
        assert.equal((await response.text()).match(/"result":\{\}/g)?.length, 2);
      }));

    test('it answers params that do not fit the method with -32603 (Internal error) and the raw zod issues', () =>
      withBareServer(async (session) => {
        const answer = await answerOf(
          await session.post({
            jsonrpc: '2.0',
            id: 3,
            method: 'tools/call',
            params: { name: 'sleep', arguments: [1] },
          }),
        );
        assert.equal(answer.kind, -32603);
        assert.match(answer.message, /"expected": "record"[\s\S]*"arguments"/);
      }));

    test("a second request with a running request's id takes its stream: the first reply is lost and its stream never ends", () =>
      withBareServer(async (session, bare) => {
        const first = await session.stream(sleepCall(5, 1000));
        const second = await session.stream(sleepCall(5, 0));
        await second.done;
        await waitFor('both handlers to finish', () => bare.finished.length === 2);
        await (await session.post(ping('one-more-round-trip'))).text();
        assert.match(JSON.stringify(second.messages), /slept 0 ms/);
        assert.equal(first.ended, false, 'the first stream is still open');
        assert.deepEqual(first.messages, [], 'and its reply went nowhere');
      }));
  },
);
