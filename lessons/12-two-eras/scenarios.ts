// Lesson 12: four situations, each in both eras, with the same SDK 2.x client.
//
// One client (`versionNegotiation: { mode: 'auto' }`) meets two servers: lesson 01's (SDK 1.x,
// protocol 2025-11-25) and this lesson's (SDK 2.x, protocol 2026-07-28). The client code does not
// change; only the era it negotiates does. Each scenario records what the client put on the wire,
// asks the server (get_job_status, /proc) what the handler did and released, and compares that
// with what SCENARIOS says each era does.
//
//   npx tsx lessons/12-two-eras/scenarios.ts     starts both servers, runs all eight, prints the table
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
//       https://modelcontextprotocol.io/specification/2026-07-28/basic/patterns/cancellation
//       https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http#cancellation
import { join, resolve } from 'node:path';
import { Client, SdkError, StreamableHTTPClientTransport, type RequestId } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { jobReportSchema } from '../shared/jobs.ts';
import { startLessonServer } from '../shared/processes.ts';
import type { ProofRecord } from '../shared/proof.ts';
import { canSeeFileDescriptors, openDescriptorsTo } from '../shared/testing.ts';
import { createTimeline, type Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

export const ERAS = ['2025-11-25', '2026-07-28'] as const;
export type Era = (typeof ERAS)[number];

/** The server that speaks each era, and the file its process_large_file reads. */
export const ERA_SERVERS: Record<Era, { file: string; args: string[]; sample: string; title: string }> = {
  '2025-11-25': {
    file: join(import.meta.dirname, '../01-cancel-by-id/server.ts'),
    args: ['--on-cancel', 'error'], // lesson 01's default: it answers a cancelled call with -32800
    sample: '01-cancel-by-id/data/sample.txt',
    title: '2025-11-25: lesson 01 server, SDK 1.x',
  },
  '2026-07-28': {
    file: join(import.meta.dirname, 'server.ts'),
    args: [],
    sample: '12-two-eras/data/sample.txt',
    title: '2026-07-28: lesson 12 server, SDK 2.x',
  },
};

/** Every call reads sample.txt in 20 chunks, 50 ms apart: about a second if nothing stops it. */
const TOOL = 'process_large_file';
const WORK = { path: 'sample.txt', chunks: 20, chunkDelayMs: 50 };

// --- The two eras, side by side ----------------------------------------------------------------------
// What each scenario must show, fact by fact: one value for both eras, or one per era.
// "chunk N/" stands for whichever chunk the job had reached.

export interface Scenario {
  name: string;
  does: string;
  run: (client: EraClient) => Promise<Facts>;
  expected: Record<string, string | Record<Era, string>>;
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'cancel mid-run',
    does: 'the caller aborts the call after its first chunk',
    run: cancelMidRun,
    expected: {
      'client sent': {
        '2025-11-25': 'notifications/cancelled for the call',
        '2026-07-28': "nothing; it closed the call's POST",
      },
      job: 'stopped at chunk N/20, within a chunk',
      'file, response stream': 'closed, closed',
      'server replied': { '2025-11-25': 'error -32800', '2026-07-28': 'nothing' },
      caller: 'rejected, SdkError REQUEST_TIMEOUT',
    },
  },
  {
    name: 'cancel after completion',
    does: 'the call completes, then the caller aborts its signal',
    run: cancelAfterCompletion,
    expected: {
      'client sent': 'nothing after the result',
      job: 'completed 20/20, no cancel recorded',
      'file, response stream': 'closed, closed',
      'server replied': 'result',
      caller: 'got the result',
      'a late cancel by hand': 'changed nothing',
    },
  },
  {
    name: 'disconnect mid-run',
    does: "the call's connection drops after its first chunk; nobody cancels",
    run: disconnectMidRun,
    expected: {
      'client sent': 'nothing',
      job: {
        '2025-11-25': 'completed 20/20, no cancel recorded',
        '2026-07-28': 'stopped at chunk N/20, within a chunk',
      },
      'file, response stream': 'closed, closed',
      'server replied': { '2025-11-25': 'result, with no stream left to carry it', '2026-07-28': 'nothing' },
      caller: { '2025-11-25': 'still waiting after the job ended', '2026-07-28': "rejected with the fetch's error" },
    },
  },
  {
    name: 'three calls, middle cancelled',
    does: 'three calls run at once; the caller aborts the second',
    run: threeCallsMiddleCancelled,
    expected: {
      'client sent': {
        '2025-11-25': 'notifications/cancelled for call 2',
        '2026-07-28': "nothing; it closed call 2's POST",
      },
      'calls 1 and 3': 'completed 20/20, replied result',
      'call 2': 'stopped at chunk N/20, within a chunk',
      'call 2 replied': { '2025-11-25': 'error -32800', '2026-07-28': 'nothing' },
      'open sample.txt': '3 running, 2 after the cancel, 0 at the end',
      callers: '1 and 3 got results, 2 rejected',
    },
  },
];

