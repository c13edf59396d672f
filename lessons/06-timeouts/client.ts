// Lesson 06 client: each way a long tool call can run out of time, one scenario each, and what the
// server says it stopped and freed.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/lifecycle#timeouts
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  McpError,
  type CallToolResult,
  type CancelledNotification,
  type JSONRPCMessage,
  type JSONRPCResponse,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { choiceFlag, exitPlainlyIfServerLost, intFlag, parseFlags } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';
import { CallStoppedError, callToolWithTotalCap } from './total-cap.ts';

const SCENARIOS = ['deadline', 'cancel', 'timeout', 'reset-on-progress', 'max-total', 'total-cap'] as const;
type Scenario = (typeof SCENARIOS)[number];
// Outcomes other than the one a scenario is named for, each with the scenario it goes with.
const OUTCOMES = { 'as-named': undefined, 'server-deadline': 'deadline', 'timed-out': 'reset-on-progress' } as const;

const HELP = `
Lesson 06 client: a long process_large_file call, stopped by a deadline, a cancel or a timeout.

Usage: npx tsx lessons/06-timeouts/client.ts [options]

  --url URL          the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3106/mcp)
  --scenario NAME    run one scenario (default: all of them, in this order)
                       deadline           the server stops the call at deadlineMs and answers a tool error
                       cancel             the client aborts the call; the server stops and answers -32800
                       timeout            callTool's timeout passes; the SDK cancels the call
                       reset-on-progress  progress keeps a call longer than its timeout alive
                       max-total          what maxTotalTimeout really does in SDK 1.x (upstream #2695)
                       total-cap          a total cap that holds: your own AbortController and timer
  --chunks N         chunks per call (default: 20; max-total uses 30 so the job outlives the SDK's timers)
  --chunk-delay MS   the server's pause after each chunk (default: 100)
  --deadline MS      the call's deadlineMs in "deadline" (default: 500)
  --cancel-after MS  when "cancel" aborts (default: 500)
  --timeout MS       callTool's timeout, or idle timeout (default: 500)
  --max-total MS     maxTotalTimeout in "max-total", the cap in "total-cap" (default: 1000)
  --expect OUTCOME   the outcome that makes this exit 0 (default: as-named, what each scenario is named for)
                       server-deadline  with --scenario deadline: stopped sooner, by a server's shorter --deadline-ms
                       timed-out        with --scenario reset-on-progress: no progress in time (a server run with
                                        --progress-every-ms above --timeout), so the call timed out
  -h, --help         show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    scenario: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    deadline: { type: 'string' },
    'cancel-after': { type: 'string' },
    timeout: { type: 'string' },
    'max-total': { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3106/mcp';
const only = flags.scenario === undefined ? undefined : choiceFlag('scenario', flags.scenario, SCENARIOS, 'deadline');
const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 100, 0, 60_000);
const deadlineMs = intFlag('deadline', flags.deadline, 500, 1);
const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 500);
const timeoutMs = intFlag('timeout', flags.timeout, 500, 1);
const maxTotalMs = intFlag('max-total', flags['max-total'], 1000, 1);
const expected = choiceFlag('expect', flags.expect, Object.keys(OUTCOMES) as (keyof typeof OUTCOMES)[], 'as-named');
const expectedWith = OUTCOMES[expected];
if (expectedWith !== undefined && only !== expectedWith) {
  console.error(`--expect ${expected} goes with --scenario ${expectedWith}`);
  process.exit(2);
}

const log = createTimeline('client');

// Every message the client sends, as it leaves: the request ids, and the cancels the SDK sends on its own.
const transport = new StreamableHTTPClientTransport(new URL(url));
const sent: JSONRPCMessage[] = [];
const send = transport.send.bind(transport);
transport.send = (message, options) => {
  sent.push(...(Array.isArray(message) ? message : [message]));
  return send(message, options);
};
const client = new Client({ name: 'lesson-06-client', version: '1.0.0' });

// Every message the client receives, as it arrives: replies the SDK no longer waits for included.
const received: JSONRPCMessage[] = [];
const repliesTo = (id: RequestId) =>
  received.filter((m): m is JSONRPCResponse => ('result' in m || 'error' in m) && 'id' in m && m.id === id);

const cancelsSentFor = (id: RequestId) =>
  sent.filter(
    (m): m is CancelledNotification & JSONRPCMessage =>
      'method' in m && m.method === 'notifications/cancelled' && m.params?.requestId === id,
  );

type Settled = { result: CallToolResult } | { error: unknown };

/** Starts a process_large_file call and returns its request id as it left, and how it settles. */
async function startCall(
  args: Record<string, unknown>,
  options: RequestOptions = {},
  call = (params: { name: string; arguments: Record<string, unknown> }) =>
    client.callTool(params, undefined, options) as Promise<CallToolResult>,
) {
  const before = sent.length;
  const settled: Promise<Settled> = call({
    name: 'process_large_file',
    arguments: { path: 'sample.txt', chunks, chunkDelayMs, ...args },
  }).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  const id = await waitFor('the tools/call to leave', () => {
    const message = sent.slice(before).find((m) => 'method' in m && m.method === 'tools/call');
    return message && 'id' in message ? message.id : undefined;
  });
  return { id, settled };
}

interface JobReport {
  state: string;
  chunksDone: number;
  chunksTotal: number;
  cancelReason?: string;
  fileHandle: string;
  resources?: Record<string, string>;
  reply?: string;
}

async function jobStatus(id: RequestId): Promise<JobReport> {
  const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
  return status.structuredContent as unknown as JobReport;
}

/** The server's account of a job, once its reply reached this client. */
async function serverAccount(id: RequestId): Promise<JobReport> {
  await waitFor(`the server's reply to #${id}`, () => repliesTo(id).length > 0, { timeoutMs: 10_000 });
  const job = await jobStatus(id);
  const how =
    job.state === 'completed'
      ? `completed all ${job.chunksTotal} chunks`
      : `${job.state} after chunk ${job.chunksDone}/${job.chunksTotal}, stopped by the ${job.resources?.['stopped by']}`;
  log.event(`server reports #${id}: ${how}; file handle ${job.fileHandle}; replied ${job.reply}`);
  return job;
}

