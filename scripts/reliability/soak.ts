// npm run soak: minutes of call/cancel cycles against a lesson server in its own process, with the
// server's memory, descriptors, sockets and threads read from outside (/proc) every few seconds.
// They must stay flat. Not a test and not in CI; soak.test.ts beside it runs it for a few seconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import chalk from 'chalk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  ErrorCode,
  isJSONRPCRequest,
  McpError,
  type CallToolResult,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { intFlag, parseFlags } from '../../lessons/shared/cli.ts';
import type { JobBook } from '../../lessons/shared/jobs.ts';
import { readProofRecords, startLessonServer } from '../../lessons/shared/processes.ts';
import { createTimeline } from '../../lessons/shared/timeline.ts';
import { deferred, waitFor } from '../../lessons/shared/wait.ts';
import { summarise } from '../bench/harness.ts';
import { judgeTrend, readProcess, type Limit, type ProcessReading, type Trend } from './soak-measure.ts';

readProofRecords(false); // its checks read the wire and the log, not the servers' proof records

const root = join(import.meta.dirname, '../..');

const HELP = `
npm run soak: call/cancel cycles against a lesson server for minutes, its RSS, file descriptors,
TCP connections and threads sampled from outside; they must stay flat.

Usage: npm run soak [-- options]

  --minutes N          how long to run (default: 5)
  --seconds N          how long to run, in seconds, for short runs (instead of --minutes)
  --concurrency N      sessions running cycles at once (default: 4)
  --session-cycles N   cycles per session before it is DELETEd and a new one opened (default: 12)
  --vanish-every N     every Nth session's client vanishes instead: it stops, with no DELETE, as a
                       killed client does (default: 5; 0 for none)
  --session-idle-ms N  the server's MCP_SESSION_IDLE_MS: how long such a session lingers before it
                       expires (default: 10000)
  --every N            seconds between samples (default: 5; 1 for runs under a minute)
  --server FILE        the lesson server (default: lessons/01-cancel-by-id/server.ts); it must offer
                       process_large_file {path, chunks, chunkDelayMs} and get_job_status
  --server-args="..."  extra flags for the server, e.g. --server-args="--on-cancel none" (with the =)
  --out FILE           where the samples go (default: scripts/reliability/results/soak.json)
  -h, --help           show this help

What a leak looks like: --server-args="--on-cancel none" --session-cycles 100000 (lesson 01's
server answers no cancel, so SDK 1.x keeps each cancelled call's stream until its session ends,
and the sessions never end).

Exit code: 0 when every cycle behaved, the server let go of everything once the load stopped, and
the figures stayed flat (runs under 3 minutes are too short to judge a trend); 1 otherwise;
130 when interrupted (the partial report is printed first).
`;

const flags = parseFlags(
  {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string' },
    'session-cycles': { type: 'string' },
    'vanish-every': { type: 'string' },
    'session-idle-ms': { type: 'string' },
    every: { type: 'string' },
    server: { type: 'string' },
    'server-args': { type: 'string' },
    out: { type: 'string' },
  },
  HELP,
);
const durationS =
  flags.seconds !== undefined
    ? intFlag('seconds', flags.seconds, 0, 1, 86_400)
    : intFlag('minutes', flags.minutes, 5, 1, 1440) * 60;
const concurrency = intFlag('concurrency', flags.concurrency, 4, 1, 64);
const sessionCycles = intFlag('session-cycles', flags['session-cycles'], 12, 1);
const vanishEvery = intFlag('vanish-every', flags['vanish-every'], 5, 0);
const sessionIdleMs = intFlag('session-idle-ms', flags['session-idle-ms'], 10_000, 1);
const everyS = intFlag('every', flags.every, durationS < 60 ? 1 : 5, 1, 3600);
const serverFile = resolve(flags.server ?? join(root, 'lessons/01-cancel-by-id/server.ts'));
const serverArgs = flags['server-args']?.split(/\s+/).filter(Boolean) ?? [];
const outFile = resolve(flags.out ?? join(import.meta.dirname, 'results/soak.json'));

