// Lesson 08 in SDK 2.x: does ctx.mcpReq.notify wait for a reader that has stopped reading, and does
// it still send after a cancel? A small 2.x server in this process (2025-11-25, with sessions, over
// real HTTP on 127.0.0.1) and a raw reader that pauses the call's response at once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMcpExpressApp } from '@modelcontextprotocol/express';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { openRawSession } from '../shared/raw-mcp.ts';
import { scaled, waitFor } from '../shared/wait.ts';

const LINES = 4000; // 4,000 notifications of ~1 KB: 4 MB, far more than a socket's buffers hold
const flood = { sent: 0, done: false, aborted: false, afterAbort: '' };

function startServer() {
  const sessions = new Map<string, NodeStreamableHTTPServerTransport>();
  const app = createMcpExpressApp();
  app.all('/mcp', async (req, res) => {
    const id = req.headers['mcp-session-id'] as string | undefined;
    let transport = id ? sessions.get(id) : undefined;
    if (!transport) {
      const t = new NodeStreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (sid) => void sessions.set(sid, t),
      });
      const server = new McpServer({ name: 'lesson-08-v2-probe', version: '1.0.0' }, { capabilities: { logging: {} } });
      server.registerTool('export_log', { inputSchema: z.object({}) }, async (_args, ctx) => {
        for (let i = 0; i < LINES; i++) {
          await ctx.mcpReq.notify({
            method: 'notifications/message',
            params: { level: 'info', data: `${i} ${'x'.repeat(1000)}` },
          });
          flood.sent++;
        }
        flood.done = true;
        await sleep(60_000, undefined, { signal: ctx.mcpReq.signal }).catch(() => {});
        flood.aborted = ctx.mcpReq.signal.aborted;
        try {
          await ctx.mcpReq.notify({ method: 'notifications/message', params: { level: 'info', data: 'after-abort' } });
          flood.afterAbort = 'resolved';
        } catch (error) {
          flood.afterAbort = `threw: ${(error as Error).message}`;
        }
        return { content: [{ type: 'text', text: 'done' }] };
      });
      await server.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
  });
  const http = createServer(app);
  return new Promise<{ url: string; close: () => void }>((resolve) =>
    http.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
        close: () => (http.closeAllConnections(), http.close()),
      }),
    ),
  );
}

describe(
  'lesson 08 in SDK 2.x: notify does not wait for a stalled reader, and still sends after a cancel',
  { timeout: scaled(30_000) },
  () => {
    test('2025-11-25 with a session: 4 MB of notifications resolve while the reader reads nothing', async () => {
      const { url, close } = await startServer();
      try {
        const session = await openRawSession(url);
        const body = JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'export_log', arguments: {} },
        });
        const response = await new Promise<IncomingMessage>((resolve, reject) => {
          const req = request(url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              'mcp-session-id': session.sessionId,
              'mcp-protocol-version': session.protocolVersion,
            },
          });
          req.on('response', (res) => (res.pause(), resolve(res))).on('error', reject);
          req.end(body);
        });
        // Every awaited notify resolved though nothing was read: SDK 2.x does not wait for the reader,
        // as 1.x does not (lesson 08's --naive): the bytes queue in the server's memory.
        await waitFor('all notifications to resolve', () => flood.done, { timeoutMs: scaled(10_000) });
        assert.equal(flood.sent, LINES);
        // The cancel still lands; after it, notify resolves and its message still goes out on the stream.
        await session.post({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: 1, reason: 'enough' },
        });
        await waitFor('the handler to see the cancel and notify once more', () => flood.afterAbort !== '');
        assert.equal(flood.aborted, true);
        assert.equal(flood.afterAbort, 'resolved');
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.resume();
        await waitFor(
          'the reader to catch up',
          () => text.includes(`"${LINES - 1} x`) && text.includes('after-abort'),
          {
            timeoutMs: scaled(10_000),
          },
        );
        assert.match(text, /after-abort/, 'SDK 2.x sent a notification after the cancel');
        response.destroy();
        await session.close().catch(() => {});
      } finally {
        close();
      }
    });
  },
);
