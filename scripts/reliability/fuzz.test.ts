// Property-based fuzzing of lesson 01's server, run as a real process: sequences of generated
// JSON-RPC messages (fuzz-messages.ts), each POSTed over HTTP, and after every sequence: every
// answer well-formed and never a 5xx, every response stream ended, every job's file closed, no
// crash, no stack trace in the server's output. A failure shrinks to the fewest steps that
// still fail; the report gives the seed and the path (`{ seed, path }`) to replay it:
//
//   FUZZ_SEED=<seed> FUZZ_PATH=<path> node --test --import tsx scripts/reliability/fuzz.test.ts
//
// FUZZ_RUNS=<n> changes the number of runs (of 100-120 steps each; the default makes 10,000+ messages).
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { readProofRecords, startLessonServer } from '../../lessons/shared/processes.ts';
import { openRawSession, type RawSession } from '../../lessons/shared/raw-mcp.ts';
import { canSeeFileDescriptors, openDescriptorsTo } from '../../lessons/shared/testing.ts';
import { WaitTimeoutError, scaled, waitFor } from '../../lessons/shared/wait.ts';
import { sequence, type Post, type Sequence } from './fuzz-messages.ts';

readProofRecords(false); // its checks read the wire and the log, not the servers' proof records

const SERVER = join(import.meta.dirname, '../../lessons/01-cancel-by-id/server.ts');
const MIN_MESSAGES = 10_000;
const [MIN_STEPS, MAX_STEPS] = [100, 120];
/** How long, after a run's last message, a response may take to end: a valid call here lasts at most ~50 ms. */
const STREAM_DEADLINE_MS = 3_000;
const ALLOWED_STATUSES = new Set([200, 202, 400, 403, 404, 405, 406, 409, 413, 415]);
/** A stack frame, an unhandled error, an error the HTTP wiring logged, a Node warning. */
const BAD_LINE = /^\s+at |unhandled|uncaught|HTTP error|^\(node:\d+\)/i;

type Server = Awaited<ReturnType<typeof startLessonServer>>;
type Message = Record<string, unknown>;

/** One POST and its response, filled in as it arrives. */
interface Exchange {
  post: Post;
  request: http.ClientRequest;
  status?: number;
  contentType?: string;
  sessionId?: string;
  body: string;
  ended: boolean;
  /** Why there is no clean response: no headers in time, a reset connection, a body cut off. */
  failure?: string;
}

const agent = new http.Agent({ keepAlive: true });

/** Sends `post`; resolves once the response headers are in (the body keeps arriving) or the POST failed. */
function send(post: Post, url: string, session: RawSession): Promise<Exchange> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': session.protocolVersion,
  };
  if (post.session === 'own') headers['mcp-session-id'] = session.sessionId;
  else if (post.session !== 'none') headers['mcp-session-id'] = post.session.unknown;
  for (const [name, value] of Object.entries(post.headers)) {
    if (value === null) delete headers[name];
    else headers[name] = value;
  }
  const payload = Buffer.from(post.text);
  headers['content-length'] = String(payload.length);

  return new Promise((resolve) => {
    const request = http.request(url, { method: 'POST', agent, headers });
    const exchange: Exchange = { post, request, body: '', ended: false };
    const fail = (failure: string) => {
      exchange.failure ??= failure;
      exchange.ended = true;
      clearTimeout(timer);
      resolve(exchange);
    };
    const timer = setTimeout(() => fail(`no response headers within ${STREAM_DEADLINE_MS} ms`), STREAM_DEADLINE_MS);
    request.on('error', (error) => {
      if (!exchange.ended) fail(`request failed: ${error.message}`);
    });
    request.on('response', (response) => {
      clearTimeout(timer);
      exchange.status = response.statusCode;
      exchange.contentType = response.headers['content-type'];
      exchange.sessionId = response.headers['mcp-session-id'] as string | undefined;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (exchange.body += chunk));
      response.on('end', () => (exchange.ended = true));
      response.on('close', () => {
        if (!exchange.ended) fail('the response was cut off before its end');
      });
      resolve(exchange);
    });
    request.end(payload);
  });
}