/** After the SDK gave up on a request, the server's answer still arrives; the SDK hands it to onerror. */
async function showLateReply(id: RequestId) {
  await waitFor(`the server's reply to #${id}`, () => repliesTo(id).length > 0, { timeoutMs: 10_000 });
  const reply = repliesTo(id)[0]!;
  if ('error' in reply) {
    const { code, message, data } = reply.error;
    log.detail(
      `<- #${id} late reply, which the SDK passes to onerror: error ${code} "${message}" ${JSON.stringify(data)}`,
    );
  }
}

const describeError = (error: unknown) =>
  error instanceof McpError
    ? `McpError ${error.code} "${error.message}"${error.data === undefined ? '' : ` data ${JSON.stringify(error.data)}`}`
    : String(error);

function showCancelSent(id: RequestId, who: string) {
  const cancel = cancelsSentFor(id).at(-1);
  if (cancel) log.highlight(`${who} sent notifications/cancelled ${JSON.stringify(cancel.params)}`);
  else log.warn(`no notifications/cancelled was sent for #${id}`);
}

const textOf = (result: CallToolResult) => result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');

/** Each scenario returns the checks that make it pass: [what, held]. */
type Checks = [string, boolean][];

async function deadline(): Promise<Checks> {
  const { id, settled } = await startCall({ deadlineMs });
  log.event(`-> tools/call #${id} (${chunks} chunks, ${chunkDelayMs} ms apart) with deadlineMs ${deadlineMs}`);
  const outcome = await settled;
  if ('result' in outcome && outcome.result.isError)
    log.highlight(`<- tool error (isError: true): "${textOf(outcome.result)}"`);
  else log.fail(`<- ${'result' in outcome ? JSON.stringify(outcome.result) : describeError(outcome.error)}`);
  const job = await serverAccount(id);
  const stoppedAtMs = Number(/^deadline \((\d+) ms\)$/.exec(job.resources?.['stopped by'] ?? '')?.[1]);
  return [
    [
      'a tool error naming the deadline',
      'result' in outcome && /^Deadline of \d+ ms passed/.test(textOf(outcome.result)),
    ],
    expected === 'server-deadline'
      ? ["stopped by the server's shorter deadline", stoppedAtMs < deadlineMs]
      : ['stopped by the deadline', stoppedAtMs === deadlineMs],
    ['file handle closed', job.fileHandle === 'closed'],
  ];
}