async function cancelMidRun(client: EraClient): Promise<Facts> {
  const call = client.startCall();
  await client.waitForJob(call, (job) => job.chunksDone >= 1);
  call.abort('the user cancelled');
  const job = await client.waitForJob(call, finished);
  return {
    'client sent': await client.sentAfter(call),
    job: jobFact(job),
    'file, response stream': await releasedFact(client, job),
    'server replied': job.reply!,
    caller: callerFact(call),
  };
}

async function cancelAfterCompletion(client: EraClient): Promise<Facts> {
  const call = client.startCall();
  await call.settled;
  call.abort('too late'); // the SDK let go of this request when its result arrived
  const job = await client.waitForJob(call, finished);
  const sent = await client.sentAfter(call);
  const facts: Facts = {
    'client sent': sent === 'nothing' ? 'nothing after the result' : sent,
    job: jobFact(job),
    'file, response stream': await releasedFact(client, job),
    'server replied': job.reply!,
    caller: callerFact(call),
  };
  // Both eras ask a receiver to ignore a cancel for a request that already finished.
  await client.sendCancel(call, 'late, sent by hand');
  const after = await client.waitForJob(call, finished);
  const unchanged = jobFact(after) === facts.job && after.reply === job.reply;
  facts['a late cancel by hand'] = unchanged ? 'changed nothing' : `changed the job: ${jobFact(after)}`;
  return facts;
}

async function disconnectMidRun(client: EraClient): Promise<Facts> {
  const call = client.startCall();
  await client.waitForJob(call, (job) => job.chunksDone >= 1);
  await call.dropConnection();
  const job = await client.waitForJob(call, finished);
  const lost = job.reply === 'result' && call.state().status === 'pending';
  const facts: Facts = {
    'client sent': await client.sentAfter(call),
    job: jobFact(job),
    'file, response stream': await releasedFact(client, job),
    'server replied': lost ? 'result, with no stream left to carry it' : job.reply!,
    caller: callerFact(call),
  };
  // Nothing will ever answer a call still waiting: end it, as its timeout would.
  call.abort('the scenario is over');
  await call.settled;
  return facts;
}

async function threeCallsMiddleCancelled(client: EraClient): Promise<Facts> {
  const [first, middle, last] = [client.startCall(), client.startCall(), client.startCall()];
  for (const call of [first, middle, last]) await client.waitForJob(call, (job) => job.chunksDone >= 1);
  const whileRunning = client.openSampleFiles();

  middle.abort('the user cancelled the second one');
  const cancelled = await client.waitForJob(middle, finished);
  const afterCancel = client.openSampleFiles();

  const others = [await client.waitForJob(first, finished), await client.waitForJob(last, finished)];
  await client.waitForFileClosed();
  const atEnd = client.openSampleFiles();

  const [one, three] = others.map((job) => `${job.state} ${job.chunksDone}/${job.chunksTotal}, replied ${job.reply}`);
  const callers = [first, middle, last].map((call) => call.state().status);
  return {
    'client sent': await client.sentAfter(middle, 'call 2'),
    'calls 1 and 3': one === three ? one! : `${one} / ${three}`,
    'call 2': jobFact(cancelled),
    'call 2 replied': cancelled.reply!,
    'open sample.txt': canSeeFileDescriptors
      ? `${whileRunning} running, ${afterCancel} after the cancel, ${atEnd} at the end`
      : UNSEEN,
    callers: callers.join() === 'resolved,rejected,resolved' ? '1 and 3 got results, 2 rejected' : callers.join(', '),
  };
}

// --- Facts, in words that read the same in both eras --------------------------------------------------

/** What a scenario observed, one short fact per name. */
export type Facts = Record<string, string>;

export type JobReport = z.infer<typeof JobReport>;
const JobReport = z.object(jobReportSchema);

/** The handler is done: it stopped or completed, let go of its file, and what it replied is known. */
const finished = (job: JobReport) => job.state !== 'running' && job.fileHandle !== 'open' && job.reply !== undefined;

