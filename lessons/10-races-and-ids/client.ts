// Lesson 10 client: the races and id mix-ups a cancel can meet, one scenario each. Each prints what
// it sent and what came back, then asks the server (get_job_status) what really happened.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  McpError,
  type CallToolResult,
  type JSONRPCMessage,
  type JSONRPCResponse,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { choiceFlag, exitPlainlyIfServerLost, intFlag, parseFlags } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

const SCENARIOS = [
  'after-completion',
  'unknown-id',
  'second-cancel',
  'three-calls',
  'cross-session',
  'id-types',
  'initialize',
] as const;
type Scenario = (typeof SCENARIOS)[number];
const OUTCOMES = ['as-named', 'too-late'] as const;
const REQUEST_CANCELLED = -32800; // LSP's RequestCancelled, what the lesson servers answer a cancelled call with

const HELP = `
Lesson 10 client: cancels that race with completion, repeat, or name the wrong id; and what the server did.

Usage: npx tsx lessons/10-races-and-ids/client.ts [options]

  --url URL          the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3110/mcp)
  --scenario NAME    run one scenario (default: all of them, in this order)
                       after-completion  cancel a call that already completed
                       unknown-id        cancel an id this session never sent
                       second-cancel     cancel the same call twice
                       three-calls       three calls at once; cancel the middle one
                       cross-session     two sessions, the same request id; cancel on one
                       id-types          initialize is #0; "N" does not cancel N
                       initialize        abort connect(): SDK 1.x sends a cancel for initialize
  --chunks N         chunks per long call (default: 10)
  --chunk-delay MS   the server's pause after each chunk (default: 100)
  --cancel-after MS  how long a call runs before the cancel (default: 300)
  --expect OUTCOME   the outcome that makes this exit 0 (default: as-named, what each scenario is named for)
                       too-late  with --scenario three-calls: the cancel came after every call completed
  -h, --help         show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    scenario: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    'cancel-after': { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3110/mcp';
const only =
  flags.scenario === undefined ? undefined : choiceFlag('scenario', flags.scenario, SCENARIOS, 'after-completion');
const chunks = intFlag('chunks', flags.chunks, 10, 2, 10_000);
const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 100, 1, 60_000);
const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 300);
const expected = choiceFlag('expect', flags.expect, OUTCOMES, 'as-named');
if (expected === 'too-late' && only !== 'three-calls') {
  console.error('--expect too-late goes with --scenario three-calls');
  process.exit(2);
}

const log = createTimeline('client');

/** An SDK client that records every message it sends and receives, and the HTTP status of each POST. */
class Session {
  readonly sent: JSONRPCMessage[] = [];
  readonly received: JSONRPCMessage[] = [];
  /** HTTP status of each POST, by the JSON body it carried. */
  readonly posts: { body: string; status: number }[] = [];
  readonly client = new Client({ name: 'lesson-10-client', version: '1.0.0' });
  readonly transport: StreamableHTTPClientTransport;

  constructor(slowInitializeMs = 0) {
    const recordingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const body = typeof init?.body === 'string' ? init.body : '';
      if (init?.method === 'POST') this.posts.push({ body, status: response.status });
      // A slow network, for the initialize scenario: the answer is on its way, and takes a while.
      if (slowInitializeMs > 0 && body.includes('"method":"initialize"'))
        await sleep(slowInitializeMs, undefined, { signal: init?.signal ?? undefined });
      return response;
    };
    this.transport = new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch });
    const send = this.transport.send.bind(this.transport);
    this.transport.send = (message, options) => {
      this.sent.push(...(Array.isArray(message) ? message : [message]));
      return send(message, options);
    };
    // Replies the SDK no longer waits for (it gave up on the request) end up here.
    this.client.onerror = () => {};
  }

  get tag() {
    return (this.transport.sessionId ?? 'none').slice(0, 8);
  }

  async connect() {
    await this.client.connect(this.transport);
    const onmessage = this.transport.onmessage;
    this.transport.onmessage = (message) => {
      this.received.push(message);
      onmessage?.(message);
    };
  }

  repliesTo(id: RequestId): JSONRPCResponse[] {
    return this.received.filter((m): m is JSONRPCResponse => ('result' in m || 'error' in m) && m.id === id);
  }

  /** Starts a process_large_file call; returns its id as it left (never guessed) and how it settles. */
  async startCall(callChunks = chunks) {
    const before = this.sent.length;
    const settled = this.client
      .callTool({ name: 'process_large_file', arguments: { path: 'sample.txt', chunks: callChunks, chunkDelayMs } })
      .then(
        (result) => ({ result: result as CallToolResult }),
        (error: unknown) => ({ error }),
      );
    const id = await waitFor('the tools/call to leave', () => {
      const call = this.sent.slice(before).find((m) => 'method' in m && m.method === 'tools/call');
      return call && 'id' in call ? call.id : undefined;
    });
    log.event(`[${this.tag}] -> tools/call #${JSON.stringify(id)} process_large_file (${callChunks} chunks)`);
    return { id, settled };
  }

  /** Sends notifications/cancelled by hand and shows what HTTP said: a notification gets 202 and no body. */
  async cancel(requestId: RequestId, reason: string) {
    const before = this.posts.length;
    await this.client.notification({ method: 'notifications/cancelled', params: { requestId, reason } });
    const post = this.posts.slice(before).find((p) => p.body.includes('notifications/cancelled'));
    log.highlight(
      `[${this.tag}] -> notifications/cancelled { requestId: ${JSON.stringify(requestId)}, reason: "${reason}" }` +
        `  <- HTTP ${post?.status}${post?.status === 202 ? ' Accepted, no JSON-RPC reply' : ''}`,
    );
    return post?.status;
  }

  async jobStatus(id: RequestId): Promise<JobReport> {
    const status = await this.client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
    return status.structuredContent as unknown as JobReport;
  }

  /** The server's account of one call, as the client prints it. */
  async report(id: RequestId): Promise<JobReport> {
    const job = await this.jobStatus(id);
    const how =
      job.state === 'completed'
        ? `completed ${job.chunksDone}/${job.chunksTotal} chunks`
        : `${job.state} after chunk ${job.chunksDone}/${job.chunksTotal}`;
    const cancel = job.cancelReason === undefined ? 'no cancel recorded' : `cancel reason "${job.cancelReason}"`;
    log.event(
      `[${this.tag}] server reports #${JSON.stringify(id)}: ${how}; ${cancel}; file handle ${job.fileHandle}; replied ${job.reply}`,
    );
    return job;
  }

  /** The session still answers: a ping round trip. */
  async stillServing() {
    await this.client.ping();
    log.detail(`[${this.tag}] ping answered: the session keeps serving`);
    return true;
  }

  async close() {
    await this.transport.terminateSession().catch(() => {});
    await this.client.close();
  }
}

