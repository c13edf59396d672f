// Bench part 7: 1,000 concurrent calls (10 clients × 100) all cancelled at once, the ways of
// sending the cancels side by side. Part 2 found that the stock client's cancels take about a
// second to deliver, on either server, because each opens a new TCP connection. This part tries
// what might change that, each against the server it needs:
//
// - Node's fetch, as part 2 (the baseline): SDK 1.x, the recommended server (-32800 answered);
// - notifications over a small pool of kept-alive connections (fetches.ts), same server;
// - every request over one HTTP/2 connection per client (h2c; h2.ts serves the same sessions);
// - protocol 2026-07-28 with the SDK 2.x packages (server-2026.ts): the abort closes the call's
//   own response stream, and no cancel request is sent at all; with Node's fetch, with a fetch on
//   node:http (Node's reopens a connection after each abort), and over HTTP/2.
//
// Each is measured as part 2 measures: from just before the first cancel is sent to the last
// handler's cleanup finished, on the monotonic clock both processes share; then, one second after
// the last cleanup, what the server still holds. After each, its floor: the same 1,000 cancels
// naming no call, so that no handler has anything to stop (2026-07-28: 1,000 bare event streams,
// no MCP, closed at once).
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { deferred } from '../../lessons/shared/wait.ts';
import { notificationsOverPool, overHttp2, overNodeHttp, type OwnFetch } from './fetches.ts';
import {
  connectClient,
  startBenchServer,
  startCall,
  summarise,
  type CallArguments,
  type ServerKind,
  type StartedCall,
  type Summary,
} from './harness.ts';
import { monotonicMs } from './ipc.ts';

export const POOL_CONNECTIONS = 4;
/** The setup the README recommends for cancelling many calls at once. */
export const RECOMMENDED: ApproachKey = '2026-h2c';

export type ApproachKey = 'fetch' | 'pool' | 'h2c' | '2026' | '2026-node-http' | '2026-h2c' | '2026-h2c-2';
interface Approach {
  key: ApproachKey;
  label: string;
  protocol: '2025-11-25' | '2026-07-28';
  /** How the cancel travels. */
  cancelBy: string;
  server: ServerKind;
  /** The client's own fetch, one per client (undefined: Node's). */
  fetch?: () => OwnFetch;
}

export const APPROACHES: Approach[] = [
  {
    key: 'fetch',
    label: "SDK 1.x, Node's fetch (part 2)",
    protocol: '2025-11-25',
    cancelBy: 'a POST each, on a new connection',
    server: 'http1',
  },
  {
    key: 'pool',
    label: `SDK 1.x, notifications over ${POOL_CONNECTIONS} kept-alive connections`,
    protocol: '2025-11-25',
    cancelBy: `a POST each, queued on ${POOL_CONNECTIONS} connections per client`,
    server: 'http1',
    fetch: () => notificationsOverPool(POOL_CONNECTIONS),
  },
  {
    key: 'h2c',
    label: 'SDK 1.x over HTTP/2 (h2c), one connection per client',
    protocol: '2025-11-25',
    cancelBy: 'a POST each, as a stream of that connection',
    server: 'h2c',
    fetch: overHttp2,
  },
  {
    key: '2026',
    label: "SDK 2.x, protocol 2026-07-28, Node's fetch",
    protocol: '2026-07-28',
    cancelBy: "closing the call's connection (then fetch opens a new one)",
    server: '2026',
  },
  {
    key: '2026-node-http',
    label: 'SDK 2.x, protocol 2026-07-28, fetch on node:http',
    protocol: '2026-07-28',
    cancelBy: "closing the call's connection",
    server: '2026',
    fetch: overNodeHttp,
  },
  {
    key: '2026-h2c',
    label: 'SDK 2.x, protocol 2026-07-28, over HTTP/2 (h2c)',
    protocol: '2026-07-28',
    cancelBy: "resetting the call's stream (RST_STREAM)",
    server: '2026-h2c',
    fetch: overHttp2,
  },
  {
    key: '2026-h2c-2',
    label: 'SDK 2.x, 2026-07-28, over HTTP/2, the server on 2 processes',
    protocol: '2026-07-28',
    cancelBy: "resetting the call's stream (RST_STREAM)",
    server: '2026-h2c-cluster',
    fetch: overHttp2,
  },
];

