// The checker's side of the wire: Streamable HTTP over plain fetch, no SDK in between, so it sees
// what any server really sends (each message and when, the status of each POST, whether a
// response stream ends) and can send what an SDK never would ("1" for 1, a cancel with no id).
import { createParser } from 'eventsource-parser';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export const LEGACY = '2025-11-25';
export const MODERN = '2026-07-28';

/** Where the server is, and the headers it needs on every request (e.g. Authorization). */
export interface Target {
  url: string;
  headers: Record<string, string>;
}

/** What came back for one POST, as it arrives: messages with the time each came, and the end. */
export interface Reading {
  /** HTTP status, once the headers came (0 until then, or when the request failed). */
  status: number;
  contentType: string;
  headers?: Headers;
  arrivals: { at: number; message: JSONRPCMessage }[];
  /** Set when the response ended: the server ended it, the connection was cut, or we closed it. */
  endedAt?: number;
  /** Why it ended, if not by the server ending it: "closed by the checker", or a network error. */
  cutOff?: string;
  /** Resolves when the response has ended, however it ended. */
  done: Promise<void>;
  /** Closes the response stream from this side (in 2026-07-28, that is the cancel). */
  close(): void;
}

export const now = () => performance.now();

/** The client's own view of what a message is. */
export const isProgress = (m: JSONRPCMessage) => 'method' in m && m.method === 'notifications/progress';
export const isResponseTo = (id: unknown) => (m: JSONRPCMessage) =>
  'id' in m && m.id === id && ('result' in m || 'error' in m);

/** How long a request that should be answered at once (ping, a cancel, tools/list) may take. */
export const ANSWER_WITHIN_MS = 10_000;

/**
 * POSTs `body` and reads what comes back in the background: JSON or an SSE stream. A request that
 * is not `long` is given ANSWER_WITHIN_MS to end, then closed, so no server can make the checker hang.
 */
export function post(target: Target, body: unknown, headers: Record<string, string> = {}, long = false): Reading {
  const controller = new AbortController();
  const timer = long
    ? undefined
    : setTimeout(() => {
        reading.cutOff ??= `no answer in ${ANSWER_WITHIN_MS} ms`;
        controller.abort();
      }, ANSWER_WITHIN_MS);
  const reading: Reading = {
    status: 0,
    contentType: '',
    arrivals: [],
    done: Promise.resolve(),
    close: () => {
      reading.cutOff ??= 'closed by the checker';
      controller.abort();
    },
  };
  const arrived = (message: JSONRPCMessage) => reading.arrivals.push({ at: now(), message });
  reading.done = (async () => {
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...target.headers,
          ...headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        signal: controller.signal,
      });
      reading.status = response.status;
      reading.contentType = response.headers.get('content-type') ?? '';
      reading.headers = response.headers;
      if (reading.contentType.includes('text/event-stream')) {
        const parser = createParser({ onEvent: (event) => event.data && arrived(JSON.parse(event.data)) });
        const decoder = new TextDecoder();
        for await (const chunk of response.body ?? []) parser.feed(decoder.decode(chunk, { stream: true }));
      } else {
        const text = await response.text();
        if (reading.contentType.includes('json') && text) {
          const parsed = JSON.parse(text) as JSONRPCMessage | JSONRPCMessage[];
          for (const message of [parsed].flat()) arrived(message);
        }
      }
    } catch (error) {
      reading.cutOff ??= (error as Error).message;
    } finally {
      clearTimeout(timer);
      reading.endedAt = now();
    }
  })();
  return reading;
}

/** The response to a request, when it comes (or undefined once the response ended without one). */
export async function answer(reading: Reading, id: unknown): Promise<JSONRPCMessage | undefined> {
  await reading.done;
  return responseOf(reading, id)?.message;
}

/** A 2025-11-25 session: initialize, then every request with its Mcp-Session-Id. */
export interface Session {
  /** False when the server gave no Mcp-Session-Id: it serves statelessly. */
  hasSession: boolean;
  /** POSTs with this session's headers; `long` for a call that runs until it is cancelled. */
  post(body: unknown, long?: boolean): Reading;
  close(): Promise<void>;
}

export class NotOffered extends Error {}

/** Opens a session, or throws NotOffered when the server does not take a 2025-11-25 initialize. */
export async function openSession(
  target: Target,
  { initializeId = 'check-server-initialize', beforeInitialized }: OpenOptions = {},
): Promise<Session> {
  const init = post(target, {
    jsonrpc: '2.0',
    id: initializeId,
    method: 'initialize',
    params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'check-server', version: '1.0.0' } },
  });
  const reply = (await answer(init, initializeId)) as { result?: { protocolVersion: string } } | undefined;
  if (!reply?.result) {
    throw new NotOffered(
      `initialize got HTTP ${init.status}${reply ? `: ${JSON.stringify(reply).slice(0, 200)}` : ''}${init.cutOff ? ` (${init.cutOff})` : ''}`,
    );
  }
  const id = init.headers?.get('mcp-session-id') ?? undefined;
  const version = reply.result.protocolVersion;
  const headers = () => ({ ...(id ? { 'mcp-session-id': id } : {}), 'mcp-protocol-version': version });
  const session: Session = {
    hasSession: id !== undefined,
    post: (body, long) => post(target, body, headers(), long),
    close: async () => {
      if (!id) return;
      const signal = AbortSignal.timeout(ANSWER_WITHIN_MS);
      await fetch(target.url, { method: 'DELETE', headers: { ...target.headers, ...headers() }, signal }).catch(
        () => {},
      );
    },
  };
  await beforeInitialized?.(session);
  await session.post({ jsonrpc: '2.0', method: 'notifications/initialized' }).done;
  return session;
}

interface OpenOptions {
  initializeId?: string;
  /** Runs after initialize is answered and before notifications/initialized is sent. */
  beforeInitialized?: (session: Session) => Promise<void>;
}

/** 2026-07-28: no session; every request says its version, method and client in headers and `_meta`. */
export function modernPost(
  target: Target,
  message: { id: unknown; method: string; params?: Record<string, unknown> },
  long = false,
) {
  const params = message.params ?? {};
  const meta = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientInfo': { name: 'check-server', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
    ...(params._meta as object | undefined),
  };
  const name: Record<string, string> = typeof params.name === 'string' ? { 'mcp-name': params.name } : {};
  return post(
    target,
    { jsonrpc: '2.0', ...message, params: { ...params, _meta: meta } },
    { 'mcp-protocol-version': MODERN, 'mcp-method': message.method, ...name },
    long,
  );
}

/** Waits until `done()` holds or `ms` have passed, whichever is first. */
export async function until(ms: number, done: () => boolean): Promise<void> {
  const end = now() + ms;
  while (!done() && now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
}
export const ended = (r: Reading) => r.endedAt !== undefined;
export const progressOf = (r: Reading) => r.arrivals.filter((a) => isProgress(a.message));
export const responseOf = (r: Reading, id: unknown) => r.arrivals.find((a) => isResponseTo(id)(a.message));
export const settled = async (reading: Reading) => (await reading.done, reading);
