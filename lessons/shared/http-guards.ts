// Hardening of the lessons' HTTP endpoint that no lesson teaches: what a server should answer to
// input that is not a well-formed MCP message, to a request id still in use, and to a page on a
// foreign site. mcp-http.ts calls each in one line; scripts/reliability tests them (bad-input,
// security, fuzz). Each answer is a JSON-RPC error with a message a person can act on, and the
// server keeps serving.
import { STATUS_CODES } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { localhostHostValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import {
  ClientRequestSchema,
  isJSONRPCRequest,
  JSONRPCMessageSchema,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { McpSession } from './mcp-http.ts';
import { handledMethods, runningHandlers } from './sdk-internals.ts';
import { preview, type Timeline } from './timeline.ts';

export function jsonRpcError(res: Response, status: number, code: number, message: string) {
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

/** Requests whose Host header is not loopback, or that come from a page on another site (DNS rebinding protection): 403, before anything is parsed. */
export function onlyLocalPages(): RequestHandler[] {
  return [
    localhostHostValidation(),
    (req, res, next) => {
      const origin = req.header('origin');
      if (originIsAllowed(origin)) return next();
      jsonRpcError(
        res,
        403,
        -32000,
        `Forbidden: Origin ${origin} is not allowed; this server only serves pages on localhost`,
      );
    },
  ];
}

/** The POSTed body as one JSON-RPC message; or, when it is not one, answers 415 or 400 saying why and returns undefined. */
export function oneMessageOrAnswer(req: Request, res: Response): JSONRPCMessage | undefined {
  if (!/^application\/json\s*(;|$)/i.test(req.header('content-type') ?? '')) {
    jsonRpcError(res, 415, -32000, 'Unsupported Media Type: send the message with Content-Type: application/json');
    return undefined;
  }
  const body: unknown = req.body;
  const invalid = whyNotOneMessage(body);
  if (invalid) {
    jsonRpcError(res, 400, -32600, `Invalid Request: ${invalid}`);
    return undefined;
  }
  return body as JSONRPCMessage;
}

/**
 * False, having answered, when a request cannot go to this session: its id is still in use (409),
 * or its params do not fit its method (-32602). True for every other message.
 */
export function fitsSessionOrAnswer(session: McpSession, message: JSONRPCMessage, res: Response): boolean {
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
      return false;
    }
    const badParams = whyParamsDoNotFit(session.server, message);
    if (badParams) {
      res.json({
        jsonrpc: '2.0',
        id,
        error: { code: -32602, message: `Invalid params for ${method}: ${badParams}` },
      });
      return false;
    }
  }
  return true;
}

/** Malformed JSON, an oversized body, or any other error express raises: answered in JSON-RPC, with a message a person can act on. */
export function answerHttpErrors(timeline: Timeline) {
  return (
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
  };
}

/** True while request `id` of this session runs, or its response stream is still open. */
function idInUse(session: McpSession, id: RequestId): boolean {
  const stream = session.responseStreams.get(id);
  return runningHandlers(session.server).has(id) || (stream !== undefined && stream.closedAt === undefined);
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
