// The catalogue of bad input: what a careless or hostile client sends a lesson server over plain
// HTTP, and the answer each must get. `bad-input.test.ts` sends every entry and checks the answer,
// that the server still serves, and that a call running in another session was not touched.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { startLessonServer } from '../../lessons/shared/processes.ts';
import type { RawSession } from '../../lessons/shared/raw-mcp.ts';
import { waitFor } from '../../lessons/shared/wait.ts';

type LessonServer = Awaited<ReturnType<typeof startLessonServer>>;

/** The sessions an entry can use: `a` takes the bad input; `b` has a call running (id `bRunning`). */
export interface Target {
  url: string;
  a: RawSession;
  b: RawSession;
  bRunning: number;
}

/**
 * An answer, reduced to what a person reads: the HTTP status; the JSON-RPC error code, or `result`,
 * `tool error` (a result with isError), or `accepted` (202, no body); and its message.
 */
export interface Answer {
  status: number;
  kind: number | 'result' | 'tool error' | 'accepted';
  message: string;
}

export interface BadInput {
  name: string;
  /** Sends the input; resolves with the server's answer. */
  send(target: Target): Promise<Answer>;
  expect: Omit<Answer, 'message'> & { says: RegExp };
  /** For an accepted notification: the server's log line saying what it did with it. */
  logs?: RegExp;
  /** True for inputs that concern the HTTP layer every lesson shares (sent to every lesson server). */
  shared?: boolean;
}

const ACCEPT = 'application/json, text/event-stream';
export const ping = (id: unknown) => ({ jsonrpc: '2.0', id, method: 'ping' });
const call = (args: unknown, id = 7) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'process_large_file', arguments: args },
});
const cancel = (params?: unknown) => ({
  jsonrpc: '2.0',
  method: 'notifications/cancelled',
  ...(params === undefined ? {} : { params }),
});
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** Reads any answer: a JSON body, the first message of an SSE stream, or nothing (202). */
export async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  if (response.status === 202 && text === '') return { status: 202, kind: 'accepted', message: '' };
  const type = response.headers.get('content-type') ?? '';
  const json = type.includes('text/event-stream') ? /^data: (.*)$/m.exec(text)?.[1] : text;
  let body: {
    error?: { code: number; message: string };
    result?: { isError?: boolean; content?: { text?: string }[] };
  };
  try {
    body = JSON.parse(json ?? '') as typeof body;
  } catch {
    return { status: response.status, kind: 'result', message: `(not JSON: ${text.slice(0, 60)})` };
  }
  if (body.error) return { status: response.status, kind: body.error.code, message: body.error.message };
  const first = body.result?.content?.[0]?.text ?? '';
  return { status: response.status, kind: body.result?.isError ? 'tool error' : 'result', message: first };
}

/** A POST with headers of our choosing, none added (fetch would add a Content-Type for a string body). */
function postRaw(url: string, headers: Record<string, string>, body: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers, body: new Blob([body]) });
}

