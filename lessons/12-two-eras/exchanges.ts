// What the server really put on the wire for each HTTP exchange, for the lesson's proof that a
// cancelled request is answered with nothing.
//
// In protocol 2026-07-28 every request has its own HTTP exchange: the POST and its response. This
// records, per exchange, the bytes written on the Node response and how it ended: finished by the
// server, or closed by the client first (which, in this era, is the cancel). The tool handler
// reaches its own exchange through AsyncLocalStorage, since SDK 2.x hands it only a web Request.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestId } from '@modelcontextprotocol/server';
import { prove } from '../shared/proof.ts';

export interface Exchange {
  /** The JSON-RPC method the POST carried (GET and DELETE have none). */
  method?: string;
  requestId?: RequestId;
  /** Everything the server wrote as the response body, as text. */
  body: string;
  ended?: 'finished by the server' | 'closed by the client';
  /** Called once when the response ends, either way. */
  onEnd: Set<(exchange: Exchange) => void>;
}

const current = new AsyncLocalStorage<Exchange>();
const open = new Set<ServerResponse>();

/** The exchange the calling code runs in: the tool call's own HTTP request and response. */
export const currentExchange = () => current.getStore();

/** Records one exchange and runs `serve` inside it. */
export function recordExchange(req: IncomingMessage & { body?: unknown }, res: ServerResponse, serve: () => void) {
  const message = req.body as { method?: unknown; id?: unknown } | undefined;
  const exchange: Exchange = {
    method: typeof message?.method === 'string' ? message.method : undefined,
    requestId: typeof message?.id === 'string' || typeof message?.id === 'number' ? message.id : undefined,
    body: '',
    onEnd: new Set(),
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  const keep = (chunk: unknown) => {
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) exchange.body += Buffer.from(chunk).toString();
  };
  res.write = ((chunk: unknown, ...rest: unknown[]) => (keep(chunk), write(chunk, ...rest))) as typeof res.write;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') keep(chunk);
    return end(chunk, ...rest);
  }) as typeof res.end;
  const ended = (how: NonNullable<Exchange['ended']>) => {
    if (exchange.ended) return;
    exchange.ended = how;
    const { method, requestId } = exchange;
    const version = req.headers['mcp-protocol-version'];
    prove({ type: 'exchange', http: req.method, method, requestId, version, status: res.statusCode, ended: how });
    for (const listener of exchange.onEnd) listener(exchange);
  };
  res.once('finish', () => ended('finished by the server'));
  res.once('close', () => ended('closed by the client')); // after 'finish' this changes nothing
  open.add(res);
  res.once('close', () => open.delete(res));
  current.run(exchange, serve);
}

/**
 * What the server sent as the final message for `requestId` on this exchange, read from the bytes
 * it wrote (a JSON body or the `data:` lines of an SSE stream): `result`, `error <code>`, or
 * `nothing`.
 */
export function replyWritten(exchange: Exchange, requestId: RequestId): string {
  const texts = exchange.body.trimStart().startsWith('{')
    ? [exchange.body]
    : exchange.body
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5));
  for (const text of texts) {
    try {
      const message = JSON.parse(text) as { id?: unknown; result?: unknown; error?: { code?: number } };
      if (message.id !== requestId) continue;
      if (message.error) return `error ${message.error.code}`;
      if (message.result) return 'result';
    } catch {
      // not a whole JSON message: not a reply
    }
  }
  return 'nothing';
}

/** Closes every response still open, for shutdown: to the SDK each one is a dropped connection. */
export function closeOpenExchanges() {
  prove({ type: 'exchanges-closed', open: open.size });
  for (const res of open) res.destroy();
}
