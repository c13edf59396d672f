// Streamable HTTP plumbing shared by every lesson: one MCP server + transport per session,
// express 5 routing for POST/GET/DELETE on /mcp, clear errors for bad HTTP input, a record of
// every request's response stream (open or closed), and lesson 09's shutdown wired in (serveMcpOrExit).
//
// The lesson's own point lives in the lesson's server.ts; nothing here knows about cancelling.
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, STATUS_CODES, type ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { localhostHostValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import {
  ClientRequestSchema,
  isInitializeRequest,
  isJSONRPCRequest,
  JSONRPCMessageSchema,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { shutDownGracefully } from '../09-disconnects-and-shutdown/shutdown.ts';
import { JobBook } from './jobs.ts';
import { prove } from './proof.ts';
import { exitCannotServe, listenOn } from './listen.ts';
import { preview, type Timeline } from './timeline.ts';

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
  /** Work that outlives its request (a task's work), for the shutdown to stop and wait for. */
  otherWork?: OtherWork;
  /**
   * Requests that arrive before this settles wait for it: a server that takes its port first (so a
   * busy port is named at once) and then opens its database serves no call before the database is open.
   */
  servesAfter?: Promise<unknown>;
}

/** Work a shutdown must stop and wait for besides the running request handlers. */
export interface OtherWork {
  /** Asks every piece of it to stop; returns how many were running. */
  stop(reason: string): number;
  /** How many pieces are still running (each counts until its clean-up is done). */
  running(): number;
}

export interface RunningMcpServer {
  url: string;
  port: number;
  sessions: Map<string, McpSession>;
  /** How many request handlers are running, in every session (a handler counts until its `finally` is done). */
  handlersRunning(): number;
  /**
   * Aborts every running request handler (their `extra.signal` fires) and returns how many it
   * aborted. From then on the server answers every request with 503: it is shutting down.
   */
  stopHandlers(reason: string): number;
  close(): Promise<void>;
}

function jsonRpcError(res: Response, status: number, code: number, message: string) {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

const LOOPBACK_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'];

/**
 * DNS rebinding protection, second half (the SDK's `localhostHostValidation` checks Host): a
 * browser sends `Origin` with a page's requests, so a page on another site that reaches this port
 * has a foreign one. No Origin (curl, SDK clients, Postman) passes; a loopback one, any port, too.
 * The same rule as SDK 2.x's `localhostOriginValidation`; SDK 1.x has none (its transport options
 * for this are deprecated in favour of middleware).
 *
 * Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#security-warning
 */
export function originIsAllowed(origin: string | undefined): boolean {
  if (origin === undefined || origin === '') return true;
  try {
    return LOOPBACK_HOSTNAMES.includes(new URL(origin).hostname);
  } catch {
    return false; // "null" (a sandboxed page, a file:// page) or not a URL at all
  }
}

/** The SDK's schema of every request a client may send, by method. */
const clientRequestSchemas = new Map<string, (typeof ClientRequestSchema.options)[number]>(
  ClientRequestSchema.options.map((schema) => [schema.shape.method.value, schema]),
);

/**
 * Why a request's params do not fit its method, e.g. `expected record, received array at
 * params.arguments`; undefined when they fit, or when the server does not serve the method (the SDK
 * then answers -32601), or when MCP defines no schema for it. SDK 1.x would
 * answer such a request with -32603 "Internal error" and the raw zod issues; JSON-RPC's code is -32602.
 */
function whyParamsDoNotFit(server: McpServer, request: { method: string; params?: unknown }): string | undefined {
  if (!handledMethods(server).has(request.method)) return undefined; // the SDK answers -32601
  const parsed = clientRequestSchemas
    .get(request.method)
    ?.safeParse({ method: request.method, params: request.params });
  if (!parsed || parsed.success) return undefined;
  return parsed.error.issues
    .map((issue) => `${issue.message} at ${['params', ...issue.path.slice(1)].join('.')}`)
    .join('; ');
}

/** Why `body` is not one JSON-RPC 2.0 message MCP accepts, in words; undefined when it is one. */
function whyNotOneMessage(body: unknown): string | undefined {
  if (body === undefined) return 'the body is empty: send one JSON-RPC message';
  if (Array.isArray(body)) {
    return 'a JSON array is a JSON-RPC batch, and protocol 2025-06-18 and later have none: send one message per POST';
  }
  if (JSONRPCMessageSchema.safeParse(body).success) return undefined;
  const message = body as Record<string, unknown>;
  if (Object.keys(message).length === 0) return 'the body is empty (nothing, or {}): send one JSON-RPC message';
  if (message.jsonrpc !== '2.0') return 'not JSON-RPC 2.0: "jsonrpc" must be "2.0"';
  if ('method' in message && typeof message.method !== 'string') return '"method" must be a string';
  if (
    'params' in message &&
    (typeof message.params !== 'object' || message.params === null || Array.isArray(message.params))
  ) {
    return '"params" must be an object';
  }
  if ('id' in message && !(typeof message.id === 'string' || Number.isSafeInteger(message.id))) {
    const why = message.id === null ? ' (MCP allows no null id)' : '';
    return `"id" must be a string or an integer (within ±2^53), not ${preview(message.id)}${why}`;
  }
  if (!('method' in message) && !('result' in message) && !('error' in message)) {
    return 'a message needs a "method" (a request or a notification) or a "result" or "error" (a response)';
  }
  return 'not a JSON-RPC 2.0 request, notification or response';
}

export async function serveMcpOverHttp(options: ServeMcpOptions): Promise<RunningMcpServer> {
  const { timeline, host = '127.0.0.1' } = options;
  const sessions = new Map<string, McpSession>();
  const app = express();

  // Reject requests whose Host header is not loopback, or that come from a page on another site
  // (DNS rebinding protection): 403, before anything is parsed.
  app.use(localhostHostValidation());
  app.use((req, res, next) => {
    const origin = req.header('origin');
    if (originIsAllowed(origin)) return next();
    jsonRpcError(
      res,
      403,
      -32000,
      `Forbidden: Origin ${origin} is not allowed; this server only serves pages on localhost`,
    );
  });
  if (options.servesAfter) {
    const ready = options.servesAfter;
    app.use((_req, _res, next) => void ready.then(() => next(), next));
  }
  let shuttingDown = false;
  app.use((_req, res, next) => {
    if (!shuttingDown) return next();
    // Work started now would only be aborted: say so, and let the client retry elsewhere or later.
    jsonRpcError(res, 503, -32000, 'Service Unavailable: the server is shutting down');
  });
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
    if (!/^application\/json\s*(;|$)/i.test(req.header('content-type') ?? '')) {
      jsonRpcError(res, 415, -32000, 'Unsupported Media Type: send the message with Content-Type: application/json');
      return;
    }
    const body: unknown = req.body;
    const invalid = whyNotOneMessage(body);
    if (invalid) {
      jsonRpcError(res, 400, -32600, `Invalid Request: ${invalid}`);
      return;
    }
    const message = body as JSONRPCMessage;

    if (!req.header('mcp-session-id') && isInitializeRequest(message)) {
      await startSession(req, res);
      return;
    }
    const session = sessionFor(req, res);
    if (!session) return;

    // SDK 1.x keys a session's running requests by id: a second request with the id of one still
    // running (or whose response stream is still open) takes over its entries, so the first one's
    // reply is lost, its stream never ends, and no cancel can reach it any more.
    if (isJSONRPCRequest(message)) {
      const { id, method } = message;
      if (idInUse(session, id)) {
        const shown = preview(id);
        jsonRpcError(
          res,
          409,
          -32600,
          `Invalid Request: request id ${shown} is still in use in this session; use a new id`,
        );
        return;
      }
      const badParams = whyParamsDoNotFit(session.server, message);
      if (badParams) {
        res.json({
          jsonrpc: '2.0',
          id,
          error: { code: -32602, message: `Invalid params for ${method}: ${badParams}` },
        });
        return;
      }
    }
    options.onClientMessage?.(session, message);
    if (isJSONRPCRequest(message)) {
      const record: ResponseStreamRecord = { openedAt: performance.now(), response: res };
      session.responseStreams.set(message.id, record);
      res.on('close', () => {
        record.closedAt = performance.now();
        delete record.response;
        const job = session.jobs.get(message.id);
        if (job) session.jobs.prove(job);
        options.onResponseStreamClosed?.(session, message.id);
      });
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
  app.all(MCP_PATH, (req, res) => {
    res.set('Allow', 'GET, POST, DELETE');
    jsonRpcError(
      res,
      405,
      -32000,
      `Method Not Allowed: ${req.method}. POST sends a message, GET opens the session's SSE stream, DELETE ends the session`,
    );
  });
  app.use((req, res) =>
    jsonRpcError(res, 404, -32000, `Not Found: ${req.method} ${req.path}; MCP is served at ${MCP_PATH}`),
  );

  async function startSession(req: Request, res: Response) {
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
        timeline.detail(`session ${id} started`);
        prove({ type: 'session', session: id, state: 'started' });
      },
    });
    transport.onclose = () => {
      if (!session) return;
      sessions.delete(session.id);
      timeline.detail(`session ${session.id} ended`);
      prove({ type: 'session', session: session.id, state: 'ended' });
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
  app.use(
    (
      err: Error & { status?: number; type?: string; code?: string },
      _req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      if (res.headersSent) return;
      if (err.type === 'entity.parse.failed') {
        jsonRpcError(res, 400, -32700, `Parse error: the body is not valid JSON (${err.message})`);
      } else if (err.type === 'entity.too.large') {
        jsonRpcError(res, 413, -32600, 'Invalid Request: the body is larger than the 1 MB this server accepts');
      } else if (err.status !== undefined && err.status < 500) {
        // Another mistake in the request (an unsupported charset or Content-Encoding, a body that
        // does not inflate): the client's to fix, and nothing to log.
        const inflate = /^Z_/.test(err.code ?? '');
        const what = inflate ? `the body is not the data its Content-Encoding names (${err.message})` : err.message;
        jsonRpcError(res, err.status, -32000, `${STATUS_CODES[err.status]}: ${what}`);
      } else {
        timeline.fail(`HTTP error: ${err.stack ?? err.message}`);
        jsonRpcError(res, err.status ?? 500, -32603, `Internal error: ${err.message}`);
      }
    },
  );

  const httpServer = createHttpServer(app);
  const port = await listenOn(httpServer, options.port, host);

  const handlersOf = (session: McpSession) => runningHandlers(session.server);
  return {
    url: `http://${host}:${port}${MCP_PATH}`,
    port,
    sessions,
    handlersRunning: () => [...sessions.values()].reduce((sum, session) => sum + handlersOf(session).size, 0),
    stopHandlers(reason) {
      shuttingDown = true;
      let stopped = 0;
      for (const session of sessions.values()) {
        for (const controller of handlersOf(session).values()) {
          if (controller.signal.aborted) continue;
          controller.abort(reason);
          stopped++;
        }
      }
      return stopped;
    },
    async close() {
      // Closing a transport aborts every handler still running on it (their extra.signal fires).
      await Promise.all([...sessions.values()].map((s) => s.transport.close()));
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

/** True while request `id` of this session runs, or its response stream is still open. */
function idInUse(session: McpSession, id: RequestId): boolean {
  const stream = session.responseStreams.get(id);
  return runningHandlers(session.server).has(id) || (stream !== undefined && stream.closedAt === undefined);
}

/** The methods a session's server has a request handler for (private in SDK 1.x, like the map below). */
function handledMethods(server: McpServer): Map<string, unknown> {
  const handlers = (server.server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  if (!(handlers instanceof Map)) throw new Error('SDK changed: Protocol._requestHandlers is gone');
  return handlers as Map<string, unknown>;
}

/**
 * The request handlers running in a session: the SDK's own record, one AbortController per request,
 * removed once the handler has settled (its `finally` included). It is private in SDK 1.x, read here
 * because nothing public says when a handler has finished cleaning up; if it is gone, this fails loudly.
 */
function runningHandlers(server: McpServer): Map<RequestId, AbortController> {
  const protocol = server.server as unknown as { _requestHandlerAbortControllers?: unknown };
  const handlers = protocol._requestHandlerAbortControllers;
  if (!(handlers instanceof Map)) {
    throw new Error(
      'SDK changed: Protocol._requestHandlerAbortControllers is gone; the shutdown cannot see running handlers',
    );
  }
  return handlers as Map<RequestId, AbortController>;
}

/**
 * `serveMcpOverHttp` for a lesson server's main module: when it cannot serve (a busy port, say)
 * it prints why and exits 1; once serving, Ctrl-C or SIGTERM shuts it down the way lesson 09
 * teaches: stop the running calls (and `otherWork`), wait for their clean-up, close, exit.
 */
export async function serveMcpOrExit(options: ServeMcpOptions): Promise<RunningMcpServer> {
  const running = await serveMcpOverHttp(options).catch((error: Error) => exitCannotServe(options.timeline, error));
  const { otherWork } = options;
  shutDownGracefully({
    log: options.timeline,
    stopAll: (reason) => running.stopHandlers(reason) + (otherWork?.stop(reason) ?? 0),
    stillBusy: () => running.handlersRunning() + (otherWork?.running() ?? 0),
    close: () => running.close(),
  });
  return running;
}