/** One connected client of either SDK: starts calls, sends notifications, closes. */
interface BenchClient {
  start(args: CallArguments): StartedCall;
  notify?(method: string, params: Record<string, unknown>): Promise<void>;
  /** 2026-07-28's floor: opens a bare event stream (no MCP) through this client's fetch. */
  openRaw?(url: string): Promise<AbortController>;
  close(): Promise<void>;
}

async function connect(approach: Approach, url: string): Promise<BenchClient> {
  const own = approach.fetch?.();
  if (approach.protocol === '2026-07-28') {
    const client = new ClientV2(
      { name: 'bench-2026', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    client.onerror = () => {};
    await client.connect(new TransportV2(new URL(url), { fetch: own?.fetch }));
    const rawFetch = own?.fetch ?? fetch;
    return {
      start: (args) => startCallV2(client, args),
      async openRaw(rawUrl) {
        const controller = new AbortController();
        const response = await rawFetch(rawUrl, { signal: controller.signal });
        const reader = response.body!.getReader();
        await reader.read(); // the server's first comment: the stream is open at both ends
        void reader.read().catch(() => {}); // keep reading, as an SSE client does, until the abort
        return controller;
      },
      async close() {
        await client.close();
        own?.close();
      },
    };
  }
  const client: Client = await connectClient(url, { fetch: own?.fetch });
  return {
    start: (args) => startCall(client, args),
    notify: (method, params) => client.notification({ method, params } as Parameters<Client['notification']>[0]),
    async close() {
      await client.close();
      own?.close();
    },
  };
}

/** startCall (harness.ts) for an SDK 2.x client: aborting the signal closes the call's stream. */
function startCallV2(client: ClientV2, args: CallArguments): StartedCall {
  const controller = new AbortController();
  const running = deferred<void>();
  client
    .callTool(
      { name: 'process_large_file', arguments: { ...args } },
      { signal: controller.signal, timeout: 600_000, onprogress: () => running.resolve() },
    )
    .then(
      () => running.reject(new Error(`call ${args.tag} completed before it was cancelled`)),
      (error: Error) => running.reject(error),
    );
  running.promise.catch(() => {});
  return {
    running: running.promise,
    cancel() {
      const sentAt = monotonicMs();
      controller.abort('benchmark cancel');
      return sentAt;
    },
  };
}

const round1 = (value: number) => Math.round(value * 10) / 10;

/** CPU time all processes on this machine have used, in ms (Linux: /proc/stat; null elsewhere). */
function machineCpuMs(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy, in 1/100 s.
    const busy = fields.slice(0, 8).reduce((sum, value, i) => (i === 3 || i === 4 ? sum : sum + value), 0);
    return busy * 10;
  } catch {
    return null;
  }
}

export interface CancelRound {
  approach: ApproachKey;
  round: number;
  calls: number;
  /** From sending the first call to every handler running (outside the timing). */
  startMs: number;
  /** monotonicMs() just before the first cancel was sent (to find the window in a CPU profile). */
  cancelsSentAt: number;
  /** From just before the first cancel was sent to the last handler's cleanup finished. */
  lastCleanupMs: number;
  firstCleanupMs: number;
  /** The last cancel read by the server (2026-07-28: the last call's response closed by the client). */
  lastCancelArrivedMs: number;
  arrivalToCleanupMs: Summary;
  serverCpuMs: number;
  clientCpuMs: number;
  /**
   * CPU that every other process on the machine used in the same time (/proc/stat, 10 ms steps):
   * on a shared machine, how busy it was with other work while this round was timed.
   */
  othersCpuMs: number | null;
  tcpConnectionsLoaded: number | null;
  tcpConnectionsAfterCancels: number | null;
  /** One second after the last cleanup. */
  heldAfter: {
    responseStreams: number;
    sdkStreams: number;
    sdkRequestMappings: number;
    keepAliveTimers: number;
    handlersRunning: number;
    tcpConnections: number | null;
  };
}

async function cancelAll(approach: Approach, roundNumber: number, perClient: number): Promise<CancelRound> {
  const clientsCount = 10;
  const server = await startBenchServer('error', approach.server);
  try {
    const clients = await Promise.all(Array.from({ length: clientsCount }, () => connect(approach, server.url)));
    const calls = clients.flatMap((client, c) =>
      Array.from({ length: perClient }, (_, i) =>
        client.start({ style: 'abortable', tag: `c${c}-${i}`, chunks: 1000, chunkMs: 1000 }),
      ),
    );
    const startedAt = monotonicMs();
    await Promise.all(calls.map((call) => call.running));
    const startMs = Math.round(monotonicMs() - startedAt);
    const loaded = await server.stats({ gc: false });
    const clientCpu = process.cpuUsage();
    const machineCpu = machineCpuMs();
    const cancelsSent = monotonicMs();
    for (const call of calls) call.cancel();
    const tags = clients.flatMap((_, c) => Array.from({ length: perClient }, (__, i) => `c${c}-${i}`));
    const events = await Promise.all(tags.map((tag) => server.cleaned(tag, 30_000)));
    const clientCpuUsed = process.cpuUsage(clientCpu);
    const machineCpuUsed = machineCpu === null ? null : machineCpuMs()! - machineCpu;
    const done = await server.stats({ gc: false });
    const notCancelled = events.filter((e) => e.state !== 'cancelled').length;
    if (notCancelled) throw new Error(`${approach.key}: ${notCancelled} calls ended other than cancelled`);
    const arrived = events.flatMap((e) => (e.cancelReceivedAt === undefined ? [] : [e.cancelReceivedAt]));
    await sleep(1000); // as part 2: one second after the last cleanup
    const after = await server.stats();
    await Promise.all(clients.map((c) => c.close()));
    return {
      approach: approach.key,
      round: roundNumber,
      calls: calls.length,
      startMs,
      cancelsSentAt: round1(cancelsSent),
      firstCleanupMs: round1(Math.min(...events.map((e) => e.cleanedAt)) - cancelsSent),
      lastCleanupMs: round1(Math.max(...events.map((e) => e.cleanedAt)) - cancelsSent),
      lastCancelArrivedMs: round1(Math.max(...arrived) - cancelsSent),
      arrivalToCleanupMs: summarise(
        events.flatMap((e) => (e.cancelReceivedAt === undefined ? [] : [e.cleanedAt - e.cancelReceivedAt])),
      ),
      serverCpuMs: Math.round(done.cpuMs - loaded.cpuMsAtEnd),
      clientCpuMs: Math.round((clientCpuUsed.user + clientCpuUsed.system) / 1000),
      othersCpuMs:
        machineCpuUsed === null
          ? null
          : Math.max(
              0,
              Math.round(
                machineCpuUsed - (done.cpuMs - loaded.cpuMsAtEnd) - (clientCpuUsed.user + clientCpuUsed.system) / 1000,
              ),
            ),
      tcpConnectionsLoaded: loaded.tcpConnections,
      tcpConnectionsAfterCancels: done.tcpConnections,
      heldAfter: {
        responseStreams: after.openResponseStreams,
        sdkStreams: after.sdkStreams,
        sdkRequestMappings: after.sdkRequestMappings,
        keepAliveTimers: after.keepAliveTimers,
        handlersRunning: after.handlersRunning,
        tcpConnections: after.tcpConnections,
      },
    };
  } finally {
    await server.stop();
  }
}

export interface FloorRound {
  approach: ApproachKey;
  round: number;
  cancels: number;
  /** From just before the first was sent to the server reading the last (2026-07-28: seeing the last stream closed). */
  lastReadMs: number;
  serverCpuMs: number;
  tcpConnectionsAfter: number | null;
}

/**
 * Part 2's floor, per approach: the same 1,000 cancels from 10 clients, naming no running call. In
 * 2026-07-28, where the cancel is a closed stream: 1,000 bare event streams (no MCP) closed at once.
 */
async function cancelsForNothing(approach: Approach, roundNumber: number, perClient: number): Promise<FloorRound> {
  const server = await startBenchServer('error', approach.server);
  try {
    const clients = await Promise.all(Array.from({ length: 10 }, () => connect(approach, server.url)));
    const total = clients.length * perClient;
    const rawUrl = new URL('/raw', server.url).href;
    const streams =
      approach.protocol === '2026-07-28'
        ? await Promise.all(
            clients.flatMap((client) => Array.from({ length: perClient }, () => client.openRaw!(rawUrl))),
          )
        : [];
    const before = await server.stats();
    const sent = monotonicMs();
    for (const stream of streams) stream.abort('benchmark cancel');
    if (approach.protocol === '2025-11-25')
      await Promise.all(
        clients.flatMap((client, c) =>
          Array.from({ length: perClient }, (_, i) =>
            client.notify!('notifications/cancelled', {
              requestId: 1_000_000 + c * perClient + i,
              reason: 'benchmark: names no call',
            }),
          ),
        ),
      );
    let done = await server.stats({ gc: false, proc: false });
    const deadline = monotonicMs() + 30_000;
    while (done.cancelsRead < total && monotonicMs() < deadline) {
      await sleep(5);
      done = await server.stats({ gc: false, proc: false });
    }
    const { tcpConnections } = await server.stats({ gc: false });
    await Promise.all(clients.map((c) => c.close()));
    if (done.cancelsRead < total) throw new Error(`${approach.key} floor: ${done.cancelsRead} of ${total} read`);
    return {
      approach: approach.key,
      round: roundNumber,
      cancels: total,
      lastReadMs: round1((done.lastCancelReadAt ?? sent) - sent),
      serverCpuMs: Math.round(done.cpuMs - before.cpuMsAtEnd),
      tcpConnectionsAfter: tcpConnections,
    };
  } finally {
    await server.stop();
  }
}

export interface CancelResults {
  rounds: number;
  poolConnections: number;
  approaches: {
    key: ApproachKey;
    label: string;
    protocol: Approach['protocol'];
    cancelBy: string;
    lastCleanupMs: number[];
    medianLastCleanupMs: number;
    floorMs?: number[];
    medianFloorMs?: number;
  }[];
  cancelRounds: CancelRound[];
  floorRounds: FloorRound[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : round1((sorted[mid - 1]! + sorted[mid]!) / 2);
};

/** Part 7: every approach once per round, rounds interleaved so that a busy moment hits them all alike. */
export async function cancelApproaches({
  quick,
  rounds = quick ? 1 : 3,
  only,
  say,
}: {
  quick: boolean;
  rounds?: number;
  only?: ApproachKey[];
  say: (line: string) => void;
}): Promise<CancelResults> {
  const perClient = quick ? 10 : 100;
  const chosen = APPROACHES.filter((a) => !only || only.includes(a.key));
  const cancelRounds: CancelRound[] = [];
  const floorRounds: FloorRound[] = [];
  for (let r = 1; r <= rounds; r++) {
    for (const approach of chosen) {
      const result = await cancelAll(approach, r, perClient);
      cancelRounds.push(result);
      const held = result.heldAfter;
      say(
        `  7. ${approach.key} #${r}: last cleanup ${result.lastCleanupMs} ms after the first cancel ` +
          `(CPU: server ${result.serverCpuMs}, client ${result.clientCpuMs}, others ${result.othersCpuMs ?? 'n/a'} ms); ` +
          `after: ${held.responseStreams} streams, ${held.keepAliveTimers} timers, ${held.handlersRunning} handlers, ` +
          `${held.tcpConnections} TCP`,
      );
      const floor = await cancelsForNothing(approach, r, perClient);
      floorRounds.push(floor);
      const what = approach.protocol === '2026-07-28' ? 'bare streams closed' : 'cancels naming no call';
      say(
        `  7. ${approach.key} floor #${r}: ${floor.cancels} ${what}, the last seen ${floor.lastReadMs} ms after the first`,
      );
    }
  }
  return {
    rounds,
    poolConnections: POOL_CONNECTIONS,
    approaches: chosen.map((a) => {
      const last = cancelRounds.filter((c) => c.approach === a.key).map((c) => c.lastCleanupMs);
      const floors = floorRounds.filter((f) => f.approach === a.key).map((f) => f.lastReadMs);
      return {
        key: a.key,
        label: a.label,
        protocol: a.protocol,
        cancelBy: a.cancelBy,
        lastCleanupMs: last,
        medianLastCleanupMs: median(last),
        ...(floors.length ? { floorMs: floors, medianFloorMs: median(floors) } : {}),
      };
    }),
    cancelRounds,
    floorRounds,
  };
}
