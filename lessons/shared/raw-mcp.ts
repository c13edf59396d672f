// MCP over plain fetch, with no SDK in between: for tests that must see the wire itself
// (an SSE stream that stays open, keep-alive comments, HTTP status codes).
import { createParser } from 'eventsource-parser';
import { LATEST_PROTOCOL_VERSION, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Every POST must accept both: the server chooses JSON or an SSE stream per response. */
const POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export interface SseReading {
  /** JSON-RPC messages received so far, in order. */
  messages: JSONRPCMessage[];
  /** SSE comments received so far (the SDK's keep-alives are `: keepalive`). */
  comments: string[];
  /** True once the response ended: the server ended it, or the connection was cut (then `cutOff` says why). */
  ended: boolean;
  cutOff?: string;
  /** Resolves when the response ends, however it ends. */
  done: Promise<void>;
}

export interface RawSession {
  /** '' for a stateless server (opened with `{ stateless: true }`): then no Mcp-Session-Id is sent. */
  sessionId: string;
  protocolVersion: string;
  /** POSTs any body (a message, a batch, anything) with this session's headers. */
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** POSTs a request and reads its SSE response as it arrives. */
  stream(message: JSONRPCMessage): Promise<SseReading>;
  /** Ends the session (HTTP DELETE). */
  close(): Promise<Response>;
}

/** Reads an SSE response body in the background, collecting messages and comments. */
function readSse(response: Response): SseReading {
  const reading: SseReading = { messages: [], comments: [], ended: false, done: Promise.resolve() };
  const parser = createParser({
    onEvent: (event) => reading.messages.push(JSON.parse(event.data) as JSONRPCMessage),
    onComment: (comment) => reading.comments.push(comment.trim()),
  });
  reading.done = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body ?? []) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch (error) {
      // A server that dies mid-stream cuts it ("terminated"): recorded, not thrown at whoever awaits `done`.
      reading.cutOff = (error as Error).message;
    } finally {
      reading.ended = true;
    }
  })();
  return reading;
}

/** initialize + notifications/initialized over plain HTTP. */
export async function openRawSession(url: string, { stateless = false } = {}): Promise<RawSession> {
  const init = await fetch(url, {
    method: 'POST',
    headers: POST_HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    }),
  });
  const sessionId = init.headers.get('mcp-session-id') ?? (stateless ? '' : null);
  if (!init.ok || sessionId === null) throw new Error(`initialize failed: HTTP ${init.status} ${await init.text()}`);
  const initReading = readSse(init);
  await initReading.done;
  const result = initReading.messages[0] as { result?: { protocolVersion: string } } | undefined;
  const protocolVersion = result?.result?.protocolVersion ?? LATEST_PROTOCOL_VERSION;

  const headers = () => ({
    ...POST_HEADERS,
    ...(sessionId && { 'mcp-session-id': sessionId }),
    'mcp-protocol-version': protocolVersion,
  });
  const post = (body: unknown, extra: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { ...headers(), ...extra },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const session: RawSession = {
    sessionId,
    protocolVersion,
    post,
    stream: async (message) => readSse(await post(message)),
    close: () => fetch(url, { method: 'DELETE', headers: headers() }),
  };
  const initialized = await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  if (initialized.status !== 202) throw new Error(`notifications/initialized: HTTP ${initialized.status}`);
  return session;
}