/** Every lesson keeps its sample file at <lesson>/data/sample.txt. */
const SAMPLE_FILE = '/data/sample.txt';
/** A call far longer than any cancel lets it run: 1,000 chunks 20 ms apart. */
const LONG_CALL = { path: 'sample.txt', chunks: 1000, chunkDelayMs: 20 };
const SHORT_CALL = { path: 'sample.txt', chunks: 4, chunkDelayMs: 5 };
/** How long a cancelled job may take to stop and let go of its response stream before the cycle counts as failed. */
const SETTLE_MS = 3000;
/** After the load, how long the server has to close every connection: its keep-alive timeout is 5 s. */
const RELEASE_MS = 15_000;

/**
 * How far each figure may rise over the judged stretch (see judgeTrend). Set from flat runs of
 * lesson 01 (2 cores, 4 sessions, 120-160 cycles/s): over each of the 144 stretches of 150 s in two
 * 10-minute runs, and in a 3-minute run, the server's RSS median moved by -20 to +13 MB and its
 * fitted line by -21 to +14 MB (GC and heap sizing, no trend); descriptors by at most 2, TCP
 * connections by at most 1.3, threads not at all. Each limit sits well above that noise and far
 * below a real leak: SDK 1.x holds a socket per cancelled call when the server does not answer the
 * cancel, and this soak cancels thousands of calls a minute. 30 MB over a 3-minute run is ~1.5 KB
 * per cycle; a longer run, judged over a longer stretch with the same limits, is stricter.
 */
const LIMITS: Limit[] = [
  { metric: 'rssMb', label: 'RSS (MB)', maxRise: 30 },
  { metric: 'fds', label: 'file descriptors', maxRise: 4 },
  { metric: 'tcp', label: 'TCP connections', maxRise: 3 },
  { metric: 'threads', label: 'threads', maxRise: 1 },
];
const TREND_RULE = { warmUpS: 30, minJudgedS: 150, minSamples: 12 };

type CycleKind = 'cancel-mid-call' | 'complete' | 'cancel-after-completion' | 'cancel-unknown-id';
/** Each session runs these in turn: half the cycles cancel a running call. */
const CYCLES: CycleKind[] = [
  'cancel-mid-call',
  'complete',
  'cancel-mid-call',
  'cancel-after-completion',
  'cancel-mid-call',
  'cancel-unknown-id',
];

type JobReport = ReturnType<JobBook['report']>;

const counts = {
  'cancel-mid-call': 0,
  complete: 0,
  'cancel-after-completion': 0,
  'cancel-unknown-id': 0,
  /** Sessions DELETEd while a call was still running in them (every other session ends so). */
  'delete-mid-call': 0,
  sessionsOpened: 0,
  sessionsDeleted: 0,
  /** Sessions whose client stopped without a DELETE, and those the server then expired. */
  sessionsVanished: 0,
  sessionsExpired: 0,
  /** The server's -32800 replies to calls the client had already given up on: expected, one per cancel. */
  lateReplies: 0,
  /** Streams this client aborted itself on close(), before it had read that the server ended them. */
  streamsAbortedByClose: 0,
  unexpected: 0,
};
const cyclesDone = () =>
  counts['cancel-mid-call'] + counts.complete + counts['cancel-after-completion'] + counts['cancel-unknown-id'];
const unexpectedErrors: string[] = [];
const cancelToStopMs: number[] = [];

const log = createTimeline('runner');
let stopping = false;
let interrupted = false;
const interruption = deferred<void>();

function unexpected(what: string) {
  if (interrupted) return; // an interrupt can cut a cycle short; that is not the server's fault
  counts.unexpected++;
  if (unexpectedErrors.length < 20) unexpectedErrors.push(what);
  if (unexpectedErrors.length <= 3) log.fail(`unexpected: ${what}`);
}

// Ctrl-C (or a kill) ends the load early but still stops the server and prints what was measured.
// Left to their default, these signals would end this process without its exit hook, and the
// server with it would be left running.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130); // a second one: the exit hook of processes.ts kills the server
    interrupted = true;
    stopping = true;
    interruption.resolve();
    log.warn(`${signal}: finishing the cycles in flight, then the partial report (Ctrl-C again to quit now)`);
  });
}

// ---------------------------------------------------------------------------------------------
// The server, started like every lesson server
// ---------------------------------------------------------------------------------------------