async function cancel(): Promise<Checks> {
  const controller = new AbortController();
  const { id, settled } = await startCall({}, { signal: controller.signal });
  log.event(`-> tools/call #${id} (${chunks} chunks, ${chunkDelayMs} ms apart) with an AbortSignal`);
  await sleep(cancelAfterMs);
  controller.abort('user changed their mind');
  showCancelSent(id, 'abort("user changed their mind"): the SDK');
  const outcome = await settled;
  if ('error' in outcome) log.highlight(`<- ${describeError(outcome.error)}`);
  await showLateReply(id);
  const job = await serverAccount(id);
  return [
    [
      'the SDK rejected with the abort reason',
      'error' in outcome && /user changed their mind/.test(String(outcome.error)),
    ],
    ['stopped by the client cancel', job.resources?.['stopped by'] === 'client cancel'],
    ['signal.reason is the cancel reason', job.resources?.['signal.reason'] === '"user changed their mind"'],
    ['file handle closed', job.fileHandle === 'closed'],
  ];
}

async function timeout(): Promise<Checks> {
  const { id, settled } = await startCall({}, { timeout: timeoutMs });
  log.event(`-> tools/call #${id} (${chunks} chunks, ${chunkDelayMs} ms apart) with timeout ${timeoutMs} ms`);
  const outcome = await settled;
  if ('error' in outcome) log.highlight(`<- ${describeError(outcome.error)}`);
  showCancelSent(id, 'the SDK');
  await showLateReply(id);
  const job = await serverAccount(id);
  return [
    [
      'McpError -32001 "Request timed out"',
      'error' in outcome && /-32001: Request timed out/.test(String(outcome.error)),
    ],
    ['the SDK sent a cancel', cancelsSentFor(id).length === 1],
    ['stopped by that cancel', job.resources?.['stopped by'] === 'client cancel' && job.cancelReason !== undefined],
    ['file handle closed', job.fileHandle === 'closed'],
  ];
}

async function resetOnProgress(): Promise<Checks> {
  let progress = 0;
  const options = { timeout: timeoutMs, resetTimeoutOnProgress: true, onprogress: () => progress++ };
  const { id, settled } = await startCall({}, options);
  log.event(
    `-> tools/call #${id} (${chunks} chunks, ${chunkDelayMs} ms apart: at least ${chunks * chunkDelayMs} ms) ` +
      `with timeout ${timeoutMs} ms, resetTimeoutOnProgress, onprogress`,
  );
  const outcome = await settled;
  if ('result' in outcome) log.ok(`<- result "${textOf(outcome.result)}" after ${progress} progress notifications`);
  else if (expected === 'timed-out') log.highlight(`<- ${describeError(outcome.error)}, with no progress in time`);
  else log.fail(`<- ${describeError(outcome.error)} after ${progress} progress notifications`);
  const job = await serverAccount(id);
  if (expected === 'timed-out')
    return [
      [
        'McpError -32001 "Request timed out"',
        'error' in outcome && /-32001: Request timed out/.test(String(outcome.error)),
      ],
      ["the server stopped on the SDK's cancel", job.state === 'cancelled' && cancelsSentFor(id).length === 1],
    ];
  return [
    ['the call completed', 'result' in outcome && !outcome.result.isError],
    ['progress arrived', progress > 0],
    ['the server completed the job', job.state === 'completed'],
  ];
}

async function maxTotal(): Promise<Checks> {
  // 1. Without resetTimeoutOnProgress, maxTotalTimeout is never looked at.
  const first = await startCall({ chunks: 5 }, { maxTotalTimeout: 1, onprogress: () => {} });
  log.event(`-> tools/call #${first.id} (5 chunks) with maxTotalTimeout 1 ms, onprogress, no resetTimeoutOnProgress`);
  const ignored = await first.settled;
  if ('result' in ignored) log.highlight(`<- result "${textOf(ignored.result)}": maxTotalTimeout was ignored`);
  else log.fail(`<- ${describeError(ignored.error)}`);

  // 2. With it, maxTotalTimeout is checked when progress arrives, and rejects without cancelling.
  const jobChunks = Math.max(chunks, 30);
  const options = {
    timeout: timeoutMs,
    maxTotalTimeout: maxTotalMs,
    resetTimeoutOnProgress: true,
    onprogress: () => {},
  };
  const { id, settled } = await startCall({ chunks: jobChunks }, options);
  log.event(
    `-> tools/call #${id} (${jobChunks} chunks) with timeout ${timeoutMs} ms, maxTotalTimeout ${maxTotalMs} ms, ` +
      'resetTimeoutOnProgress',
  );
  const outcome = await settled;
  if ('error' in outcome) log.highlight(`<- ${describeError(outcome.error)}`);
  const cancelsThen = cancelsSentFor(id).length;
  const then = await jobStatus(id);
  log.highlight(
    `cancels sent for #${id} so far: ${cancelsThen}; the server is still ${then.state} (chunk ${then.chunksDone}/${jobChunks})`,
  );
  log.detail(`waiting: the SDK left #${id}'s ${timeoutMs} ms timer running`);
  await waitFor(`a cancel for #${id}`, () => cancelsSentFor(id).length > 0, { timeoutMs: 10_000 });
  showCancelSent(id, 'that stale timer: the SDK');
  await showLateReply(id);
  const job = await serverAccount(id);
  return [
    ['without resetTimeoutOnProgress the call completed', 'result' in ignored && !ignored.result.isError],
    [
      'rejected with "Maximum total timeout exceeded"',
      'error' in outcome && /Maximum total timeout exceeded/.test(String(outcome.error)),
    ],
    ['no cancel sent when it rejected', cancelsThen === 0],
    ['the handler kept running', then.state === 'running'],
    ['a stale timer cancelled it later', job.state === 'cancelled' && cancelsSentFor(id).length === 1],
  ];
}