function jobFact(job: JobReport): string {
  const progress = `${job.chunksDone}/${job.chunksTotal}`;
  if (job.state === 'completed') return `completed ${progress}, ${job.cancelReason ? 'a' : 'no'} cancel recorded`;
  if (job.state !== 'cancelled') return `${job.state} at chunk ${progress}`;
  if (job.chunksDoneWhenCancelArrived === undefined) return `stopped at chunk ${progress}, no cancel recorded`;
  const late = job.chunksDone - job.chunksDoneWhenCancelArrived;
  return `stopped at chunk ${progress}, ${late <= 1 ? 'within a chunk' : `${late} chunks after the cancel`}`;
}

/** The server's word for its file handle and response stream, once /proc shows it holds no descriptor to the file. */
async function releasedFact(client: EraClient, job: JobReport): Promise<string> {
  await client.waitForFileClosed();
  return `${job.fileHandle}, ${job.responseStream}`;
}

function callerFact(call: Call): string {
  const state = call.state();
  if (state.status === 'pending') return 'still waiting after the job ended';
  if (state.status === 'resolved') return 'got the result';
  if (state.error === call.dropReason) return "rejected with the fetch's error";
  if (state.error instanceof SdkError) return `rejected, SdkError ${state.error.code}`;
  return `rejected: ${String(state.error)}`;
}

// --- Running a scenario -------------------------------------------------------------------------------

export interface Outcome {
  scenario: Scenario;
  era: Era;
  facts: Facts;
  /** Each fact that differs from what the scenario expects, as `name: expected "X", saw "Y"`. */
  mismatches: string[];
  /** The calls the scenario made, in order. */
  calls: Call[];
}

