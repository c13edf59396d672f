// Streamable HTTP plumbing shared by every lesson: one MCP server + transport per session,
// express 5 routing for POST/GET/DELETE on /mcp, clear errors for bad HTTP input, a record of
// every request's response stream (open or closed), and a clean shutdown.
//
// The lesson's own point lives in the lesson's server.ts; nothing here knows about cancelling.
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { localhostHostValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import {
  isInitializeRequest,
  isJSONRPCRequest,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { JobBook } from './jobs.ts';
import type { Timeline } from './timeline.ts';

export const MCP_PATH = '/mcp';

/** When the HTTP response that carries a request's reply (its SSE stream) opened and closed. */
export interface ResponseStreamRecord {
  openedAt: number;
  closedAt?: number;
  /**
   * The Node response itself while it is open, so a handler can see a slow reader
   * (`writableNeedDrain`) and wait for `'drain'`; dropped when it closes.
   */
  response?: ServerResponse;
}

export interface McpSession {
  id: string;
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  /** The response stream of every JSON-RPC request this session has posted, by request id. */
  responseStreams: Map<RequestId, ResponseStreamRecord>;
  /** The session's tool calls, as its handlers record them (read by `get_job_status`). */
  jobs: JobBook;
}

/** What `createServer` gets for a new session. */
export interface NewSession {
  transport: StreamableHTTPServerTransport;
  sessionId: () => string | undefined;
  /** The job book of this session, for its handlers and `registerJobStatusTool`. */
  jobs: JobBook;
  /** The open Node response that carries request `requestId`'s SSE stream, or undefined once it has closed. */
  responseFor: (requestId: RequestId) => ServerResponse | undefined;
}

export interface ServeMcpOptions {
  /** Builds the MCP server for one session. Called once per `initialize`. */
  createServer: (session: NewSession) => McpServer;
  timeline: Timeline;
  /** 127.0.0.1 unless you have a reason: a server on loopback cannot be reached from other machines. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Seen before the SDK handles each message a client posts to an existing session. */
  onClientMessage?: (session: McpSession, message: JSONRPCMessage) => void;
  /** Called when the HTTP response that carried a request's reply closes. */
  onResponseStreamClosed?: (session: McpSession, requestId: RequestId) => void;
  /** Interval of the SDK's SSE keep-alive comments (SDK default: 15 000 ms). */
  keepAliveMs?: number;
}

export interface RunningMcpServer {
  url: string;
  port: number;
  sessions: Map<string, McpSession>;
  close(): Promise<void>;
}

function jsonRpcError(res: Response, status: number, code: number, message: string) {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

export async function serveMcpOverHttp(options: ServeMcpOptions): Promise<RunningMcpServer> {
  const { timeline, host = '127.0.0.1' } = options;
  const sessions = new Map<string, McpSession>();
  const app = express();

  // Reject requests whose Host header is not loopback (DNS rebinding protection).
  app.use(localhostHostValidation());
  app.use(express.json({ limit: '1mb' }));

  const sessionFor = (req: Request, res: Response): McpSession | undefined => {
    const sessionId = req.header('mcp-session-id');
    if (!sessionId) {
      jsonRpcError(
        res,
        400,
        -32000,
        'Bad Request: no Mcp-Session-Id header. Send initialize first to start a session.',
      );
      return undefined;
    }
    const session = sessions.get(sessionId);
    if (!session) {
      jsonRpcError(
        res,
        404,
        -32001,
        `Session not found: ${sessionId}. It has ended (DELETE or server restart); send initialize to start a new one.`,
      );
      return undefined;
    }
    return session;
  };

  app.post(MCP_PATH, async (req, res) => {
    const body: unknown = req.body;
    const messages = (Array.isArray(body) ? body : [body]) as JSONRPCMessage[];

    if (!req.header('mcp-session-id') && messages.some((m) => isInitializeRequest(m))) {
      await startSession(req, res);
      return;
    }
    const session = sessionFor(req, res);
    if (!session) return;

    for (const message of messages) {
      if (typeof message !== 'object' || message === null) continue;
      options.onClientMessage?.(session, message);
      if (isJSONRPCRequest(message)) {
        const record: ResponseStreamRecord = { openedAt: performance.now(), response: res };
        session.responseStreams.set(message.id, record);
        res.on('close', () => {
          record.closedAt = performance.now();
          delete record.response;
          options.onResponseStreamClosed?.(session, message.id);
        });
      }
    }
    await session.transport.handleRequest(req, res, body);
  });

  // GET opens the session's standalone SSE stream; DELETE ends the session.
  const forward = async (req: Request, res: Response) => {
    const session = sessionFor(req, res);
    if (session) await session.transport.handleRequest(req, res);
  };
  app.get(MCP_PATH, forward);
  app.delete(MCP_PATH, forward);

  async function startSession(req: Request, res: Response) {
    let session: McpSession | undefined;
    const responseStreams = new Map<RequestId, ResponseStreamRecord>();
    const jobs = new JobBook(() => responseStreams);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      keepAliveMs: options.keepAliveMs,
      onsessioninitialized: (id) => {
        session = { id, transport, server, responseStreams, jobs };
        sessions.set(id, session);
        timeline.detail(`session ${id} started`);
      },
    });
    transport.onclose = () => {
      if (!session) return;
      sessions.delete(session.id);
      timeline.detail(`session ${session.id} ended`);
    };
    const server = options.createServer({
      transport,
      sessionId: () => transport.sessionId,
      jobs,
      responseFor: (requestId) => responseStreams.get(requestId)?.response,
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  }

  // Malformed JSON, an oversized body, or any other error express raises: answer in JSON-RPC,
  // with a message a person can act on, and keep serving.
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    if (err.type === 'entity.parse.failed') {
      jsonRpcError(res, 400, -32700, `Parse error: the body is not valid JSON (${err.message})`);
    } else if (err.type === 'entity.too.large') {
      jsonRpcError(res, 413, -32600, 'Invalid Request: the body is larger than the 1 MB this server accepts');
    } else {
      timeline.fail(`HTTP error: ${err.stack ?? err.message}`);
      jsonRpcError(res, err.status ?? 500, -32603, `Internal error: ${err.message}`);
    }
  });

  const httpServer = createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `port ${options.port} on ${host} is in use: stop what holds it, or pass --port N (0 picks a free port)`,
            )
          : error,
      ),
    );
    httpServer.listen(options.port, host, resolve);
  });
  const { port } = httpServer.address() as AddressInfo;

  return {
    url: `http://${host}:${port}${MCP_PATH}`,
    port,
    sessions,
    async close() {
      // Closing a transport aborts every handler still running on it (their extra.signal fires).
      await Promise.all([...sessions.values()].map((s) => s.transport.close()));
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

/**
 * `serveMcpOverHttp` for a lesson server's main module: when it cannot serve (a busy port, say)
 * it prints why and exits 1; once serving, Ctrl-C or SIGTERM closes every session and exits.
 */
export async function serveMcpOrExit(options: ServeMcpOptions): Promise<RunningMcpServer> {
  const running = await serveMcpOverHttp(options).catch((error: Error) => {
    options.timeline.fail(error.message);
    process.exit(1);
  });
  closeOnSignals(running, options.timeline);
  return running;
}

/**
 * On SIGINT/SIGTERM, closes every session, which aborts the handlers still running, and exits. It
 * does not wait for their `finally` blocks: lesson 09's shutdown does, and lesson 05's.
 */
export function closeOnSignals(server: RunningMcpServer, timeline: Timeline) {
  const stop = async (signal: string) => {
    timeline.detail(`${signal}: closing sessions and exiting`);
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