interface JobReport {
  requestId: RequestId;
  state: string;
  chunksDone: number;
  chunksTotal: number;
  cancelReason?: string;
  fileHandle: string;
  reply?: string;
}

type Settled = { result: CallToolResult } | { error: unknown };

function describe(tag: string, id: RequestId, settled: Settled): string {
  if ('result' in settled) {
    const text = settled.result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
    log.ok(
      `[${tag}] <- #${JSON.stringify(id)} result: ${text.replace(/sha256 ([0-9a-f]{12})[0-9a-f]+/, 'sha256 $1…')}`,
    );
    return settled.result.isError ? 'tool error' : 'result';
  }
  const error = settled.error;
  if (error instanceof McpError) {
    log.highlight(`[${tag}] <- #${JSON.stringify(id)} error ${error.code} "${error.message}"`);
    return error.code === REQUEST_CANCELLED ? 'cancelled' : `error ${error.code}`;
  }
  log.fail(`[${tag}] <- #${JSON.stringify(id)} ${String(error)}`);
  return 'failed';
}

/** Each scenario returns the checks that make it pass: [what, held]. */
type Checks = [string, boolean][];

const main = new Session();

async function afterCompletion(): Promise<Checks> {
  const { id, settled } = await main.startCall(2);
  const outcome = describe(main.tag, id, await settled);
  const before = await main.report(id);
  const status = await main.cancel(id, 'too late');
  const after = await main.report(id);
  return [
    ['the call completed', outcome === 'result'],
    ['the cancel got HTTP 202', status === 202],
    ['the job record did not change', JSON.stringify(before) === JSON.stringify(after)],
    ['the session keeps serving', await main.stillServing()],
  ];
}

async function unknownId(): Promise<Checks> {
  const status = await main.cancel(999, 'no such request');
  const sentIds = main.sent.filter((m) => 'id' in m && 'method' in m).map((m) => (m as { id: RequestId }).id);
  log.detail(`[${main.tag}] ids this session has sent: ${JSON.stringify(sentIds)}`);
  return [
    ['the cancel got HTTP 202', status === 202],
    ['no JSON-RPC message came back for it', main.repliesTo(999).length === 0],
    ['the session keeps serving', await main.stillServing()],
  ];
}

