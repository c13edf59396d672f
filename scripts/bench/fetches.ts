// The `fetch` functions the cancel approaches of bench part 7 (cancels.ts) hand to the SDK client
// transports (their `fetch` option, in SDK 1.x and 2.x alike). Node's own fetch opens a new
// connection for each request sent while every other one is busy, so 1,000 cancels sent at once
// open 1,000 connections. These send the same requests another way:
//
// - `notificationsOverPool`: notifications (messages without an id: the cancels among them) go over
//   a node:http Agent with `keepAlive` and `maxSockets`, so they queue on a few kept-alive
//   connections; requests (the calls, whose responses are long SSE streams) keep Node's fetch.
//   The undici package does the same with `fetch(url, { ...init, dispatcher: new Agent({ connections: N }) })`;
//   it is not a dependency here, and Node 20 does not expose the undici it bundles.
// - `overNodeHttp`: every request on node:http, for 2026-07-28, whose cancel is the abort of the
//   call's own request: Node's fetch then opens a connection that carries nothing (see below).
// - `overHttp2`: every request as a stream of one HTTP/2 connection (h2c: cleartext, prior
//   knowledge), on node:http2. Node's fetch speaks HTTP/2 only over TLS (undici's `allowH2`).
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as http2Connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import { Readable } from 'node:stream';

export interface OwnFetch {
  fetch: typeof fetch;
  /** Closes the connections it keeps. */
  close(): void;
}

const headersOf = (init: RequestInit | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => (out[key] = value));
  return out;
};

const responseHeaders = (headers: IncomingHttpHeaders) => {
  const out = new Headers();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(':') || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [String(value)]) out.append(key, one);
  }
  return out;
};

const urlOf = (input: Parameters<typeof fetch>[0]) =>
  new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);

/** True for a JSON-RPC notification (no `id`): the SDK sends `notifications/cancelled` as one. */
const isNotification = (init: RequestInit | undefined) => {
  if (init?.method !== 'POST' || typeof init.body !== 'string') return false;
  try {
    const message = JSON.parse(init.body) as { id?: unknown; method?: unknown };
    return typeof message.method === 'string' && !('id' in message);
  } catch {
    return false;
  }
};

/**
 * A fetch on node:http through `agent`. With `whole`, the response is read to its end before the
 * fetch resolves (a notification's empty 202: its connection goes back to the pool at once);
 * without, its body streams. Aborting the signal destroys that request's socket and nothing else.
 */
function nodeHttpFetch(agent: Agent, { whole }: { whole: boolean }) {
  return (input: Parameters<typeof fetch>[0], init: RequestInit | undefined) =>
    new Promise<Response>((resolve, reject) => {
      const method = init?.method ?? 'GET';
      const req = httpRequest(
        urlOf(input),
        { method, headers: headersOf(init), agent, signal: init?.signal ?? undefined },
        (res) => {
          const status = res.statusCode ?? 500;
          const headers = responseHeaders(res.headers);
          if (!whole) {
            const empty = status === 204 || status === 304 || method === 'HEAD';
            if (empty) res.resume();
            return resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream), { status, headers }));
          }
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => resolve(new Response(chunks.length ? Buffer.concat(chunks) : null, { status, headers })));
        },
      );
      req.on('error', reject);
      req.end(typeof init?.body === 'string' ? init.body : undefined);
    });
}

/**
 * Notifications over at most `connections` kept-alive connections, each POST's whole (empty, 202)
 * response read before it resolves so its connection goes back to the pool at once; every other
 * request through Node's fetch.
 */
export function notificationsOverPool(connections: number): OwnFetch {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const pooled = nodeHttpFetch(agent, { whole: true });
  return {
    fetch: ((input, init) => (isNotification(init) ? pooled(input, init) : fetch(input, init))) as typeof fetch,
    close: () => agent.destroy(),
  };
}

/**
 * Every request on node:http (kept-alive connections, as many as requests in flight), bodies
 * streamed. For 2026-07-28, where the cancel is aborting the call's own request: Node 20's fetch
 * (undici 6.24) destroys that socket and then opens a new connection to the same origin that
 * carries nothing (nodejs/undici#5845), so 1,000 cancels would open 1,000 idle connections.
 * Here the abort destroys the socket and that is all.
 */
export function overNodeHttp(): OwnFetch {
  const agent = new Agent({ keepAlive: true });
  return { fetch: nodeHttpFetch(agent, { whole: false }) as typeof fetch, close: () => agent.destroy() };
}

/**
 * Every request as a stream on one HTTP/2 connection to its origin (cleartext h2c). A response
 * body streams (the calls' SSE); aborting the request's signal resets its stream, not the connection.
 */
export function overHttp2(): OwnFetch {
  let session: ClientHttp2Session | undefined;
  const sessionFor = (origin: string) => {
    if (!session || session.closed || session.destroyed) {
      session = http2Connect(origin);
      session.on('error', () => {}); // a request on it rejects with the error
    }
    return session;
  };
  const h2fetch = (input: Parameters<typeof fetch>[0], init: RequestInit | undefined) =>
    new Promise<Response>((resolve, reject) => {
      const target = urlOf(input);
      const signal = init?.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason as Error);
      const stream = sessionFor(target.origin).request({
        ...headersOf(init),
        [h2.HTTP2_HEADER_METHOD]: init?.method ?? 'GET',
        [h2.HTTP2_HEADER_PATH]: `${target.pathname}${target.search}`,
      });
      const onAbort = () => stream.close(h2.NGHTTP2_CANCEL);
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal?.removeEventListener('abort', onAbort));
      stream.once('error', reject);
      stream.once('response', (headers) => {
        const status = Number(headers[h2.HTTP2_HEADER_STATUS]);
        const empty = status === 204 || status === 304 || init?.method === 'HEAD';
        const body = empty ? null : (Readable.toWeb(stream) as ReadableStream<Uint8Array>);
        if (empty) stream.resume();
        resolve(new Response(body, { status, headers: responseHeaders(headers) }));
      });
      stream.end(typeof init?.body === 'string' ? init.body : undefined);
    });
  return {
    fetch: h2fetch as typeof fetch,
    close: () => session?.close(),
  };
}
