// Part 6 of the benchmark: cancel-to-stop through a load balancer (HAProxy) and through a cancel
// bus (Redis), each beside the same server reached directly. The servers are the lessons' own:
// lesson 01's (sessions), lesson 14's stateless replica (the bus), lesson 12's (SDK 2.x,
// 2026-07-28), started with lesson 14's replica-set.ts or on their own. Every call is
// process_large_file, cancelled about 200 ms after it was sent, so its handler is mid-run.
//
// Three times per cancel, each from just before the cancel is sent (2025-11-25: the notification;
// 2026-07-28: the abort, which closes the call's response stream):
// - to the handler stopped: its server's "handler stopped" line, read here from the server's
//   stdout (a pipe, synchronous on Linux: well under a millisecond). The same for every path.
// - to the client learning it: in 2025-11-25 the call's answer arriving (lesson 01's -32800,
//   lesson 14's "Cancelled after N of M chunks" result); in 2026-07-28 nothing is answered, so
//   get_job_status of the replica that ran the call, asked back to back and directly (not through
//   HAProxy), first saying `cancelled`. That includes up to one status round trip (reported), and
//   is timed on every other cancel, the stop on the rest (see cancelsByClosing).
// - the server's own cancelToStopMs (get_job_status): from the cancel reaching the call's job (for
//   the bus: the bus delivering it) to the handler stopping.
import { setTimeout as sleep } from 'node:timers/promises';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, type CallToolResult, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { watchCallIds } from '../../lessons/01-cancel-by-id/capture-request-id.ts';
import { REPLICA_KINDS, startReplicaSet, type ReplicaSet } from '../../lessons/14-replicas/replica-set.ts';
import { startLessonServer } from '../../lessons/shared/processes.ts';
import { missingServices, startRedis } from '../../lessons/shared/throwaway-services.ts';
import { deferred } from '../../lessons/shared/wait.ts';
import { nearestRank, summarise, type Summary } from './harness.ts';
import { monotonicMs } from './ipc.ts';

/** The call every path cancels: 1,000 chunks 20 ms apart (20 s), far more than the cancel lets run. */
const CALL = { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: 1000, chunkDelayMs: 20 } };
const CANCEL_AFTER_MS = 200;
/** How long an answer (or a `cancelled` status) may take before the part gives up: far above any figure. */
const GIVE_UP_MS = 10_000;

type Timings = Summary & { p95: number };
const timings = (values: number[]): Timings => ({
  ...summarise(values),
  p95: Math.round(nearestRank(values, 0.95) * 100) / 100,
});

export interface ReplicaPath {
  /** 1–5: the paths as the bench's README numbers them (5 has two rows). */
  path: string;
  label: string;
  server: string;
  route: 'direct' | 'HAProxy, sticky' | 'HAProxy, round robin';
  protocol: '2025-11-25' | '2026-07-28';
  cancels: number;
  /** Cancel sent → the handler's "handler stopped" line read from its server's stdout (2026-07-28: half the cancels). */
  stoppedMs: Timings;
  /** What `learnedMs` is the time of: the answer arriving, or get_job_status saying cancelled. */
  learned: string;
  /** Cancel sent → the client learns the call stopped (2026-07-28: the other half). */
  learnedMs: Timings;
  /** The server's own cancelToStopMs (get_job_status): from the cancel reaching the job to the handler stopping. */
  serverCancelToStopMs: Timings;
  /** What the cancelled call got back. */
  answer: string;
  /** Cancels that reached a replica other than the one running the call (through HAProxy only). */
  cancelsOnAnotherReplica?: number;
  /** 2026-07-28: one get_job_status round trip, which bounds the polling's resolution. */
  statusRoundTripMs?: Timings;
}

const ANSI = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex

/** When each call's "handler stopped" line (lessons 01, 12 and 14 all write one) came out of its server, by request id. */
function stopLines() {
  const stops = new Map<string, ReturnType<typeof deferred<number>>>();
  const of = (id: string) => {
    let stop = stops.get(id);
    if (!stop) stops.set(id, (stop = deferred<number>()));
    return stop;
  };
  return {
    /** For startLessonServer's and startReplicaSet's `onLine`. */
    onLine(line: string) {
      const match = /#"?([^\s"]+)"? handler stopped after chunk/.exec(line.replace(ANSI, ''));
      if (match) of(match[1]!).resolve(monotonicMs());
    },
    stopped: (id: RequestId) => withDeadline(of(String(id)).promise, `the "handler stopped" line of call #${id}`),
  };
}
type StopLines = ReturnType<typeof stopLines>;