async function secondCancel(): Promise<Checks> {
  const { id, settled } = await main.startCall();
  await sleep(cancelAfterMs);
  // A user's click, then a timeout, say: the second leaves as soon as the first is accepted, so the
  // server reads them in this order while the handler is stopping or has stopped.
  const statuses = [await main.cancel(id, 'first'), await main.cancel(id, 'second')];
  const outcome = describe(main.tag, id, await settled);
  const job = await main.report(id);
  log.detail(`[${main.tag}] replies to #${id} on the wire: ${main.repliesTo(id).length}`);
  return [
    ['both cancels got HTTP 202', statuses.every((s) => s === 202)],
    ['the call was cancelled', outcome === 'cancelled' && job.state === 'cancelled'],
    ['stopped by the first cancel', job.cancelReason === 'first'],
    ['exactly one reply', main.repliesTo(id).length === 1 && job.reply === `error ${REQUEST_CANCELLED}`],
    ['file handle closed', job.fileHandle === 'closed'],
  ];
}

async function threeCalls(): Promise<Checks> {
  const calls = [await main.startCall(), await main.startCall(), await main.startCall()];
  const [first, middle, last] = calls as [(typeof calls)[0], (typeof calls)[0], (typeof calls)[0]];
  await sleep(cancelAfterMs);
  await main.cancel(middle.id, 'not this one');
  const outcomes: string[] = [];
  for (const { id, settled } of calls) outcomes.push(describe(main.tag, id, await settled)); // in call order
  const [a, b, c] = [await main.report(first.id), await main.report(middle.id), await main.report(last.id)];
  if (expected === 'too-late')
    return [
      ['all three completed', outcomes.every((outcome) => outcome === 'result')],
      ['all their chunks', [a, b, c].every((job) => job.chunksDone === chunks)],
      ['no cancel recorded: the server ignored it', [a, b, c].every((job) => job.cancelReason === undefined)],
      ['every file handle closed', [a, b, c].every((job) => job.fileHandle === 'closed')],
    ];
  return [
    ['the first and last completed', outcomes[0] === 'result' && outcomes[2] === 'result'],
    ['all their chunks', a.chunksDone === chunks && c.chunksDone === chunks],
    ['the middle one was cancelled', outcomes[1] === 'cancelled' && b.state === 'cancelled'],
    ['before its last chunk', b.chunksDone < chunks],
    ['no cancel recorded on the others', a.cancelReason === undefined && c.cancelReason === undefined],
    ['every file handle closed', [a, b, c].every((job) => job.fileHandle === 'closed')],
  ];
}

async function crossSession(): Promise<Checks> {
  // Two fresh sessions: each numbers its requests from 0, so both first calls are #1.
  const [alice, bob] = [new Session(), new Session()];
  await Promise.all([alice.connect(), bob.connect()]);
  log.detail(`sessions ${alice.transport.sessionId} and ${bob.transport.sessionId}`);
  const [aCall, bCall] = [await alice.startCall(), await bob.startCall()];
  await sleep(cancelAfterMs);
  await bob.cancel(bCall.id, 'only mine');
  const outcomes = [
    describe(alice.tag, aCall.id, await aCall.settled),
    describe(bob.tag, bCall.id, await bCall.settled),
  ];
  const [a, b] = [await alice.report(aCall.id), await bob.report(bCall.id)];
  await Promise.all([alice.close(), bob.close()]);
  return [
    ['both calls had the same id', aCall.id === bCall.id],
    ["the other session's call completed", outcomes[0] === 'result' && a.state === 'completed'],
    ['no cancel recorded on it', a.cancelReason === undefined],
    ["this session's call was cancelled", outcomes[1] === 'cancelled' && b.state === 'cancelled'],
  ];
}