const isObject = (value: unknown): value is Message =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const parsedBodies = new WeakMap<Post, Message[]>();

/** The JSON-RPC messages in the body a POST sent (none when it is not JSON). */
function sentMessages(post: Post): Message[] {
  let messages = parsedBodies.get(post);
  if (!messages) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(post.text.replace(/^\ufeff/, ''));
    } catch {
      parsed = [];
    }
    messages = (Array.isArray(parsed) ? parsed : [parsed]).filter(isObject);
    parsedBodies.set(post, messages);
  }
  return messages;
}

/** A request id as a key, JSON type included (1 and "1" differ). Ids too deep to write match nothing. */
function idKey(id: unknown): string {
  try {
    return JSON.stringify(id) ?? 'undefined';
  } catch {
    return '(unwritable id)';
  }
}

/** The JSON-RPC messages in a 200 response: SSE `data:` events, or a JSON body. */
function receivedMessages({ body, contentType }: Exchange): unknown[] {
  if (!contentType?.startsWith('text/event-stream')) return [JSON.parse(body) as unknown].flat();
  return body.split(/\r?\n\r?\n/).flatMap((event) => {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    return data === '' ? [] : [JSON.parse(data) as unknown];
  });
}

function assertJsonRpcError(value: unknown, what: string) {
  assert.ok(isObject(value) && value.jsonrpc === '2.0' && isObject(value.error), `not a JSON-RPC error: ${what}`);
  const error = value.error as Message;
  assert.ok(Number.isInteger(error.code), `error.code is not an integer: ${what}`);
  assert.ok(typeof error.message === 'string' && error.message !== '', `error.message is empty: ${what}`);
}

const describeExchange = ({ post, status, body }: Exchange) =>
  `${fc.stringify(post)}\n  -> HTTP ${status ?? '(no response)'} ${body.slice(0, 300)}`;

/** The checks every response must pass, whatever was sent. */
function checkExchange(exchange: Exchange) {
  const { post, status, body, failure } = exchange;
  const what = describeExchange(exchange);
  assert.equal(failure, undefined, `${what}\n  ${failure}`);
  assert.ok(status !== undefined && ALLOWED_STATUSES.has(status), `status outside the allowed set: ${what}`);
  if (status === 202) {
    assert.equal(body, '', `202 with a body: ${what}`);
    return;
  }
  if (status !== 200) {
    let parsed: unknown;
    assert.doesNotThrow(() => (parsed = JSON.parse(body)), `an error body that is not JSON: ${what}`);
    assertJsonRpcError(parsed, what);
    return;
  }
  const sent = sentMessages(post);
  assert.ok(
    sent.some((m) => 'id' in m && 'method' in m),
    `200 (a response stream) for a POST that held no request: ${what}`,
  );
  const sentIds = new Set(sent.filter((m) => 'id' in m).map((m) => idKey(m.id)));
  let received: unknown[] = [];
  assert.doesNotThrow(() => (received = receivedMessages(exchange)), `a 200 body that does not parse: ${what}`);
  for (const message of received) {
    assert.ok(isObject(message) && message.jsonrpc === '2.0', `not JSON-RPC 2.0: ${JSON.stringify(message)}; ${what}`);
    if ('method' in message) {
      assert.ok(!('id' in message), `the server sent a request: ${JSON.stringify(message)}; ${what}`);
      continue;
    }
    const isError = 'error' in message;
    assert.notEqual('result' in message, isError, `neither result nor error, or both: ${what}`);
    if (isError) assertJsonRpcError(message, what);
    assert.ok(
      sentIds.has(idKey(message.id)) || (message.id === null && isError),
      `a response with id ${idKey(message.id)}, which the POST did not send: ${what}`,
    );
  }
}