log.event(`starting ${relative(root, serverFile)} ${serverArgs.join(' ')}`.trim());
const serverLinesKept = 200;
const serverProblems: string[] = [];
const server = await startLessonServer(serverFile, serverArgs, {
  env: { MCP_SESSION_IDLE_MS: String(sessionIdleMs) },
  onLine: (raw) => {
    if (/session \S+ expired: no request and no call/.test(raw)) counts.sessionsExpired++;
    // A line the lesson server only prints when something went wrong on its side.
    if (/HTTP error|could not send|Error:|Warning:/.test(raw) && serverProblems.length < 20) serverProblems.push(raw);
  },
});
const pid = server.child.pid!;
const port = Number(new URL(server.url).port);
const readServer = () => readProcess(pid, port, SAMPLE_FILE);
let serverExit: number | null | undefined;
void server.exited.then((code) => {
  serverExit = code;
  if (!stopping) {
    unexpected(`the server exited (code ${code}) during the soak`);
    stopping = true;
    interruption.resolve();
  }
});
log.ok(`server pid ${pid} listening on ${server.url}`);

// ---------------------------------------------------------------------------------------------
// Sessions and cycles: SDK 1.x clients, cancelling by aborting the call's signal
// ---------------------------------------------------------------------------------------------

interface OutgoingCall {
  id: RequestId;
  /** The POST, done once its response headers are back: by then the server has read the request and started its handler. */
  posted: Promise<void>;
}

interface SoakSession {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** The id of the next process_large_file call, captured as it leaves (SDK 1.x has no public API for it). */
  nextCall(): Promise<OutgoingCall>;
  /** Ids of calls the client gave up on for which the server's answer arrived all the same. */
  lateReplies: Set<RequestId>;
  /** Ends the session: DELETE, then close the client. */
  close(): Promise<void>;
  /** Stops this client with no DELETE, as a killed one does: its session is left to the server. */
  vanish(): Promise<void>;
}

const openClients = new Set<Client>();

async function openSession(): Promise<SoakSession> {
  const transport = new StreamableHTTPClientTransport(new URL(server.url));
  let waiting: ReturnType<typeof deferred<OutgoingCall>> | undefined;
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    const sent = send(message, options);
    if (isJSONRPCRequest(message) && message.method === 'tools/call' && message.params?.name === 'process_large_file') {
      waiting?.resolve({ id: message.id, posted: sent });
      waiting = undefined;
    }
    return sent;
  };
  const client = new Client({ name: 'soak', version: '1.0.0' });
  const lateReplies = new Set<RequestId>();
  let closing = false;
  client.onerror = (error) => {
    // Lesson 01's server answers each cancelled call once its handler stopped (-32800), which frees
    // the call's stream; the client has given up on that id already and reports the answer here.
    const late = /^Received a response for an unknown message ID: (.*)$/s.exec(error.message)?.[1];
    const id = late === undefined ? undefined : (JSON.parse(late) as { id?: RequestId }).id;
    if (id !== undefined) {
      lateReplies.add(id);
      counts.lateReplies++;
    } else if (
      closing &&
      (error.message.startsWith('SSE stream disconnected: AbortError') ||
        error.message === 'This operation was aborted')
    ) {
      // close() aborts every fetch of the transport. A stream the server ended on the DELETE but
      // whose end this client had not read yet is reported so, and so is a request still on its way
      // when a vanishing client stops: the client's own doing, no fault.
      counts.streamsAbortedByClose++;
    } else unexpected(`client onerror: ${error.message}`);
  };
  await client.connect(transport);
  openClients.add(client);
  counts.sessionsOpened++;
  return {
    client,
    transport,
    nextCall() {
      waiting = deferred<OutgoingCall>();
      return waiting.promise;
    },
    lateReplies,
    async close() {
      await transport.terminateSession();
      closing = true;
      await client.close();
      openClients.delete(client);
      counts.sessionsDeleted++;
    },
    async vanish() {
      closing = true;
      await client.close();
      openClients.delete(client);
      counts.sessionsVanished++;
    },
  };
}

async function jobStatus(session: SoakSession, id: RequestId): Promise<JobReport> {
  const result = await session.client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
  return result.structuredContent as JobReport;
}

function expectRejection(call: Promise<unknown>, code: ErrorCode, what: string): Promise<void> {
  return call.then(
    () => {
      throw new Error(`${what}: the call completed`);
    },
    (error: unknown) => {
      if (!(error instanceof McpError && error.code === code)) throw error;
    },
  );
}