async function idTypes(): Promise<Checks> {
  const initialize = main.sent.find((m) => 'method' in m && m.method === 'initialize') as { id: RequestId };
  log.detail(`[${main.tag}] the SDK sent initialize as #${JSON.stringify(initialize.id)}; its calls count up from 1`);
  const { id, settled } = await main.startCall();
  await sleep(cancelAfterMs);
  await main.cancel(String(id), 'wrong type');
  const chunksThen = (await main.jobStatus(id)).chunksDone;
  // Not stopped: it reads on. Wait for two more chunks rather than for a fixed time.
  const still = await waitFor(`#${id} to read on`, async () => {
    const job = await main.jobStatus(id);
    return (job.state !== 'running' || job.chunksDone >= chunksThen + 2) && job;
  });
  log.detail(`[${main.tag}] #${id} is still ${still.state}: chunk ${chunksThen} then, ${still.chunksDone} now`);
  await main.cancel(id, 'right type');
  const outcome = describe(main.tag, id, await settled);
  const job = await main.report(id);
  return [
    ['initialize was #0', initialize.id === 0],
    ['the call id is a number', typeof id === 'number'],
    ['"N" stopped nothing', still.state === 'running' && still.chunksDone > chunksThen],
    ['N stopped it', outcome === 'cancelled' && job.cancelReason === 'right type'],
  ];
}

async function initialize(): Promise<Checks> {
  // connect() with a signal that fires while initialize is still on its way back.
  const slowMs = 500;
  const late = new Session(slowMs);
  const controller = new AbortController();
  setTimeout(() => controller.abort('user gave up connecting'), 100);
  log.event(
    `-> initialize, the answer ${slowMs} ms slow on the network; connect(transport, { signal }) aborts after 100 ms`,
  );
  let rejected = false;
  try {
    await late.client.connect(late.transport, { signal: controller.signal });
    log.fail('connect() resolved');
  } catch (error) {
    rejected = true;
    log.highlight(
      `<- connect() rejected: ${error instanceof McpError ? `McpError ${error.code} "${error.message}"` : String(error)}`,
    );
  }
  const init = late.sent.find((m) => 'method' in m && m.method === 'initialize') as { id: RequestId } | undefined;
  const cancel = late.sent.find((m) => 'method' in m && m.method === 'notifications/cancelled') as
    { params: { requestId: RequestId; reason?: string } } | undefined;
  if (cancel) {
    log.warn(
      `the SDK sent notifications/cancelled ${JSON.stringify(cancel.params)}: it cancels initialize, which the spec forbids`,
    );
    log.detail('that cancel has no Mcp-Session-Id to carry: a session id arrives only with the initialize answer');
  }
  const answered = late.posts.find((p) => p.body.includes('"method":"initialize"'))?.status;
  log.warn(
    `the server answered initialize (HTTP ${answered}) and made a session; this client never read its id ` +
      `(transport.sessionId: ${late.transport.sessionId}), so it cannot end that session`,
  );
  return [
    ['connect() rejected', rejected],
    ['the SDK sent a cancel naming initialize', cancel !== undefined && cancel.params.requestId === init?.id],
    ['the server answered initialize anyway', answered === 200 && late.transport.sessionId === undefined],
  ];
}

const run: Record<Scenario, { about: string; run: () => Promise<Checks> }> = {
  'after-completion': { about: 'cancel a call that already completed', run: afterCompletion },
  'unknown-id': { about: 'cancel an id this session never sent', run: unknownId },
  'second-cancel': { about: 'cancel the same call twice, one right after the other', run: secondCancel },
  'three-calls': { about: 'three calls at once; cancel the middle one', run: threeCalls },
  'cross-session': { about: 'two sessions, the same request id; cancel on one', run: crossSession },
  'id-types': { about: 'initialize is #0; "N" does not cancel N', run: idTypes },
  initialize: { about: 'initialize MUST NOT be cancelled; what SDK 1.x does', run: initialize },
};

log.event(`connecting to ${url}`);
try {
  await main.connect();
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/10-races-and-ids/server.ts');
  process.exit(1);
}
exitPlainlyIfServerLost(log, url, 'npx tsx lessons/10-races-and-ids/server.ts');
log.detail(`session ${main.transport.sessionId}, protocol ${main.transport.protocolVersion}`);

const failed: string[] = [];
for (const scenario of only ? [only] : SCENARIOS) {
  log.event(`== ${scenario}: ${run[scenario].about}`);
  const checks = await run[scenario].run();
  const missed = checks.filter(([, held]) => !held).map(([what]) => what);
  if (missed.length === 0) log.ok(`${scenario}: as expected`);
  else log.fail(`${scenario}: NOT as expected; these did not hold: ${missed.join('; ')}`);
  failed.push(...missed.map((what) => `${scenario}: ${what}`));
}

await main.close();
log.detail('session ended (DELETE)');
if (failed.length > 0) {
  log.fail(`${failed.length} expectation(s) not met`);
  process.exitCode = 1;
}