/** The ids of the process_large_file calls a run got a response stream for, each once (by JSON type). */
function fileCallIds(exchanges: Exchange[]): (string | number)[] {
  const ids = new Map<string, string | number>();
  for (const exchange of exchanges) {
    if (exchange.status !== 200 || exchange.post.session !== 'own') continue;
    for (const m of sentMessages(exchange.post)) {
      const isFileCall = m.method === 'tools/call' && isObject(m.params) && m.params.name === 'process_large_file';
      if (isFileCall && (typeof m.id === 'string' || Number.isSafeInteger(m.id))) {
        ids.set(idKey(m.id), m.id as string | number);
      }
    }
  }
  return [...ids.values()];
}

interface JobReport {
  state: string;
  fileHandle: string;
  responseStream: string;
}

/** The server's report of job `requestId` in `session`, or undefined when it has none (the call was refused). */
async function jobReport(session: RawSession, requestId: string | number): Promise<JobReport | undefined> {
  const reading = await session.stream({
    jsonrpc: '2.0',
    id: `job check ${idKey(requestId)}`,
    method: 'tools/call',
    params: { name: 'get_job_status', arguments: { requestId } },
  });
  await reading.done;
  const reply = reading.messages[0] as { result?: { isError?: boolean; structuredContent?: JobReport } } | undefined;
  assert.ok(reply?.result, `get_job_status ${idKey(requestId)} failed: ${JSON.stringify(reading.messages)}`);
  return reply.result.isError ? undefined : reply.result.structuredContent;
}

/** Server output lines from `from` to `to`, each cut to 200 characters (a fuzzed id can be 100,000). */
const outputLines = (server: Server, from: number, to = server.lines.length) =>
  server.lines
    .slice(Math.max(0, from), to)
    .map((line) => (line.length > 200 ? `${line.slice(0, 200)}…` : line))
    .join('\n');

function checkServerAlive(server: Server, fromLine: number) {
  const alive = () => process.kill(server.child.pid!, 0);
  assert.doesNotThrow(alive, `the server process died:\n${outputLines(server, server.lines.length - 30)}`);
  const lines = server.lines.slice(fromLine);
  const first = lines.findIndex((line) => BAD_LINE.test(line));
  const count = lines.filter((line) => BAD_LINE.test(line)).length;
  const at = fromLine + first;
  assert.ok(
    first === -1,
    `the server printed ${count} error line(s); the first:\n${outputLines(server, at - 5, at + 10)}`,
  );
}

async function waitForNoOpenFile(server: Server, timeoutMs?: number) {
  if (!canSeeFileDescriptors) return;
  const pid = server.child.pid!;
  await waitFor('no descriptor open to sample.txt', () => openDescriptorsTo(pid, '/data/sample.txt') === 0, {
    timeoutMs,
  });
}

