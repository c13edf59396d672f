// Streamable HTTP plumbing shared by every lesson: one MCP server + transport per session,
// express 5 routing for POST/GET/DELETE on /mcp, a record of every request's response stream
// (open or closed), and lesson 09's shutdown wired in (serveMcpOrExit). The hardening no lesson
// teaches (clear answers to malformed input, foreign pages, ids in use) is in http-guards.ts.
//
// The lesson's own point lives in the lesson's server.ts; nothing here knows about cancelling.
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  isInitializeRequest,
  isJSONRPCRequest,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { shutDownGracefully } from '../09-disconnects-and-shutdown/shutdown.ts';
import {
  answerHttpErrors,
  fitsSessionOrAnswer,
  jsonRpcError,
  oneMessageOrAnswer,
  onlyLocalPages,
} from './http-guards.ts';
import { JobBook } from './jobs.ts';
import { prove } from './proof.ts';
import { exitCannotServe, listenOn } from './listen.ts';
import { runningHandlers } from './sdk-internals.ts';
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
  /** Work that outlives its request (a task's work), for the shutdown to stop and wait for. */
  otherWork?: OtherWork;
  /** How long sessions may sit idle, and how many sessions and calls a server takes (default: `limitsFromEnv()`). */
  limits?: Partial<SessionLimits>;
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

/**
 * What keeps a server that real clients use from growing without bound. A client that is killed
 * never sends DELETE, and SDK 1.x keeps its session (transport, server, job book, streams) until
 * one arrives: an idle session expires instead. A session with a call running is not idle; a
 * held stream (a cancelled call nobody answered) does not keep it alive, and expiring frees it.
 */
export interface SessionLimits {
  /** A session with no request and no call running for this long is closed, as a DELETE closes it. */
  idleMs: number;
  /** An initialize beyond this many open sessions gets 503 with Retry-After. */
  sessions: number;
  /** A request beyond this many calls running in one session gets 429 with Retry-After. */
  callsPerSession: number;
}

/** The limits, from MCP_SESSION_IDLE_MS, MCP_MAX_SESSIONS and MCP_MAX_CALLS_PER_SESSION, or their defaults. */
export function limitsFromEnv(env = process.env): SessionLimits {
  const read = (name: string, fallback: number) => {
    const value = Number(env[name]);
    return env[name] !== undefined && Number.isInteger(value) && value > 0 ? value : fallback;
  };
  return {
    idleMs: read('MCP_SESSION_IDLE_MS', 30 * 60_000),
    sessions: read('MCP_MAX_SESSIONS', 1000),
    callsPerSession: read('MCP_MAX_CALLS_PER_SESSION', 100),
  };
}

export async function serveMcpOverHttp(options: ServeMcpOptions): Promise<RunningMcpServer> {
  const { timeline, host = '127.0.0.1' } = options;
  const limits = { ...limitsFromEnv(), ...options.limits };
  const sessions = new Map<string, McpSession>();
  /** When each session last had a request, or last finished a call. */
  const lastActive = new WeakMap<McpSession, number>();
  const touch = (session: McpSession) => lastActive.set(session, performance.now());
  const handlersOf = (session: McpSession) => runningHandlers(session.server);
  // Idle sessions expire: checked a few times per idle period (at least once a second).
  const sweeper = setInterval(
    () => {
      const now = performance.now();
      for (const session of sessions.values()) {
        if (handlersOf(session).size > 0)
          touch(session); // a call running keeps its session alive
        else if (now - (lastActive.get(session) ?? now) >= limits.idleMs) void expire(session);
      }
    },
    Math.min(1000, Math.max(10, limits.idleMs / 4)),
  );
  sweeper.unref();
  async function expire(session: McpSession) {
    sessions.delete(session.id); // no request finds it from now on: it gets 404, as after a DELETE
    timeline.warn(`session ${session.id} expired: no request and no call for ${limits.idleMs} ms. Closing it`);
    prove({ type: 'session', session: session.id, state: 'expired' });
    await session.transport.close(); // as a DELETE does: its streams end, its handlers are aborted
  }
  const app = express();

  // Hardening no lesson teaches (http-guards.ts): a foreign Host or Origin gets 403 (DNS rebinding).
  app.use(...onlyLocalPages());
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
    touch(session);
    return session;
  };

  app.post(MCP_PATH, async (req, res) => {
    const message = oneMessageOrAnswer(req, res); // 415, 400 with what is wrong (http-guards.ts)
    if (!message) return;
    if (!req.header('mcp-session-id') && isInitializeRequest(message)) {
      if (sessions.size >= limits.sessions) {
        res.set('Retry-After', '5');
        return jsonRpcError(
          res,
          503,
          -32000,
          `Service Unavailable: this server already holds ${limits.sessions} sessions, its most. ` +
            'Retry in a few seconds; a client done with its session should end it (DELETE).',
        );
      }
      await startSession(req, res);
      return;
    }
    const session = sessionFor(req, res);
    if (!session) return;

    if (!fitsSessionOrAnswer(session, message, res)) return; // 409 for an id in use, -32602 (http-guards.ts)
    if (isJSONRPCRequest(message) && message.method !== 'ping' && handlersOf(session).size >= limits.callsPerSession) {
      res.set('Retry-After', '1');
      res.status(429).json({
        jsonrpc: '2.0',
        id: message.id,
        error: {
          code: -32000,
          message:
            `Too Many Requests: this session already runs ${limits.callsPerSession} calls, its most. ` +
            'Retry once one has finished, or cancel one.',
        },
      });
      return;
    }
    options.onClientMessage?.(session, message);
    if (isJSONRPCRequest(message)) {
      const record: ResponseStreamRecord = { openedAt: performance.now(), response: res };
      session.responseStreams.set(message.id, record);
      res.on('close', () => {
        touch(session); // idle time counts from the end of its last call
        record.closedAt = performance.now();
        delete record.response;
        const job = session.jobs.get(message.id);
        if (job) session.jobs.prove(job);
        options.onResponseStreamClosed?.(session, message.id);
      });
    }
    await session.transport.handleRequest(req, res, message);
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
        touch(session);
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

  app.use(answerHttpErrors(timeline)); // bad JSON, a body too large, ...: a JSON-RPC error (http-guards.ts)

  const httpServer = createHttpServer(app);
  const port = await listenOn(httpServer, options.port, host);

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
      clearInterval(sweeper);
      // Closing a transport aborts every handler still running on it (their extra.signal fires).
      await Promise.all([...sessions.values()].map((s) => s.transport.close()));
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
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