const structured = (result: CallToolResult) => result.structuredContent as { status?: string } | undefined;

/**
 * Starts a long process_large_file call and returns once the server has it: a cancel sent earlier
 * could overtake the call on another connection and name a request the server has not seen yet.
 */
async function startLongCall(session: SoakSession, signal?: AbortSignal) {
  const leaving = session.nextCall();
  const call = session.client.callTool({ name: 'process_large_file', arguments: LONG_CALL }, CallToolResultSchema, {
    signal,
    timeout: 600_000,
  });
  // If the call fails before it is sent, its error comes out of the race.
  const outgoing = await Promise.race([
    leaving,
    call.then(() => Promise.reject(new Error('the call completed before it was sent'))),
  ]);
  await outgoing.posted;
  return { id: outgoing.id, call };
}

async function cancelMidCall(session: SoakSession) {
  const controller = new AbortController();
  const { id, call } = await startLongCall(session, controller.signal);
  await sleep(Math.random() * 30); // somewhere in the first chunks: before, during or after a read
  controller.abort('soak: cancel mid-call');
  // SDK 1.x rejects an aborted call with -32001 (RequestTimeout) and the abort reason as message.
  await expectRejection(call, ErrorCode.RequestTimeout, `#${id} cancelled mid-call`);
  const job = await waitFor(
    `job #${id} to stop and its response stream to close`,
    async () => {
      const report = await jobStatus(session, id);
      return report.state !== 'running' && report.responseStream !== 'open' && report;
    },
    { timeoutMs: SETTLE_MS, intervalMs: 20 },
  );
  if (job.state !== 'cancelled' || job.fileHandle !== 'closed')
    throw new Error(`#${id} cancelled mid-call: server reports ${job.state}, file handle ${job.fileHandle}`);
  if (job.cancelToStopMs !== undefined) cancelToStopMs.push(job.cancelToStopMs);
  // It came on the call's own stream, which the server closed after it: it may still be on its way.
  await waitFor(`the answer to cancelled call #${id}`, () => session.lateReplies.delete(id), {
    timeoutMs: SETTLE_MS,
    intervalMs: 5,
  });
}

async function complete(session: SoakSession) {
  const result = await session.client.callTool({ name: 'process_large_file', arguments: SHORT_CALL });
  if (structured(result as CallToolResult)?.status !== 'completed')
    throw new Error(`a call left to run did not complete: ${JSON.stringify(result)}`);
}

async function cancelAfterCompletion(session: SoakSession) {
  const leaving = session.nextCall();
  const result = await session.client.callTool({ name: 'process_large_file', arguments: SHORT_CALL });
  const { id } = await leaving;
  if (structured(result as CallToolResult)?.status !== 'completed') throw new Error(`#${id} did not complete`);
  // Aborting a finished call's signal sends nothing in SDK 1.x, so this late cancel goes by hand.
  await session.client.notification({
    method: 'notifications/cancelled',
    params: { requestId: id, reason: 'soak: cancel after completion' },
  });
  const job = await jobStatus(session, id);
  if (job.state !== 'completed') throw new Error(`#${id} cancelled after completion: server reports ${job.state}`);
}

let unknownIds = 0;
async function cancelUnknownId(session: SoakSession) {
  await session.client.notification({
    method: 'notifications/cancelled',
    params: { requestId: 1_000_000_000 + unknownIds++, reason: 'soak: names no request' },
  });
  await session.client.ping(); // the session still answers
}

const RUN: Record<CycleKind, (session: SoakSession) => Promise<void>> = {
  'cancel-mid-call': cancelMidCall,
  complete,
  'cancel-after-completion': cancelAfterCompletion,
  'cancel-unknown-id': cancelUnknownId,
};

/** Ends the session with a long call still running: the server aborts it, and the client's call rejects. */
async function deleteMidCall(session: SoakSession) {
  const { call } = await startLongCall(session);
  await session.close();
  await expectRejection(call, ErrorCode.ConnectionClosed, 'a call running when its session was deleted');
  counts['delete-mid-call']++;
}