/** An HTTP request with a Host header of our choosing (fetch always sends the real one). */
export function requestWithHost(url: string, host: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { host, 'content-type': 'application/json', accept: ACCEPT } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          const error = (JSON.parse(text) as { error: { code: number; message: string } }).error;
          resolve({ status: res.statusCode!, kind: error.code, message: error.message });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const to =
  (session: 'a' | 'b', body: unknown, headers: Record<string, string> = {}) =>
  async (target: Target) =>
    answerOf(await target[session].post(body, headers));

export const catalogue: BadInput[] = [
  // The body itself.
  {
    name: 'malformed JSON',
    send: to('a', '{"jsonrpc": "2.0", "id": 1, '),
    expect: { status: 400, kind: -32700, says: /^Parse error: the body is not valid JSON/ },
    shared: true,
  },
  {
    name: 'a JSON number, not an object',
    send: to('a', '42'),
    expect: { status: 400, kind: -32700, says: /^Parse error: the body is not valid JSON/ },
    shared: true,
  },
  {
    name: 'an empty body',
    send: to('a', ''),
    expect: { status: 400, kind: -32600, says: /the body is empty/ },
    shared: true,
  },
  {
    name: 'JSON that is not JSON-RPC',
    send: to('a', { hello: 'world' }),
    expect: { status: 400, kind: -32600, says: /"jsonrpc" must be "2.0"/ },
    shared: true,
  },
  {
    name: 'jsonrpc "1.0"',
    send: to('a', { jsonrpc: '1.0', id: 1, method: 'ping' }),
    expect: { status: 400, kind: -32600, says: /"jsonrpc" must be "2.0"/ },
    shared: true,
  },
  {
    name: 'a method that is a number',
    send: to('a', { jsonrpc: '2.0', id: 1, method: 5 }),
    expect: { status: 400, kind: -32600, says: /"method" must be a string/ },
    shared: true,
  },
  {
    name: 'neither method nor result',
    send: to('a', { jsonrpc: '2.0', id: 1 }),
    expect: { status: 400, kind: -32600, says: /needs a "method"/ },
    shared: true,
  },
  {
    name: 'a batch of two pings',
    send: to('a', [ping(11), ping(12)]),
    expect: { status: 400, kind: -32600, says: /JSON-RPC batch.*send one message per POST/ },
    shared: true,
  },
  {
    name: 'an empty batch',
    send: to('a', []),
    expect: { status: 400, kind: -32600, says: /JSON-RPC batch/ },
    shared: true,
  },
  {
    name: 'a body over 1 MB',
    send: to('a', { ...ping(1), params: { pad: 'x'.repeat(2_000_000) } }),
    expect: { status: 413, kind: -32600, says: /larger than the 1 MB/ },
    shared: true,
  },
  {
    name: 'nesting 100,000 deep in params',
    send: to('a', `{"jsonrpc":"2.0","id":21,"method":"ping","params":{"x":${nested(100_000)}}}`),
    expect: { status: 200, kind: 'result', says: /^$/ },
    shared: true,
  },

  // Headers.
  {
    name: 'Content-Type text/plain',
    send: to('a', ping(1), { 'content-type': 'text/plain' }),
    expect: { status: 415, kind: -32000, says: /Content-Type: application\/json/ },
    shared: true,
  },
  {
    name: 'no Content-Type',
    send: async ({ url, a }) =>
      answerOf(await postRaw(url, { accept: ACCEPT, 'mcp-session-id': a.sessionId }, JSON.stringify(ping(1)))),
    expect: { status: 415, kind: -32000, says: /Content-Type: application\/json/ },
    shared: true,
  },
  {
    name: 'charset latin1',
    send: to('a', ping(1), { 'content-type': 'application/json; charset=latin1' }),
    expect: { status: 415, kind: -32000, says: /Unsupported Media Type: unsupported charset "LATIN1"/ },
    shared: true,
  },
  {
    name: 'Content-Encoding gzip on a plain body',
    send: to('a', ping(1), { 'content-encoding': 'gzip' }),
    expect: { status: 400, kind: -32000, says: /the body is not the data its Content-Encoding names/ },
    shared: true,
  },
  {
    name: 'Accept without text/event-stream',
    send: to('a', ping(1), { accept: 'application/json' }),
    expect: { status: 406, kind: -32000, says: /must accept both application\/json and text\/event-stream/ },
    shared: true,
  },
  {
    name: 'no Accept',
    send: async ({ url, a }) =>
      answerOf(
        await postRaw(
          url,
          { 'content-type': 'application/json', 'mcp-session-id': a.sessionId },
          JSON.stringify(ping(1)),
        ),
      ),
    expect: { status: 406, kind: -32000, says: /must accept both/ },
    shared: true,
  },
  {
    name: 'no Mcp-Session-Id',
    send: async ({ url }) =>
      answerOf(await postRaw(url, { 'content-type': 'application/json', accept: ACCEPT }, JSON.stringify(ping(1)))),
    expect: { status: 400, kind: -32000, says: /no Mcp-Session-Id header\. Send initialize first/ },
    shared: true,
  },
  {
    name: 'an unknown Mcp-Session-Id',
    send: to('a', ping(1), { 'mcp-session-id': 'no-such-session' }),
    expect: { status: 404, kind: -32001, says: /Session not found: no-such-session/ },
    shared: true,
  },
  {
    name: 'an unsupported MCP-Protocol-Version',
    send: to('a', ping(1), { 'mcp-protocol-version': '1999-01-01' }),
    expect: { status: 400, kind: -32000, says: /Unsupported protocol version: 1999-01-01/ },
    shared: true,
  },
  {
    name: 'initialize on a live session',
    send: to('a', {
      jsonrpc: '2.0',
      id: 31,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'again', version: '1' } },
    }),
    expect: { status: 400, kind: -32600, says: /Server already initialized/ },
    shared: true,
  },
  {
    name: 'PUT /mcp',
    send: async ({ url }) => answerOf(await fetch(url, { method: 'PUT', body: '{}' })),
    expect: { status: 405, kind: -32000, says: /Method Not Allowed: PUT/ },
    shared: true,
  },
  {
    name: 'a path other than /mcp',
    send: async ({ url }) => answerOf(await fetch(new URL('/admin', url), { method: 'POST' })),
    expect: { status: 404, kind: -32000, says: /Not Found: POST \/admin; MCP is served at \/mcp/ },
    shared: true,
  },

  // Request ids.
  {
    name: 'id null',
    send: to('a', ping(null)),
    expect: { status: 400, kind: -32600, says: /"id" must be a string or an integer \(within ±2\^53\), not null/ },
    shared: true,
  },
  {
    name: 'id an object',
    send: to('a', ping({ a: 1 })),
    expect: { status: 400, kind: -32600, says: /"id" must be a string or an integer/ },
    shared: true,
  },
  {
    name: 'id an object nested 5,000 deep',
    send: to('a', `{"jsonrpc":"2.0","id":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)},"method":"ping"}`),
    expect: {
      status: 400,
      kind: -32600,
      says: /"id" must be a string or an integer \(within ±2\^53\), not \(too deeply nested to show\)/,
    },
    shared: true,
  },
  {
    name: 'id 1.5',
    send: to('a', ping(1.5)),
    expect: { status: 400, kind: -32600, says: /not 1\.5/ },
    shared: true,
  },
  {
    name: 'id 0 (valid: served)',
    send: to('a', ping(0)),
    expect: { status: 200, kind: 'result', says: /^$/ },
    shared: true,
  },
  {
    name: 'id "1" (valid: served)',
    send: to('a', ping('1')),
    expect: { status: 200, kind: 'result', says: /^$/ },
    shared: true,
  },
  {
    name: "the id of session b's running call, on b",
    send: async ({ b, bRunning }) => answerOf(await b.post(call({ path: 'sample.txt', chunks: 1 }, bRunning))),
    expect: { status: 409, kind: -32600, says: /request id \d+ is still in use in this session; use a new id/ },
  },

  // Methods and params.
  {
    name: 'an unknown method',
    send: to('a', { jsonrpc: '2.0', id: 41, method: 'tools/explode' }),
    expect: { status: 200, kind: -32601, says: /^Method not found$/ },
    shared: true,
  },
  {
    name: 'params a string',
    send: to('a', { jsonrpc: '2.0', id: 42, method: 'tools/list', params: 'all' }),
    expect: { status: 400, kind: -32600, says: /"params" must be an object/ },
    shared: true,
  },
  {
    name: 'params without the fields the method needs',
    send: to('a', { jsonrpc: '2.0', id: 44, method: 'tools/call', params: { arguments: {} } }),
    expect: { status: 200, kind: -32602, says: /Invalid params for tools\/call: .* at params\.name/ },
    shared: true,
  },
  {
    name: 'tool arguments an array',
    send: to('a', { jsonrpc: '2.0', id: 43, method: 'tools/call', params: { name: 'x', arguments: [1] } }),
    expect: { status: 200, kind: -32602, says: /expected record, received array at params\.arguments/ },
    shared: true,
  },
  {
    name: 'an unknown tool',
    send: to('a', { ...call({}), params: { name: 'no_such_tool', arguments: {} } }),
    expect: { status: 200, kind: 'tool error', says: /Tool no_such_tool not found/ },
  },
  {
    name: 'chunks 10^15',
    send: to('a', call({ path: 'sample.txt', chunks: 1e15 })),
    expect: { status: 200, kind: 'tool error', says: /Too big: expected number to be <=10000 at chunks/ },
  },
  {
    name: 'chunks -3',
    send: to('a', call({ path: 'sample.txt', chunks: -3 })),
    expect: { status: 200, kind: 'tool error', says: /Too small: expected number to be >=1 at chunks/ },
  },
  {
    name: 'chunks 1e400 (Infinity)',
    send: to(
      'a',
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"process_large_file",' +
        '"arguments":{"path":"sample.txt","chunks":1e400}}}',
    ),
    expect: { status: 200, kind: 'tool error', says: /expected number, received Infinity at chunks/ },
  },
  {
    name: 'chunkDelayMs "5" (a string)',
    send: to('a', call({ path: 'sample.txt', chunkDelayMs: '5' })),
    expect: { status: 200, kind: 'tool error', says: /expected number, received string at chunkDelayMs/ },
  },
  {
    name: 'path 42',
    send: to('a', call({ path: 42 })),
    expect: { status: 200, kind: 'tool error', says: /expected string, received number at path/ },
  },
  {
    name: 'path null',
    send: to('a', call({ path: null })),
    expect: { status: 200, kind: 'tool error', says: /expected string, received null at path/ },
  },
  {
    name: 'path ../../../../etc/passwd',
    send: to('a', call({ path: '../../../../etc/passwd' })),
    expect: { status: 200, kind: 'tool error', says: /is outside the data folder; name a file inside/ },
  },
  {
    name: 'path /etc/passwd',
    send: to('a', call({ path: '/etc/passwd' })),
    expect: { status: 200, kind: 'tool error', says: /is outside the data folder/ },
  },
  {
    name: 'path with a NUL byte',
    send: to('a', call({ path: 'sample.txt\u0000.png' })),
    expect: { status: 200, kind: 'tool error', says: /path "sample\.txt\\u0000\.png" holds a NUL byte/ },
  },

  // Cancels.
  {
    name: 'a cancel without params',
    send: to('a', cancel()),
    expect: { status: 202, kind: 'accepted', says: /^$/ },
    logs: /notifications\/cancelled without params: the SDK drops it, so it cancels nothing/,
    shared: true,
  },
  {
    name: 'a cancel without a requestId',
    send: to('a', cancel({})),
    expect: { status: 202, kind: 'accepted', says: /^$/ },
    logs: /notifications\/cancelled without a requestId: names no request, ignored/,
    shared: true,
  },
  {
    name: 'a cancel with extra params',
    send: to('a', cancel({ requestId: 4242, reason: 'x', extra: { a: 1 } })),
    expect: { status: 202, kind: 'accepted', says: /^$/ },
    logs: /notifications\/cancelled for 4242 matches no request in this session: ignored/,
    shared: true,
  },
  {
    name: 'a cancel whose requestId is an object',
    send: to('a', cancel({ requestId: { a: 1 } })),
    expect: { status: 202, kind: 'accepted', says: /^$/ },
    logs: /notifications\/cancelled with invalid params \{"requestId":\{"a":1\}\}: the SDK drops it/,
    shared: true,
  },
  {
    name: 'a cancel nested 100,000 deep',
    send: to('a', `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":${nested(100_000)}}}`),
    expect: { status: 202, kind: 'accepted', says: /^$/ },
    logs: /notifications\/cancelled with invalid params \(too deeply nested to show\): the SDK drops it/,
    shared: true,
  },
  {
    name: 'a cancel sent as a request (with an id)',
    send: to('a', { jsonrpc: '2.0', id: 51, method: 'notifications/cancelled', params: { requestId: 1 } }),
    expect: { status: 200, kind: -32601, says: /^Method not found$/ },
    shared: true,
  },
  {
    name: 'a cancel of initialize (id 0)',
    send: to('a', cancel({ requestId: 0 })),
    expect: { status: 202, kind: 'accepted', says: /^$/ },
    logs: /notifications\/cancelled for 0 matches no request in this session: ignored/,
    shared: true,
  },
  {
    name: "a cancel of b's running call, sent on a",
    send: async ({ a, bRunning }) => answerOf(await a.post(cancel({ requestId: bRunning }))),
    expect: { status: 202, kind: 'accepted', says: /^$/ },
    logs: /notifications\/cancelled for 1000 matches no request in this session: ignored/,
  },
  {
    name: "a cancel of b's call, reason a number, on b",
    send: async ({ b, bRunning }) => answerOf(await b.post(cancel({ requestId: bRunning, reason: 5 }))),
    expect: { status: 202, kind: 'accepted', says: /^$/ },
    logs: /notifications\/cancelled with invalid params \{"requestId":1000,"reason":5\}: the SDK drops it/,
  },
  {
    name: "a ping from a carrying b's session id",
    send: async ({ a, b }) => answerOf(await a.post(ping('as-b'), { 'mcp-session-id': b.sessionId })),
    expect: { status: 200, kind: 'result', says: /^$/ },
  },
  {
    name: 'a response to a request never sent',
    send: to('a', { jsonrpc: '2.0', id: 77, result: {} }),
    expect: { status: 202, kind: 'accepted', says: /^$/ },
    shared: true,
  },
];