/** Chunk numbers change from run to run; everything else in a fact must match exactly. */
export const normaliseFact = (fact: string) => fact.replace(/chunk \d+\//g, 'chunk N/');

/** A fact this system cannot observe (descriptor counts need Linux's /proc): shown, not counted as a mismatch. */
export const UNSEEN = 'not seen: no /proc here';

export function expectedFacts(scenario: Scenario, era: Era): Facts {
  const pick = (value: string | Record<Era, string>) => (typeof value === 'string' ? value : value[era]);
  return Object.fromEntries(Object.entries(scenario.expected).map(([name, value]) => [name, pick(value)]));
}

export async function runScenario(client: EraClient, scenario: Scenario): Promise<Outcome> {
  const firstCall = client.calls.length;
  const facts = await scenario.run(client).catch((error: unknown): Facts => ({ error: String(error) }));
  const expected = expectedFacts(scenario, client.era);
  const mismatches = [...new Set([...Object.keys(expected), ...Object.keys(facts)])]
    .filter((name) => facts[name] !== UNSEEN && normaliseFact(facts[name] ?? '(none)') !== expected[name])
    .map((name) => `${name}: expected "${expected[name] ?? '(none)'}", saw "${facts[name] ?? '(none)'}"`);
  return { scenario, era: client.era, facts, mismatches, calls: client.calls.slice(firstCall) };
}

// --- The client: one SDK 2.x Client per era, and what it puts on the wire -------------------------------

interface SentMessage {
  id?: RequestId;
  method?: string;
  params?: { name?: string; requestId?: RequestId; reason?: string };
}

/** One HTTP request the client made. */
export interface Sent {
  http: string;
  message?: SentMessage;
  lastEventId: string | null;
  /** The HTTP status of the response, once it came. */
  status?: number;
  /** The signal the SDK gave fetch: aborted once the client itself closed this request. */
  signal?: AbortSignal;
  /** Cuts this one exchange, as a network failure would: the client did not ask for it. */
  drop(reason: Error): void;
}

type Settled = { status: 'pending' } | { status: 'resolved' } | { status: 'rejected'; error: unknown };

export interface Call {
  /** The JSON-RPC id, as it left on the wire. */
  id: Promise<RequestId>;
  /** Aborts the call's signal: the one way an SDK 2.x caller cancels, in either era. */
  abort(reason: string): void;
  /** Cuts the HTTP exchange carrying the call. */
  dropConnection(): Promise<void>;
  dropReason: Error;
  state(): Settled;
  /** Resolves once the call resolved or rejected (never rejects). */
  settled: Promise<void>;
}

export interface EraClient {
  era: Era;
  client: Client;
  /** Every HTTP request this client made, in order. */
  sent: Sent[];
  /** Every error the SDK reported to `client.onerror`. */
  errors: string[];
  calls: Call[];
  /** Calls process_large_file with a signal of its own. */
  startCall(): Call;
  /** Polls get_job_status for the call until `until` holds, and returns that report. */
  waitForJob(call: Call, until: (job: JobReport) => boolean): Promise<JobReport>;
  /** What the client put on the wire after the call, other than this suite's own tools/call requests. */
  sentAfter(call: Call, label?: string): Promise<string>;
  /** A notifications/cancelled sent by hand, the way a 2025-era client cancels. */
  sendCancel(call: Call, reason: string): Promise<void>;
  /** How many descriptors the server process holds open to its sample.txt, read from /proc (NaN without it). */
  openSampleFiles(): number;
  waitForFileClosed(): Promise<void>;
  close(): Promise<void>;
}

export async function connectEraClient(era: Era, url: string, serverPid: number): Promise<EraClient> {
  const sent: Sent[] = [];
  const errors: string[] = [];
  const calls: Call[] = [];
  const waitingForIds: ((id: RequestId) => void)[] = []; // calls in the order they were made

  // Every request the SDK makes goes through this fetch: it records the message, keeps the signal
  // the SDK passed (aborted when the SDK closes the request itself: the 2026 cancel), and lets a
  // scenario cut one exchange.
  const recordingFetch: typeof fetch = async (input, init = {}) => {
    const network = new AbortController();
    const message = typeof init.body === 'string' ? (JSON.parse(init.body) as SentMessage) : undefined;
    const record: Sent = {
      http: init.method ?? 'GET',
      message,
      lastEventId: new Headers(init.headers).get('last-event-id'),
      signal: init.signal ?? undefined,
      drop: (reason) => network.abort(reason),
    };
    sent.push(record);
    if (message?.method === 'tools/call' && message.params?.name === TOOL) waitingForIds.shift()?.(message.id!);
    const signal = init.signal ? AbortSignal.any([init.signal, network.signal]) : network.signal;
    const response = await fetch(input, { ...init, signal });
    record.status = response.status;
    return response;
  };

  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch });
  const client = new Client(
    { name: 'lesson-12-scenarios', version: '1.0.0' },
    { versionNegotiation: { mode: 'auto' } },
  );
  client.onerror = (error) => errors.push(error.message);
  await client.connect(transport);
  const negotiated = client.getNegotiatedProtocolVersion();
  if (negotiated !== era) throw new Error(`${url} negotiated protocol ${negotiated}, not ${era}`);

  const postOf = (id: RequestId) => sent.find((s) => s.message?.method === 'tools/call' && s.message.id === id);

  function startCall(): Call {
    const controller = new AbortController();
    const id = new Promise<RequestId>((resolve) => waitingForIds.push(resolve));
    let state: Settled = { status: 'pending' };
    const settled = client.callTool({ name: TOOL, arguments: WORK }, { signal: controller.signal }).then(
      () => void (state = { status: 'resolved' }),
      (error: unknown) => void (state = { status: 'rejected', error }),
    );
    const dropReason = new Error('connection lost');
    const call: Call = {
      id,
      abort: (reason) => controller.abort(reason),
      dropConnection: async () => postOf(await id)?.drop(dropReason),
      dropReason,
      state: () => state,
      settled,
    };
    calls.push(call);
    return call;
  }

  async function jobStatus(id: RequestId) {
    const result = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
    return result.isError ? undefined : JobReport.parse(result.structuredContent); // an error: not started yet
  }

  async function sentAfter(call: Call, label = 'the call') {
    const id = await call.id;
    const post = postOf(id)!;
    const later = sent.slice(sent.indexOf(post) + 1).filter((s) => s.message?.method !== 'tools/call');
    const cancels = later.filter((s) => s.message?.method === 'notifications/cancelled');
    const others = later.filter((s) => !cancels.includes(s));
    if (others.length > 0) return `unexpected: ${others.map(describeSent).join(', ')}`;
    const closed = post.signal?.aborted ? `; it closed ${label === 'the call' ? "the call's" : `${label}'s`} POST` : '';
    if (cancels.length === 0) return `nothing${closed}`;
    const named = cancels.map((s) => s.message?.params?.requestId);
    const what =
      named.length === 1 && named[0] === id
        ? `notifications/cancelled for ${label}`
        : `cancels for ${JSON.stringify(named)}`;
    return `${what}${closed}`;
  }

  const openSampleFiles = () => (canSeeFileDescriptors ? openDescriptorsTo(serverPid, ERA_SERVERS[era].sample) : NaN);

  return {
    era,
    client,
    sent,
    errors,
    calls,
    startCall,
    async waitForJob(call, until) {
      const id = await call.id;
      return waitFor(`job #${String(id)} on the ${era} server`, async () => {
        const job = await jobStatus(id);
        return job && until(job) && job;
      });
    },
    sentAfter,
    async sendCancel(call, reason) {
      await client.notification({ method: 'notifications/cancelled', params: { requestId: await call.id, reason } });
    },
    openSampleFiles,
    async waitForFileClosed() {
      if (canSeeFileDescriptors) await waitFor(`the ${era} server to close sample.txt`, () => openSampleFiles() === 0);
    },
    async close() {
      if (client.getProtocolEra() === 'legacy') await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

function describeSent(sent: Sent): string {
  if (sent.http === 'GET') return sent.lastEventId ? `GET resuming after event ${sent.lastEventId}` : 'GET';
  return `${sent.http} ${sent.message?.method ?? ''}`.trim();
}

// --- Both servers, and the table -------------------------------------------------------------------------

export interface EraServers {
  clients: Record<Era, EraClient>;
  /** Each server's output so far, line by line. */
  lines(era: Era): string[];
  /** The records each server has handed the test so far (proof.ts): its jobs, cancels, exchanges. */
  proof(era: Era): ProofRecord[];
  /** Closes both clients and stops both servers. */
  stop(): Promise<void>;
}

/** Starts both lesson servers on free ports and connects one client to each. */
export async function startEraServers(): Promise<EraServers> {
  const starting = ERAS.map((era) => startLessonServer(ERA_SERVERS[era].file, ERA_SERVERS[era].args));
  const results = await Promise.allSettled(starting);
  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopServers = async () => void (await Promise.all(started.map((server) => server.stop())));
  try {
    for (const result of results) if (result.status === 'rejected') throw result.reason;
    const [legacy, modern] = started as [(typeof started)[number], (typeof started)[number]];
    const clients: Record<Era, EraClient> = {
      '2025-11-25': await connectEraClient('2025-11-25', legacy.url, legacy.child.pid!),
      '2026-07-28': await connectEraClient('2026-07-28', modern.url, modern.child.pid!),
    };
    return {
      clients,
      lines: (era) => (era === '2025-11-25' ? legacy : modern).lines,
      proof: (era) => (era === '2025-11-25' ? legacy : modern).proof(),
      async stop() {
        try {
          await Promise.all(ERAS.map((era) => clients[era].close().catch(() => {})));
        } finally {
          await stopServers();
        }
      },
    };
  } catch (error) {
    await stopServers();
    throw error;
  }
}

/** A plain-text table: a block of rows per scenario, a column per era. Fit to paste into a README. */
export function outcomeTable(outcomes: Outcome[]): string[] {
  const rows: string[][] = [['scenario', ERA_SERVERS['2025-11-25'].title, ERA_SERVERS['2026-07-28'].title]];
  SCENARIOS.forEach((scenario, i) => {
    rows.push([`${i + 1}. ${scenario.name}`, '', '']);
    const facts = (era: Era) => outcomes.find((o) => o.scenario === scenario && o.era === era)?.facts ?? {};
    for (const name of Object.keys(scenario.expected)) {
      rows.push([`   ${name}`, facts('2025-11-25')[name] ?? '', facts('2026-07-28')[name] ?? '']);
    }
  });
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ');
  const rule = widths.map((width) => '-'.repeat(width)).join('-|-');
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].map((text) => text.trimEnd());
}

async function main(log: Timeline): Promise<boolean> {
  log.event('starting lesson 01 server (2025-11-25, SDK 1.x) and lesson 12 server (2026-07-28, SDK 2.x)');
  const servers = await startEraServers();
  const outcomes: Outcome[] = [];
  try {
    for (const scenario of SCENARIOS) {
      for (const era of ERAS) {
        log.event(`${scenario.name} [${era}]: ${scenario.does}`);
        const outcome = await runScenario(servers.clients[era], scenario);
        outcomes.push(outcome);
        if (outcome.mismatches.length === 0) log.ok(`${scenario.name} [${era}]: as expected`);
        for (const mismatch of outcome.mismatches) log.fail(`${scenario.name} [${era}]: ${mismatch}`);
      }
    }
  } finally {
    await servers.stop();
  }
  console.log(['', ...outcomeTable(outcomes), ''].join('\n'));
  const failed = outcomes.filter((outcome) => outcome.mismatches.length > 0).length;
  if (failed === 0) log.ok(`all ${outcomes.length} outcomes as expected`);
  else log.fail(`${failed} of ${outcomes.length} outcomes differ from what was expected`);
  return failed === 0;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const log = createTimeline('client');
  const ok = await main(log).catch((error: unknown) => {
    log.fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return false;
  });
  process.exit(ok ? 0 : 1);
}