async function worker(index: number) {
  // The workers start at different kinds (the first four start at each kind's first place in the
  // mix), so even a run in which each worker gets one cycle has every kind.
  const firstOfEach = [...new Set(CYCLES)].map((kind) => CYCLES.indexOf(kind));
  let turn = firstOfEach[index % firstOfEach.length]! + Math.floor(index / firstOfEach.length);
  let sessions = 0;
  while (!stopping) {
    let session: SoakSession;
    try {
      session = await openSession();
    } catch (error) {
      unexpected(`opening a session: ${(error as Error).message}`);
      await sleep(100);
      continue;
    }
    // A worker's first session runs at least one cycle (and the odd workers' first one ends with a
    // call running, below), so a run shorter than a loaded machine takes to open sessions still has
    // every kind of cycle: the workers start at different kinds.
    const first = sessions === 0;
    for (let i = 0; i < sessionCycles && (!stopping || (first && i === 0)); i++) {
      const kind = CYCLES[turn++ % CYCLES.length]!;
      try {
        await RUN[kind](session);
        counts[kind]++;
      } catch (error) {
        unexpected(`${kind}: ${(error as Error).message}`);
      }
    }
    try {
      // Every other session ends with a call running, from the odd workers' first session on.
      const n = sessions++;
      if (vanishEvery > 0 && (n + index + 1) % vanishEvery === 0 && !first) await session.vanish();
      else if ((n + index) % 2 === 1 && (!stopping || first)) await deleteMidCall(session);
      else await session.close();
    } catch (error) {
      unexpected(`ending a session: ${(error as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sampling and the table
// ---------------------------------------------------------------------------------------------

interface Sample {
  /** Seconds since the load started (0 for the idle reading just before it). */
  t: number;
  at: string;
  server: ProcessReading;
  client: {
    cycles: number;
    cyclesPerSecond: number;
    cancelledMidCall: number;
    completed: number;
    sessions: number;
    unexpected: number;
    /** This process's own RSS: a client that leaked would show here. */
    rssMb: number;
  };
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

const COLUMNS: [string, number][] = [
  ['t', 7],
  ['RSS MB', 7],
  ['fds', 5],
  ['TCP', 4],
  ['threads', 7],
  ['sample.txt', 10],
  ['cycles', 7],
  ['/s', 6],
  ['cancelled', 9],
  ['completed', 9],
  ['sessions', 8],
  ['unexpected', 10],
];
const cells = (values: (string | number)[]) => values.map((v, i) => String(v).padStart(COLUMNS[i]![1])).join(' ');

function printSample(sample: Sample, label?: string) {
  const { server: s, client: c } = sample;
  const row = cells([
    label ?? `${Math.round(sample.t)} s`,
    s.rssMb.toFixed(1),
    s.fds,
    s.tcp,
    s.threads,
    s.sampleFileFds,
    c.cycles,
    label ? '-' : c.cyclesPerSecond.toFixed(0),
    c.cancelledMidCall,
    c.completed,
    c.sessions,
    c.unexpected,
  ]);
  if (c.unexpected > 0) log.fail(row);
  else if (label) log.detail(row);
  else log.event(row);
}

let loadStarted = performance.now();
let lastSample = { at: loadStarted, cycles: 0 };

function takeSample(): Sample | undefined {
  const reading = readServer();
  if (!reading) return undefined;
  const now = performance.now();
  const cycles = cyclesDone();
  const sample: Sample = {
    t: round((now - loadStarted) / 1000),
    at: new Date().toISOString(),
    server: reading,
    client: {
      cycles,
      cyclesPerSecond: now > lastSample.at ? round(((cycles - lastSample.cycles) * 1000) / (now - lastSample.at)) : 0,
      cancelledMidCall: counts['cancel-mid-call'],
      completed: counts.complete,
      sessions: counts.sessionsOpened,
      unexpected: counts.unexpected,
      rssMb: round(process.memoryUsage.rss() / 1024 / 1024),
    },
  };
  lastSample = { at: now, cycles };
  return sample;
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

log.event(
  `${durationS} s of cycles, ${concurrency} sessions at a time, ${sessionCycles} cycles each, a sample every ${everyS} s`,
);
log.detail(chalk.dim(cells(COLUMNS.map(([name]) => name))));
const idle = takeSample();
if (!idle) throw new Error(`cannot read /proc/${pid}: the soak needs Linux and a running server`);
printSample(idle, 'idle');

loadStarted = performance.now();
lastSample = { at: loadStarted, cycles: 0 };
const workers = Array.from({ length: concurrency }, (_, i) => worker(i));
const samples: Sample[] = [];
const deadline = loadStarted + durationS * 1000;
while (!stopping) {
  const nextAt = Math.min(deadline, loadStarted + (samples.length + 1) * everyS * 1000);
  await Promise.race([sleep(Math.max(0, nextAt - performance.now())), interruption.promise]);
  if (nextAt >= deadline) stopping = true; // not performance.now(): a timer may fire a fraction of a ms early
  const sample = takeSample();
  if (sample) {
    samples.push(sample);
    printSample(sample);
  }
  // startTs keeps every line the server prints; over a soak that would be this process growing.
  server.lines.splice(0, Math.max(0, server.lines.length - serverLinesKept));
}
const loadSeconds = round((performance.now() - loadStarted) / 1000);
log.event('load stopped: waiting for the cycles in flight');
if (interrupted || serverExit !== undefined) {
  // The server may be gone (a Ctrl-C in a terminal reaches it too), and SDK 1.x leaves a call whose
  // stream ended unanswered waiting for its own timeout. Closing the clients ends those calls now.
  for (const client of openClients) void client.close();
}
const finished = await Promise.race([Promise.all(workers).then(() => true), sleep(SETTLE_MS * 2, false)]);
if (!finished) unexpected(`cycles still running ${(SETTLE_MS * 2) / 1000} s after the load stopped`);

// Once the load has stopped the server must let go of everything: no connection (idle keep-alive
// sockets close within its 5 s timeout), no handle on sample.txt, no more descriptors than idle.
let after: Sample | undefined;
let releasedInS: number | undefined;
if (serverExit === undefined && !interrupted) {
  const loadStopped = performance.now();
  log.event(`waiting up to ${RELEASE_MS / 1000} s for the server to close every connection`);
  const done = await waitFor(
    'the server to let go',
    () => {
      const reading = readServer();
      if (interrupted || !reading) return 'gone';
      return reading.tcp === 0 && reading.sampleFileFds === 0 && reading.fds <= idle.server.fds && 'released';
    },
    { timeoutMs: RELEASE_MS, intervalMs: 100 },
  ).catch(() => 'held');
  if (done === 'released') releasedInS = round((performance.now() - loadStopped) / 1000);
  // The vanished clients' sessions: the server must expire every one of them, and in time.
  const expiredAll = await waitFor(
    'every vanished session to expire',
    () => counts.sessionsExpired >= counts.sessionsVanished,
    {
      timeoutMs: sessionIdleMs + RELEASE_MS,
      intervalMs: 100,
    },
  ).catch(() => false);
  if (!expiredAll)
    unexpected(
      `${counts.sessionsVanished} sessions vanished, ${counts.sessionsExpired} expired ${(sessionIdleMs + RELEASE_MS) / 1000} s on`,
    );
  after = takeSample();
  if (after) printSample(after, 'after');
}

const trend: Trend = judgeTrend(samples, LIMITS, TREND_RULE);
const released =
  after !== undefined &&
  releasedInS !== undefined &&
  after.server.tcp === 0 &&
  after.server.sampleFileFds === 0 &&
  after.server.fds <= idle.server.fds;
const behaved = counts.unexpected === 0 && serverProblems.length === 0;
const passed = behaved && released && (!trend.judged || trend.flat);

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

const cycles = cyclesDone();
const cyclesPerSecond = loadSeconds > 0 ? round(cycles / loadSeconds) : 0;
const latency = cancelToStopMs.length > 0 ? summarise(cancelToStopMs) : undefined;
console.log();
log.event(
  `${cycles} cycles in ${loadSeconds} s (${cyclesPerSecond}/s): ` +
    `${counts['cancel-mid-call']} cancelled mid-call, ${counts.complete} completed, ` +
    `${counts['cancel-after-completion']} cancelled after completion, ${counts['cancel-unknown-id']} cancels of unknown ids; ` +
    `${counts.sessionsOpened} sessions, ${counts['delete-mid-call']} of them DELETEd with a call running; ` +
    `${counts.lateReplies} late answers to cancelled calls, ${counts.streamsAbortedByClose} streams aborted by close(); ` +
    `${counts.sessionsVanished} clients vanished without a DELETE, ${counts.sessionsExpired} of their sessions expired`,
);
if (latency)
  log.event(`cancel arrived → handler stopped (server's record): median ${latency.median} ms, max ${latency.max} ms`);
const middle = samples[Math.floor((samples.length - 1) / 2)];
for (const [label, sample] of [
  ['idle', idle],
  ['first', samples[0]],
  ['middle', middle],
  ['last', samples.at(-1)],
  ['after', after],
] as const) {
  if (sample)
    log.detail(
      `${label.padEnd(6)} t=${sample.t} s: RSS ${sample.server.rssMb} MB, ${sample.server.fds} fds, ` +
        `${sample.server.tcp} TCP, ${sample.server.threads} threads; client RSS ${sample.client.rssMb} MB`,
    );
}

if (behaved) log.ok(`cycles: every one behaved`);
else {
  log.fail(`cycles: ${counts.unexpected} unexpected errors, ${serverProblems.length} problem lines from the server`);
  for (const line of [...unexpectedErrors.slice(0, 5), ...serverProblems.slice(0, 5)]) log.detail(`  ${line}`);
}
if (interrupted) log.warn('release: not checked (interrupted)');
else if (released)
  log.ok(`release: no connection, no descriptor on sample.txt, fds back to idle, ${releasedInS} s after the load`);
else if (after)
  log.fail(
    `release: ${RELEASE_MS / 1000} s after the load the server still held ${after.server.tcp} connections, ` +
      `${after.server.sampleFileFds} descriptors on sample.txt, ${after.server.fds} fds (idle: ${idle.server.fds})`,
  );
else log.fail(`release: the server had exited (code ${serverExit})`);

const ruleText =
  `leaving out the first ${TREND_RULE.warmUpS} s, the median of the last third of the samples may exceed the ` +
  `first third's by at most the limit, and so may the rise of the least-squares line over the judged stretch`;
if (!trend.judged) log.warn(`trend: not judged (${trend.why})`);
else {
  log.detail(`trend rule: ${ruleText}`);
  for (const m of trend.metrics) {
    const line =
      `${m.label.padEnd(17)} ${String(round(m.firstThirdMedian)).padStart(7)} → ${String(round(m.lastThirdMedian)).padStart(7)}` +
      `  median rise ${round(m.rise)}, fitted rise ${round(m.fittedRise)} (slope ${round(m.slopePerMinute, 2)}/min);` +
      ` limit ${m.maxRise}`;
    if (m.flat) log.ok(`  flat     ${line}`);
    else log.fail(`  GROWING  ${line}`);
  }
}

const exitCode = interrupted ? 130 : passed ? 0 : 1;
const verdict = trend.judged
  ? trend.flat
    ? 'flat'
    : `NOT flat (${trend.metrics
        .filter((m) => !m.flat)
        .map((m) => m.label)
        .join(', ')} grew)`
  : 'trend not judged (run too short)';
const summary = `verdict: ${verdict}; ${behaved ? 'every cycle behaved' : 'some cycles did not behave'}; ${
  interrupted ? 'interrupted' : released ? 'everything released' : 'NOT released'
} → exit ${exitCode}`;
if (exitCode === 0) log.ok(summary);
else log.fail(summary);

mkdirSync(dirname(outFile), { recursive: true });
const results = {
  when: new Date().toISOString(),
  machine: { cores: cpus().length, node: process.version, platform: `${process.platform} ${process.arch}` },
  options: {
    durationS,
    concurrency,
    sessionCycles,
    vanishEvery,
    sessionIdleMs,
    everyS,
    server: relative(root, serverFile),
    serverArgs,
  },
  calls: { long: LONG_CALL, short: SHORT_CALL, mix: CYCLES },
  serverPid: pid,
  loadSeconds,
  counts: { cycles, ...counts },
  cyclesPerSecond,
  cancelToStopMs: latency,
  unexpectedErrors,
  serverProblems,
  idle,
  samples,
  after,
  releasedInS,
  rule: { text: ruleText, ...TREND_RULE, limits: LIMITS },
  trend,
  verdict: { summary, behaved, released, interrupted, exitCode },
};
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
log.detail(`wrote ${relative(process.cwd(), outFile)}`);

await server.stop();
process.exit(exitCode);