/** Sends one entry and checks its answer and, for a notification, the server's log line about it. */
export async function sendAndCheck(
  entry: BadInput,
  target: Target,
  server: LessonServer,
  { checkLog }: { checkLog: boolean },
): Promise<Answer> {
  const from = server.lines.length;
  const answer = await entry.send(target);
  const { says, ...expected } = entry.expect;
  assert.deepEqual({ status: answer.status, kind: answer.kind }, expected, `${entry.name}: ${answer.message}`);
  assert.match(answer.message, says, entry.name);
  if (checkLog && entry.logs) {
    const pattern = entry.logs;
    await waitFor(`the server to log ${pattern} for "${entry.name}"`, () =>
      server.lines.slice(from).some((line) => pattern.test(line)),
    );
  }
  const next = await answerOf(await target.a.post(ping(`next-${randomUUID()}`)));
  assert.equal(next.kind, 'result', `after "${entry.name}" the next good request got ${JSON.stringify(next)}`);
  return answer;
}

/** Fails when the server's output shows a 500, a crash, or a stack trace. */
export const noServerErrors = (server: LessonServer) =>
  assert.deepEqual(
    // The wiring logs a 500 as "HTTP error" with its stack; Node reports a crash as uncaught or unhandled.
    server.lines.filter((line) => /HTTP error|Unhandled|uncaughtException|^\s+at .*:\d+:\d+\)?$/.test(line)),
    [],
    server.output(),
  );
