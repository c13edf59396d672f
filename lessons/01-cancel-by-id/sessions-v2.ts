// The wiring of server-v2.ts, as ../shared/mcp-http.ts is server.ts's: SDK 2.x's
// NodeStreamableHTTPServerTransport, one transport + McpServer per session (a session id generator),
// a record of each request's response stream (open or closed) for the job book, each posted message
// shown to `noteCancel` first, lesson 09's shutdown, and `get_job_status` for a 2.x McpServer.
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { Request, Response } from 'express';
import { createMcpExpressApp } from '@modelcontextprotocol/express';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest, isJSONRPCRequest, type McpServer, type RequestId } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { logStreamEnded, noteCancel } from './cancellation.ts';
import { shutDownGracefully } from '../09-disconnects-and-shutdown/shutdown.ts';
import { JobBook, jobReportSchema } from '../shared/jobs.ts';
import { exitCannotServe, listenOn } from '../shared/listen.ts';
import type { ResponseStreamRecord } from '../shared/mcp-http.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';

interface SessionV2 {
  transport: NodeStreamableHTTPServerTransport;
  jobs: JobBook;
  responseStreams: Map<RequestId, ResponseStreamRecord>;
}

export interface ServeSessionsV2 {
  port: number;
  keepAliveMs: number;
  log: Timeline;
  createServer: (transport: NodeStreamableHTTPServerTransport, jobs: JobBook) => McpServer;
}

const jsonRpcError = (res: Response, status: number, message: string) =>
  void res.status(status).json({ jsonrpc: '2.0', id: null, error: { code: -32000, message } });

export async function serveSessionsV2({ port, keepAliveMs, log, createServer }: ServeSessionsV2) {
  const sessions = new Map<string, SessionV2>();
  const app = createMcpExpressApp(); // express.json() and Host checks for a loopback bind

  app.post('/mcp', async (req: Request, res: Response) => {
    const sessionId = req.header('mcp-session-id');
    if (!sessionId && isInitializeRequest(req.body)) return startSession(req, res);
    const session = sessionId ? sessions.get(sessionId) : undefined;
    if (!session) return jsonRpcError(res, sessionId ? 404 : 400, `Session not found: ${sessionId ?? '(no header)'}`);
    noteCancel(session.jobs, req.body, log);
    if (isJSONRPCRequest(req.body)) {
      const id = req.body.id;
      const record: ResponseStreamRecord = { openedAt: performance.now() };
      session.responseStreams.set(id, record);
      res.on('close', () => {
        record.closedAt = performance.now();
        const job = session.jobs.get(id);
        if (job) session.jobs.prove(job);
        logStreamEnded(log)(session, id);
      });
    }
    await session.transport.handleRequest(req, res, req.body);
  });
  app.all('/mcp', async (req: Request, res: Response) => {
    const session = sessions.get(req.header('mcp-session-id') ?? '');
    if (!session) return jsonRpcError(res, 404, 'Session not found');
    await session.transport.handleRequest(req, res); // GET: the standalone stream; DELETE: end the session
  });

  async function startSession(req: Request, res: Response) {
    const responseStreams = new Map<RequestId, ResponseStreamRecord>();
    const jobs = new JobBook(
      () => responseStreams,
      () => transport.sessionId,
    );
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      keepAliveMs,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, jobs, responseStreams });
        log.detail(`session ${id} started`);
        prove({ type: 'session', session: id, state: 'started' });
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (!id || !sessions.delete(id)) return;
      log.detail(`session ${id} ended`);
      prove({ type: 'session', session: id, state: 'ended' });
    };
    await createServer(transport, jobs).connect(transport);
    await transport.handleRequest(req, res, req.body);
  }

  const http = createHttpServer(app);
  const actual = await listenOn(http, port, '127.0.0.1').catch((error: Error) => exitCannotServe(log, error));
  const busy = () =>
    [...sessions.values()]
      .flatMap((s) => s.jobs.ids().map((id) => s.jobs.get(id)!))
      .filter((job) => job.fileHandle === 'open').length;
  const closeAll = () => Promise.all([...sessions.values()].map((s) => s.transport.close()));
  shutDownGracefully({
    log,
    // Closing a transport aborts every handler still running on it (their ctx.mcpReq.signal fires).
    stopAll: () => (void closeAll(), busy()),
    stillBusy: busy,
    close: async () => {
      await closeAll();
      http.closeAllConnections();
      http.close();
    },
  });
  return { url: `http://127.0.0.1:${actual}/mcp`, sessions };
}

/** `get_job_status` (../shared/jobs.ts) for a 2.x McpServer: a job of this session, by request id. */
export function registerJobStatusV2(server: McpServer, jobs: JobBook) {
  server.registerTool(
    'get_job_status',
    {
      title: 'Job status',
      description: 'Reports a tools/call of this session by its JSON-RPC request id (3 and "3" are different ids).',
      inputSchema: z.object({ requestId: z.union([z.number().int(), z.string()]) }),
      outputSchema: z.object(jobReportSchema),
    },
    async ({ requestId }) => {
      const job = jobs.get(requestId);
      if (!job) throw new Error(`No job with request id ${JSON.stringify(requestId)} in this session.`);
      const report = jobs.report(job);
      return { content: [{ type: 'text', text: JSON.stringify(report, null, 2) }], structuredContent: report };
    },
  );
}