export type ReplicaResults =
  | { skipped: string }
  | { measuredAt: string; cancelsPerPath: number; cancelAfterMs: number; seconds: number; paths: ReplicaPath[] };

// ---------------------------------------------------------------------------------------------
// 2025-11-25: SDK 1.x clients, cancel = notifications/cancelled, the call is answered

/** X-Served-By (HAProxy's header naming the replica) of each tools/call, and of the last cancel. */
interface Routes {
  callServedBy: Map<RequestId, string>;
  cancelServedBy?: string;
}

async function connectSdk1(url: string, authorization: string) {
  const routes: Routes = { callServedBy: new Map() };
  const naming: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const replica = response.headers.get('x-served-by');
    if (replica && typeof init?.body === 'string') {
      const sent = JSON.parse(init.body) as { id?: RequestId; method?: string };
      if (sent.method === 'notifications/cancelled') routes.cancelServedBy = replica;
      else if (sent.method === 'tools/call' && sent.id !== undefined) routes.callServedBy.set(sent.id, replica);
    }
    return response;
  };
  // A stateless replica knows its caller by this header alone: its job records are per caller.
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: naming,
    requestInit: { headers: { authorization } },
  });
  const nextCallId = watchCallIds(transport, CALL.name);
  const client = new Client({ name: 'bench-replicas', version: '1.0.0' });
  client.onerror = () => {};
  await client.connect(transport);
  return {
    client,
    nextCallId,
    routes,
    async close() {
      if (transport.sessionId) await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}
type Sdk1Connection = Awaited<ReturnType<typeof connectSdk1>>;

interface JobStatus {
  state: string;
  cancelToStopMs?: number;
  fileHandle: string;
  reply?: string;
}

async function jobStatus(client: Client | ClientV2, requestId: RequestId): Promise<JobStatus | undefined> {
  const answer = (await client.callTool({ name: 'get_job_status', arguments: { requestId } })) as CallToolResult;
  return answer.isError ? undefined : (answer.structuredContent as unknown as JobStatus);
}

/** `promise`, or an error naming `what` once GIVE_UP_MS have passed. */
async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${GIVE_UP_MS} ms`)), GIVE_UP_MS);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `count` calls, one at a time, each cancelled by id `CANCEL_AFTER_MS` after it was sent; timed
 * from just before the notification is sent to the call's answer arriving. `statusOf` reads the
 * job record from the server that ran it (`ranOn`: the replica HAProxy named).
 */
async function cancelsByNotification(
  connection: Sdk1Connection,
  lines: StopLines,
  count: number,
  expect: 'error -32800' | 'a "Cancelled after" result',
  statusOf: (ranOn: string | undefined) => Client,
) {
  const { client, nextCallId, routes } = connection;
  const stoppedMs: number[] = [];
  const learnedMs: number[] = [];
  const serverMs: number[] = [];
  let onAnotherReplica = 0;
  for (let i = 0; i < count; i++) {
    const id = nextCallId();
    const answer = client.callTool(CALL, undefined, { timeout: 120_000 }).then(
      (result) => ({ at: monotonicMs(), result: result as CallToolResult }),
      (error: Error) => ({ at: monotonicMs(), error }),
    );
    const requestId = await id;
    await sleep(CANCEL_AFTER_MS);
    const sentAt = monotonicMs();
    await client.notification({ method: 'notifications/cancelled', params: { requestId, reason: 'benchmark' } });
    const settled = await withDeadline(answer, `the answer to cancelled call #${requestId}`);
    if ('error' in settled) {
      if (expect !== 'error -32800' || !(settled.error instanceof McpError) || settled.error.code !== -32800)
        throw new Error(`call #${requestId}: expected ${expect}, got the error ${settled.error.message}`);
    } else {
      const text = settled.result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
      if (expect !== 'a "Cancelled after" result' || !text.startsWith('Cancelled after'))
        throw new Error(`call #${requestId}: expected ${expect}, got the result "${text}"`);
    }
    learnedMs.push(settled.at - sentAt);
    stoppedMs.push((await lines.stopped(requestId)) - sentAt);
    const ranOn = routes.callServedBy.get(requestId);
    if (ranOn && routes.cancelServedBy !== ranOn) onAnotherReplica++;
    const job = await jobStatus(statusOf(ranOn), requestId);
    if (job?.state !== 'cancelled' || job.fileHandle !== 'closed')
      throw new Error(`call #${requestId}: its server reports ${JSON.stringify(job)}, not cancelled and closed`);
    if (job.cancelToStopMs !== undefined) serverMs.push(job.cancelToStopMs);
  }
  return {
    stoppedMs: timings(stoppedMs),
    learnedMs: timings(learnedMs),
    serverCancelToStopMs: timings(serverMs),
    cancelsOnAnotherReplica: onAnotherReplica,
  };
}