describe('fuzz: generated JSON-RPC messages against lesson 01', { timeout: scaled(150_000) }, () => {
  const servers: Server[] = [];
  /** The server under test; replaced if a run crashed it, so shrinking can go on. */
  const current = () => servers.at(-1)!;
  const stats = { messages: 0, runs: 0, statuses: new Map<string, number>() };

  before(async () => {
    servers.push(await startLessonServer(SERVER));
  });
  after(async () => {
    agent.destroy();
    for (const server of servers) await server.stop();
  });

  /** One property run: a fresh session, the sequence, then every check; the session is ended whatever happens. */
  async function run(steps: Sequence) {
    if (current().child.exitCode !== null || current().child.signalCode !== null) {
      servers.push(await startLessonServer(SERVER));
    }
    const server = current();
    const fromLine = server.lines.length;
    const session = await openRawSession(server.url);
    const exchanges: Exchange[] = [];
    try {
      for (const step of steps.steps) {
        if (step.together) {
          exchanges.push(...(await Promise.all(step.posts.map((post) => send(post, server.url, session)))));
        } else {
          for (const post of step.posts) exchanges.push(await send(post, server.url, session));
        }
      }
      stats.messages += exchanges.length;
      stats.runs++;
      for (const { status } of exchanges) {
        const key = String(status ?? 'none');
        stats.statuses.set(key, (stats.statuses.get(key) ?? 0) + 1);
      }

      await waitFor('every response to end', () => exchanges.every((e) => e.ended), {
        timeoutMs: STREAM_DEADLINE_MS,
      }).catch((error: unknown) => {
        if (!(error instanceof WaitTimeoutError)) throw error;
        const held = exchanges.filter((e) => !e.ended).map(describeExchange);
        assert.fail(
          `${held.length} response(s) still open ${STREAM_DEADLINE_MS} ms after the last message:\n` +
            `${held.join('\n')}\n--- the server's last lines ---\n${outputLines(server, server.lines.length - 30)}`,
        );
      });
      exchanges.forEach(checkExchange);

      const ids = fileCallIds(exchanges);
      const jobs = await Promise.all(ids.map((requestId) => jobReport(session, requestId)));
      jobs.forEach((job, i) => {
        if (!job) return;
        const what = `job ${idKey(ids[i])}: ${JSON.stringify(job)}`;
        assert.notEqual(job.state, 'running', what);
        assert.equal(job.responseStream, 'closed', what);
        assert.notEqual(job.fileHandle, 'open', what);
      });
      await waitForNoOpenFile(server, STREAM_DEADLINE_MS);
      checkServerAlive(server, fromLine);
    } finally {
      for (const exchange of exchanges) if (!exchange.ended) exchange.request.destroy();
      // Cleaning up must not hide the failure that got us here (the server may be gone).
      const created = new Set(exchanges.map((e) => e.sessionId).filter((id) => id && id !== session.sessionId));
      await Promise.all([
        session.close().catch(() => undefined),
        ...[...created].map((sessionId) =>
          fetch(server.url, { method: 'DELETE', headers: { 'mcp-session-id': sessionId! } }).catch(() => undefined),
        ),
      ]);
    }
  }

  test(`at least ${MIN_MESSAGES} messages: no 5xx, no crash, no held stream, no file left open`, async (t) => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() ^ (Math.random() * 0x100000000));
    const numRuns = Number(process.env.FUZZ_RUNS ?? Math.ceil(MIN_MESSAGES / MIN_STEPS));
    const path = process.env.FUZZ_PATH;
    t.diagnostic(`replay with FUZZ_SEED=${seed} FUZZ_RUNS=${numRuns}${path ? ` FUZZ_PATH=${path}` : ''}`);

    const started = performance.now();
    await fc.assert(fc.asyncProperty(sequence(MIN_STEPS, MAX_STEPS), run), {
      seed,
      numRuns,
      path,
      timeout: scaled(60_000),
      interruptAfterTimeLimit: scaled(90_000), // bounds shrinking: the report then shows the smallest failure found so far
    });
    const seconds = (performance.now() - started) / 1000;

    const statuses = [...stats.statuses].sort().map(([status, count]) => `${status}: ${count}`);
    t.diagnostic(
      `${stats.messages} messages in ${stats.runs} runs, ${seconds.toFixed(1)} s ` +
        `(${Math.round(stats.messages / seconds)} messages/s); HTTP ${statuses.join(', ')}`,
    );
    if (!process.env.FUZZ_RUNS && !path) assert.ok(stats.messages >= MIN_MESSAGES, `only ${stats.messages} messages`);
  });

  test('afterwards: the server is alive, holds no file, and serves a good request', async () => {
    const server = current();
    assert.equal(servers.length, 1, 'the server had to be restarted after a crash');
    checkServerAlive(server, 0);
    await waitForNoOpenFile(server);
    const session = await openRawSession(server.url);
    const list = await session.stream({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    await list.done;
    assert.match(JSON.stringify(list.messages), /"name":"process_large_file"/);
    const call = await session.stream({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: 2, chunkDelayMs: 0 } },
    });
    await call.done;
    assert.match(JSON.stringify(call.messages), /Processed sample.txt: 2 chunks, 1048576 bytes/);
    assert.equal((await session.close()).status, 200);
  });
});
