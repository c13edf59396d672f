// Sessions and calls that cannot pile up (lessons/shared/mcp-http.ts, SessionLimits): an idle
// session expires and frees what it held, as a DELETE does; a call running keeps its session
// alive; a server at its most sessions, or a session at its most calls, answers with 503 or 429,
// Retry-After and a message a person understands, and keeps serving everyone else.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startLessonServer } from '../../lessons/shared/processes.ts';
import { openRawSession } from '../../lessons/shared/raw-mcp.ts';
import { canSeeFileDescriptors, openDescriptorsTo } from '../../lessons/shared/testing.ts';
import { scaled, waitFor } from '../../lessons/shared/wait.ts';

const LESSON_01 = join(import.meta.dirname, '../../lessons/01-cancel-by-id/server.ts');
const call = (id: number, chunks: number, chunkDelayMs: number) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'tools/call',
  params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
});
const ping = (id: number) => ({ jsonrpc: '2.0' as const, id, method: 'ping' });

describe('session limits', { timeout: scaled(60_000) }, () => {
  test('an idle session expires and frees its held stream, as a DELETE would; its id then gets 404', async () => {
    // --on-cancel none: SDK 1.x holds a cancelled call's stream until its session ends.
    const server = await startLessonServer(LESSON_01, ['--on-cancel', 'none'], { env: { MCP_SESSION_IDLE_MS: '500' } });
    try {
      const session = await openRawSession(server.url);
      const held = await session.stream(call(1, 50, 100));
      await server.waitForJob(1, (job) => job.chunksDone >= 1);
      await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } });
      const job = await server.waitForJob(1, (j) => j.state === 'cancelled' && j.fileHandle === 'closed');
      assert.equal(job.responseStream, 'open', 'held: nothing was replied');
      await server.waitForProof('the session to expire', (r) => r.type === 'session' && r.state === 'expired');
      await held.done;
      assert.deepEqual(held.messages, [], 'it ended with no answer, as a DELETE ends it');
      await server.waitForProof('the session to end', (r) => r.type === 'session' && r.state === 'ended');
      const after = await session.post(ping(2));
      assert.equal(after.status, 404);
      if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(server.child.pid!, 'sample.txt'), 0);
    } finally {
      await server.stop();
    }
  });

  test('a call running longer than the idle time keeps its session alive; once it is over, the session expires', async () => {
    const server = await startLessonServer(LESSON_01, [], { env: { MCP_SESSION_IDLE_MS: '300' } });
    try {
      const session = await openRawSession(server.url);
      const running = await session.stream(call(1, 12, 100)); // 1.2 s, four idle periods
      await running.done;
      assert.equal((running.messages.at(-1) as { result?: unknown }).result !== undefined, true, 'it completed');
      const expired = server.proof().filter((r) => r.type === 'session' && r.state === 'expired');
      assert.deepEqual(expired, [], 'not while its call ran');
      await server.waitForProof('the session to expire', (r) => r.type === 'session' && r.state === 'expired');
    } finally {
      await server.stop();
    }
  });

  test('at its most sessions a server answers initialize with 503 and Retry-After, and serves the others', async () => {
    const server = await startLessonServer(LESSON_01, [], { env: { MCP_MAX_SESSIONS: '2' } });
    try {
      const [a, b] = [await openRawSession(server.url), await openRawSession(server.url)];
      const refused = await openRawSession(server.url).catch((error: Error) => error);
      assert.ok(refused instanceof Error);
      assert.match(refused.message, /HTTP 503/);
      assert.match(refused.message, /already holds 2 sessions, its most\. Retry in a few seconds/);
      const direct = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 0,
          method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '0' } },
        }),
      });
      assert.equal(direct.status, 503);
      assert.equal(direct.headers.get('retry-after'), '5');
      assert.equal((await a.post(ping(1))).status, 200, 'the sessions it holds are served');
      await b.close();
      await openRawSession(server.url); // one ended: there is room again
    } finally {
      await server.stop();
    }
  });

  test('at its most calls a session gets 429 with Retry-After for the next, keyed to its id; another session is served', async () => {
    const server = await startLessonServer(LESSON_01, [], { env: { MCP_MAX_CALLS_PER_SESSION: '2' } });
    try {
      const [a, b] = [await openRawSession(server.url), await openRawSession(server.url)];
      const first = await a.stream(call(1, 20, 50));
      const second = await a.stream(call(2, 20, 50));
      await server.waitForJob(2, (job) => job.chunksDone >= 1);
      const third = await a.post(call(3, 1, 0));
      assert.equal(third.status, 429);
      assert.equal(third.headers.get('retry-after'), '1');
      const body = (await third.json()) as { id: number; error: { message: string } };
      assert.equal(body.id, 3);
      assert.match(body.error.message, /Too Many Requests: this session already runs 2 calls, its most/);
      assert.equal((await a.post(ping(4))).status, 200, 'a ping is not a call');
      const other = await b.stream(call(1, 1, 0));
      await other.done;
      assert.ok((other.messages.at(-1) as { result?: unknown }).result, 'another session is served');
      await Promise.all([first.done, second.done]);
      const again = await a.stream(call(5, 1, 0));
      await waitFor('the call after the others finished', () => again.ended);
      assert.ok((again.messages.at(-1) as { result?: unknown }).result);
    } finally {
      await server.stop();
    }
  });
});