const credential = (path: string) => `Bearer bench-replicas-${path}-${process.pid}`;
const ANSWERED = 'cancel sent → answer arrived';

async function sessionsDirect(count: number): Promise<ReplicaPath> {
  const lines = stopLines();
  const server = await startLessonServer(REPLICA_KINDS.sessions.file, [], { onLine: lines.onLine });
  try {
    const connection = await connectSdk1(server.url, credential('1'));
    const { cancelsOnAnotherReplica, ...measured } = await cancelsByNotification(
      connection,
      lines,
      count,
      'error -32800',
      () => connection.client,
    );
    void cancelsOnAnotherReplica; // no balancer, no replicas
    await connection.close();
    return {
      path: '1',
      label: 'sessions, direct',
      server: 'lesson 01 (SDK 1.x, sessions)',
      route: 'direct',
      protocol: '2025-11-25',
      cancels: count,
      learned: ANSWERED,
      ...measured,
      answer: 'error -32800',
    };
  } finally {
    await server.stop();
  }
}

async function sessionsSticky(count: number): Promise<ReplicaPath> {
  const lines = stopLines();
  const set = await startReplicaSet({
    kind: 'sessions',
    balance: 'sticky',
    bus: false,
    onLine: (_replica, line) => lines.onLine(line),
  });
  try {
    const connection = await connectSdk1(set.url, credential('2'));
    // Every request of the session goes to its replica, get_job_status too.
    const measured = await cancelsByNotification(connection, lines, count, 'error -32800', () => connection.client);
    await connection.close();
    return {
      path: '2',
      label: 'sessions, 3 replicas',
      server: 'lesson 01 ×3',
      route: 'HAProxy, sticky',
      protocol: '2025-11-25',
      cancels: count,
      learned: ANSWERED,
      ...measured,
      answer: 'error -32800',
    };
  } finally {
    await set.stop();
  }
}

async function statelessBusDirect(count: number): Promise<ReplicaPath> {
  const lines = stopLines();
  const redis = await startRedis();
  try {
    const args = ['--name', 'direct', '--bus', redis.url];
    const server = await startLessonServer(REPLICA_KINDS.stateless.file, args, { onLine: lines.onLine });
    try {
      const connection = await connectSdk1(server.url, credential('3'));
      const { cancelsOnAnotherReplica, ...measured } = await cancelsByNotification(
        connection,
        lines,
        count,
        'a "Cancelled after" result',
        () => connection.client,
      );
      void cancelsOnAnotherReplica;
      await connection.close();
      return {
        path: '3',
        label: 'stateless + Redis bus, direct',
        server: 'lesson 14 (SDK 1.x, stateless)',
        route: 'direct',
        protocol: '2025-11-25',
        cancels: count,
        learned: ANSWERED,
        ...measured,
        answer: 'result "Cancelled after N of 1000 chunks"',
      };
    } finally {
      await server.stop();
    }
  } finally {
    await redis.stop();
  }
}