async function totalCap(): Promise<Checks> {
  let progress = 0;
  const { id, settled } = await startCall({}, {}, (params) =>
    callToolWithTotalCap(client, params, { totalMs: maxTotalMs, idleMs: timeoutMs, onprogress: () => progress++ }),
  );
  log.event(
    `-> tools/call #${id} (${chunks} chunks) via callToolWithTotalCap: idle timeout ${timeoutMs} ms, total cap ${maxTotalMs} ms`,
  );
  const outcome = await settled;
  const stop = 'error' in outcome && outcome.error instanceof CallStoppedError ? outcome.error.stop : undefined;
  if (stop)
    log.highlight(`<- ${(outcome as { error: Error }).error.message}, after ${progress} progress notifications`);
  else log.fail(`<- ${'error' in outcome ? describeError(outcome.error) : 'a result'}`);
  showCancelSent(id, 'the cap aborted the signal: the SDK');
  await showLateReply(id);
  const job = await serverAccount(id);
  return [
    ['stopped by the total cap', stop?.kind === 'total cap'],
    ['progress kept arriving until then', progress > 0],
    ['one cancel, at once', cancelsSentFor(id).length === 1],
    ['the server stopped on that cancel', job.state === 'cancelled'],
    ['file handle closed', job.fileHandle === 'closed'],
  ];
}

const run: Record<Scenario, { about: string; run: () => Promise<Checks> }> = {
  deadline: { about: 'the server stops the call at its deadline, and answers', run: deadline },
  cancel: { about: 'the client cancels; the server stops and answers -32800', run: cancel },
  timeout: { about: "callTool's timeout passes; the SDK cancels", run: timeout },
  'reset-on-progress': { about: 'progress keeps a call longer than its timeout alive', run: resetOnProgress },
  'max-total': { about: 'maxTotalTimeout in SDK 1.x today (upstream #2695)', run: maxTotal },
  'total-cap': { about: 'a total cap that holds: an AbortController and a timer of its own', run: totalCap },
};

log.event(`connecting to ${url}`);
try {
  await client.connect(transport);
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/06-timeouts/server.ts');
  process.exit(1);
}
exitPlainlyIfServerLost(log, url, 'npx tsx lessons/06-timeouts/server.ts');
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);
const onmessage = transport.onmessage;
transport.onmessage = (message) => {
  received.push(message);
  onmessage?.(message);
};
// Replies that arrive after the SDK gave up on a request end up here; showLateReply prints them.
client.onerror = () => {};

const failed: string[] = [];
for (const scenario of only ? [only] : SCENARIOS) {
  log.event(`== ${scenario}: ${run[scenario].about}`);
  const checks = await run[scenario].run();
  const missed = checks.filter(([, held]) => !held).map(([what]) => what);
  if (missed.length === 0) log.ok(`${scenario}: as expected`);
  else log.fail(`${scenario}: NOT as expected; these did not hold: ${missed.join('; ')}`);
  failed.push(...missed.map((what) => `${scenario}: ${what}`));
}

await transport.terminateSession();
await client.close();
log.detail('session ended (DELETE)');
if (failed.length > 0) {
  log.fail(`${failed.length} expectation(s) not met`);
  process.exitCode = 1;
}
