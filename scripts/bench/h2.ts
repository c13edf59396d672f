// The benchmark server's sessions over HTTP/2 (h2c: cleartext, prior knowledge), for bench part 7.
//
// The shared wiring (lessons/shared/mcp-http.ts) cannot be served by node:http2's compatibility
// API: it is an express 5 app, and express gives every request the prototype of its own request
// object, which inherits from http.IncomingMessage. An Http2ServerRequest made over into one fails
// as soon as the JSON body parser reads it (`IncomingMessage._read` reads `this.socket.readable`:
// "Cannot read properties of undefined"). The SDK 1.x transport itself does serve HTTP/2: it hands
// the request to @hono/node-server, which knows Http2ServerRequest. So this is the shared wiring's
// session routing without express: one McpServer and transport per session, the record of each
// request's response stream, and `onClientMessage`. No guard of http-guards.ts is here: the only
// client is the benchmark's.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  isInitializeRequest,
  isJSONRPCRequest,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { JobBook } from '../../lessons/shared/jobs.ts';
import type { McpSession, NewSession, ResponseStreamRecord } from '../../lessons/shared/mcp-http.ts';

export interface H2cOptions {
  createServer: (session: NewSession) => McpSession['server'];
  port: number;
  keepAliveMs: number;
  onClientMessage: (session: McpSession, message: JSONRPCMessage) => void;
}

async function readJson(req: Http2ServerRequest): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const answer = (res: Http2ServerResponse, status: number, message: string) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }));
};

/**
 * The SDK's SSE responses carry `Connection: keep-alive`, which HTTP/2 forbids: node:http2 drops
 * it and says so once per process (an UnsupportedWarning). Expected here: show every other warning.
 */
export function dropConnectionHeaderWarning() {
  const shown = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'UnsupportedWarning' && /connection header/i.test(warning.message)) return;
    for (const listener of shown) listener(warning);
  });
}

export async function serveMcpOverH2c(options: H2cOptions) {
  dropConnectionHeaderWarning();
  const sessions = new Map<string, McpSession>();
  // The SDK's types name node:http's request and response; at run time it takes either kind.
  const node = (req: Http2ServerRequest, res: Http2ServerResponse) =>
    [req as unknown as IncomingMessage, res as unknown as ServerResponse] as const;

  async function startSession(req: Http2ServerRequest, res: Http2ServerResponse, body: unknown) {
    let session: McpSession | undefined;
    const responseStreams = new Map<RequestId, ResponseStreamRecord>();
    const jobs = new JobBook(
      () => responseStreams,
      () => transport.sessionId,
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      keepAliveMs: options.keepAliveMs,
      onsessioninitialized: (id) => {
        session = { id, transport, server, responseStreams, jobs };
        sessions.set(id, session);
      },
    });
    transport.onclose = () => void (session && sessions.delete(session.id));
    const server = options.createServer({
      transport,
      sessionId: () => transport.sessionId,
      jobs,
      responseFor: () => undefined, // no handler of the benchmark's reads its Node response
    });
    await server.connect(transport);
    await transport.handleRequest(...node(req, res), body);
  }

  const http2 = createServer(async (req, res) => {
    try {
      if (req.url.split('?')[0] !== '/mcp') return answer(res, 404, `Not Found: ${req.url}`);
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      const sessionId = req.headers['mcp-session-id'];
      if (req.method === 'POST' && sessionId === undefined && isInitializeRequest(body))
        return await startSession(req, res, body);
      const session = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
      if (!session) return answer(res, 404, `Session not found: ${String(sessionId)}`);
      if (req.method === 'POST') {
        const message = body as JSONRPCMessage;
        options.onClientMessage(session, message);
        if (isJSONRPCRequest(message)) {
          const record: ResponseStreamRecord = { openedAt: performance.now() };
          session.responseStreams.set(message.id, record);
          res.once('close', () => (record.closedAt = performance.now()));
        }
      }
      await session.transport.handleRequest(...node(req, res), body);
    } catch (error) {
      if (!res.headersSent) answer(res, 500, (error as Error).message);
    }
  });
  await new Promise<void>((resolve, reject) => {
    http2.once('error', reject);
    http2.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = http2.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/mcp`, port, sessions };
}