async function statelessBusRoundRobin(count: number): Promise<ReplicaPath> {
  const lines = stopLines();
  const set = await startReplicaSet({
    kind: 'stateless',
    balance: 'round-robin',
    bus: true,
    onLine: (_replica, line) => lines.onLine(line),
  });
  const direct: Sdk1Connection[] = [];
  try {
    const connection = await connectSdk1(set.url, credential('4'));
    // The job record is on the replica that ran the call, under this caller's credential: ask it
    // directly, so that no status request goes through HAProxy and shifts the round robin.
    for (const replica of set.replicas) direct.push(await connectSdk1(replica.url, credential('4')));
    const byName = new Map(set.replicas.map((replica, i) => [replica.name, direct[i]!.client]));
    const measured = await cancelsByNotification(connection, lines, count, 'a "Cancelled after" result', (ranOn) => {
      const client = ranOn && byName.get(ranOn);
      if (!client) throw new Error(`HAProxy named no known replica for a call (X-Served-By: ${ranOn})`);
      return client;
    });
    await connection.close();
    return {
      path: '4',
      label: 'stateless + Redis bus, 3 replicas',
      server: 'lesson 14 ×3',
      route: 'HAProxy, round robin',
      protocol: '2025-11-25',
      cancels: count,
      learned: ANSWERED,
      ...measured,
      answer: 'result "Cancelled after N of 1000 chunks"',
    };
  } finally {
    await Promise.all(direct.map((c) => c.close()));
    await set.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 2026-07-28: SDK 2.x clients, cancel = closing the call's response stream, nothing is answered

async function connectV2(url: string) {
  /** The last process_large_file call sent: its id, and the replica HAProxy sent it to once its headers came. */
  const last: { id?: RequestId; servedBy?: string } = {};
  const naming: typeof fetch = async (input, init) => {
    const sent = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    const isCall = sent?.method === 'tools/call' && (sent.params as { name?: string }).name === CALL.name;
    if (isCall) {
      last.id = sent.id as RequestId;
      last.servedBy = undefined;
    }
    const response = await fetch(input, init);
    if (isCall && last.id === sent.id) last.servedBy = response.headers.get('x-served-by') ?? undefined;
    return response;
  };
  const client = new ClientV2(
    { name: 'bench-replicas-v2', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  client.onerror = () => {};
  await client.connect(new TransportV2(new URL(url), { fetch: naming }));
  return { client, last };
}

/**
 * `count` calls through `url`, one at a time, each aborted `CANCEL_AFTER_MS` after it was sent, and
 * timed from just before the abort. Every other call is left alone until its "handler stopped" line
 * has come (that is the time to the handler stopped); the others have get_job_status asked back to
 * back, of the replica that ran the call (directly, at `replicas`), until it says `cancelled` (the
 * time the client knows). Apart, because an SDK 2.x server spends about 10 ms of CPU on each
 * status request, which would delay the very stop being timed.
 */
async function cancelsByClosing(
  url: string,
  replicas: { name: string; url: string }[],
  lines: StopLines,
  count: number,
) {
  const { client, last } = await connectV2(url);
  const askers = await Promise.all(
    replicas.map(async (replica) => ({ name: replica.name, client: (await connectV2(replica.url)).client })),
  );
  try {
    const stoppedMs: number[] = [];
    const learnedMs: number[] = [];
    const serverMs: number[] = [];
    const roundTrips: number[] = [];
    for (let i = 0; i < count; i++) {
      const controller = new AbortController();
      const sentAt = monotonicMs();
      const call = client.callTool(CALL, { signal: controller.signal, timeout: 120_000 }).then(
        () => 'completed' as const,
        (error: Error) => error,
      );
      await sleep(CANCEL_AFTER_MS / 2);
      const requestId = last.id!;
      // Which replica runs it: direct, the one server. Through HAProxy, the one it names in the
      // call's response headers, if they have come (200 ms in, they had not in any call
      // measured: nothing was written on the response yet); else the replica whose
      // get_job_status says it is running, asked before the cancel.
      let owner = askers.length === 1 ? askers[0] : askers.find((a) => a.name === last.servedBy);
      for (const asker of owner ? [] : askers)
        if ((await jobStatus(asker.client, requestId))?.state === 'running') owner = asker;
      if (!owner) throw new Error(`call #${requestId}: no replica says it is running it`);
      await sleep(sentAt + CANCEL_AFTER_MS - monotonicMs());
      const stopped = lines.stopped(requestId);
      const polled = i % 2 === 1;
      const abortedAt = monotonicMs();
      controller.abort('benchmark');
      if (!polled) stoppedMs.push((await stopped) - abortedAt);
      let job: JobStatus | undefined;
      while (job?.state !== 'cancelled') {
        if (monotonicMs() - abortedAt > GIVE_UP_MS)
          throw new Error(`call #${requestId}: its replica never says cancelled`);
        const asked = monotonicMs();
        const status = await jobStatus(owner.client, requestId);
        if (polled) roundTrips.push(monotonicMs() - asked);
        if (status?.state === 'completed' || status?.state === 'failed')
          throw new Error(`call #${requestId} ${status.state}, not cancelled`);
        job = status;
      }
      if (polled) learnedMs.push(monotonicMs() - abortedAt);
      await stopped;
      if ((await call) === 'completed') throw new Error(`call #${requestId} completed, not cancelled`);
      if (job.cancelToStopMs !== undefined) serverMs.push(job.cancelToStopMs);
    }
    return {
      stoppedMs: timings(stoppedMs),
      learnedMs: timings(learnedMs),
      serverCancelToStopMs: timings(serverMs),
      statusRoundTripMs: timings(roundTrips),
    };
  } finally {
    await Promise.all([client, ...askers.map((a) => a.client)].map((c) => c.close()));
  }
}

const POLLED = 'abort → get_job_status says cancelled (polled)';

async function v2Direct(count: number): Promise<ReplicaPath> {
  const lines = stopLines();
  const server = await startLessonServer(REPLICA_KINDS.v2.file, [], { onLine: lines.onLine });
  try {
    const measured = await cancelsByClosing(server.url, [{ name: 'direct', url: server.url }], lines, count);
    return {
      path: '5',
      label: '2026-07-28, direct',
      server: 'lesson 12 (SDK 2.x)',
      route: 'direct',
      protocol: '2026-07-28',
      cancels: count,
      learned: POLLED,
      ...measured,
      answer: 'nothing (the stream closed)',
    };
  } finally {
    await server.stop();
  }
}

async function v2RoundRobin(count: number): Promise<ReplicaPath> {
  const lines = stopLines();
  const set: ReplicaSet = await startReplicaSet({
    kind: 'v2',
    balance: 'round-robin',
    bus: false,
    onLine: (_replica, line) => lines.onLine(line),
  });
  try {
    const measured = await cancelsByClosing(set.url, set.replicas, lines, count);
    return {
      path: '5',
      label: '2026-07-28, 3 replicas',
      server: 'lesson 12 ×3',
      route: 'HAProxy, round robin',
      protocol: '2026-07-28',
      cancels: count,
      learned: POLLED,
      ...measured,
      answer: 'nothing (the stream closed)',
    };
  } finally {
    await set.stop();
  }
}

// ---------------------------------------------------------------------------------------------

/** Part 6: every path in turn, one server or replica set at a time. Skipped without HAProxy or Redis. */
export async function replicaCancels({
  quick,
  say,
}: {
  quick: boolean;
  say: (line: string) => void;
}): Promise<ReplicaResults> {
  const missing = missingServices(['haproxy', 'redis-server']);
  if (missing) {
    say(`  6. skipped: ${missing}`);
    return { skipped: missing };
  }
  const count = quick ? 5 : 30;
  const started = monotonicMs();
  const paths: ReplicaPath[] = [];
  const ms = (value: number) => Math.round(value * 10) / 10;
  for (const run of [
    sessionsDirect,
    sessionsSticky,
    statelessBusDirect,
    statelessBusRoundRobin,
    v2Direct,
    v2RoundRobin,
  ]) {
    const result = await run(count);
    paths.push(result);
    say(
      `  6. ${result.label}: handler stopped ${ms(result.stoppedMs.median)} ms after the cancel (median), ` +
        `the client learned it ${ms(result.learnedMs.median)} ms after`,
    );
  }
  return {
    measuredAt: new Date().toISOString(),
    cancelsPerPath: count,
    cancelAfterMs: CANCEL_AFTER_MS,
    seconds: Math.round((monotonicMs() - started) / 100) / 10,
    paths,
  };
}
