// Plumbing for the benchmark: start its server as a child process with an IPC channel, connect SDK
// clients, run one tool call and cancel it, and summarise a list of timings.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { deferred } from '../../lessons/shared/wait.ts';
import {
  monotonicMs,
  type CleanupEvent,
  type FromServer,
  type ServerStats,
  type StatsOptions,
  type ToServer,
} from './ipc.ts';
import type { Style } from './server.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const SERVER_2026 = join(import.meta.dirname, 'server-2026.ts');
const SERVER_2026_CLUSTER = join(import.meta.dirname, 'server-2026-cluster.ts');

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface BenchServer {
  url: string;
  /** Counts and memory, read inside the server process; see StatsOptions for the cheaper readings. */
  stats(options?: Partial<StatsOptions>): Promise<ServerStats>;
  /** Resolves when the handler of call `tag` has cleaned up; rejects after `timeoutMs`. */
  cleaned(tag: string, timeoutMs?: number): Promise<CleanupEvent>;
  stop(): Promise<void>;
}

/** Which server, and how it serves: server.ts over HTTP/1.1 (the default) or h2c, or server-2026.ts. */
export type ServerKind = 'http1' | 'h2c' | '2026' | '2026-h2c' | '2026-h2c-cluster';

/** Starts scripts/bench/server.ts (its own process, GC exposed) and waits until it listens. */
export async function startBenchServer(onCancel: 'none' | 'error', kind: ServerKind = 'http1'): Promise<BenchServer> {
  const [script, args] =
    kind === '2026-h2c-cluster'
      ? [SERVER_2026_CLUSTER, ['--workers', '2']]
      : kind === '2026' || kind === '2026-h2c'
        ? [SERVER_2026, kind === '2026-h2c' ? ['--http', 'h2c'] : []]
        : [SERVER, ['--on-cancel', onCancel, ...(kind === 'h2c' ? ['--http', 'h2c'] : [])]];
  // BENCH_CPU_PROF=DIR: each server writes a V8 CPU profile into DIR when it stops (diagnosis only).
  const profileDir = process.env.BENCH_CPU_PROF;
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=250'] : [];
  const child = fork(script, args, {
    execArgv: ['--expose-gc', '--import', 'tsx', ...profile],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => children.delete(child));

  const cleanups = new Map<string, CleanupEvent>();
  const waiting = new Map<string, (event: CleanupEvent) => void>();
  const statsWaiting = new Map<number, (stats: ServerStats) => void>();
  const ready = deferred<string>();
  void exited.then(() => ready.reject(new Error('the benchmark server exited before it was ready')));
  child.on('message', (message: FromServer) => {
    if (message.type === 'ready') ready.resolve(message.url);
    else if (message.type === 'cleaned') {
      cleanups.set(message.tag, message);
      waiting.get(message.tag)?.(message);
      waiting.delete(message.tag);
    } else if (message.type === 'failed') console.error(`benchmark call ${message.tag} failed: ${message.message}`);
    else if (message.type === 'stats' && message.requestId !== undefined) {
      statsWaiting.get(message.requestId)?.(message);
      statsWaiting.delete(message.requestId);
    }
  });
  const url = await ready.promise;
  let nextStats = 0;
  return {
    url,
    stats({ gc = true, proc = true } = {}) {
      const requestId = nextStats++;
      return new Promise((resolve) => {
        statsWaiting.set(requestId, resolve);
        child.send({ type: 'stats', requestId, gc, proc } satisfies ToServer);
      });
    },
    cleaned(tag, timeoutMs = 10_000) {
      const done = cleanups.get(tag);
      if (done) return Promise.resolve(done);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(tag);
          reject(new Error(`call ${tag}: no cleanup within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(tag, (event) => {
          clearTimeout(timer);
          resolve(event);
        });
      });
    },
    async stop() {
      if (profileDir) {
        // The server exits on its own when the channel closes, and writes its profile as it exits.
        child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
        return;
      }
      child.kill('SIGKILL'); // measurements are taken; nothing to shut down gracefully
      await exited;
    },
  };
}

/** An SDK 1.x client, connected (through `fetch`, if given). Replies and progress that arrive for
 * calls it gave up on go to `onerror`; the benchmark expects those and does not print them. */
export async function connectClient(url: string, { fetch }: { fetch?: typeof globalThis.fetch } = {}): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  client.onerror = () => {};
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch }));
  return client;
}

export interface CallArguments {
  style: Style;
  tag: string;
  chunks: number;
  chunkMs: number;
}

export interface StartedCall {
  /** Resolves when the handler has sent its first progress notification: it is running. */
  running: Promise<void>;
  /** Aborts the call the SDK way (it sends notifications/cancelled); returns monotonicMs() just before. */
  cancel(): number;
}

/** Starts a tools/call with a progress token (the server's first progress says the handler runs). */
export function startCall(client: Client, args: CallArguments): StartedCall {
  const controller = new AbortController();
  const running = deferred<void>();
  client
    .callTool({ name: 'process_large_file', arguments: { ...args } }, undefined, {
      signal: controller.signal,
      timeout: 600_000,
      onprogress: () => running.resolve(), // the first one counts; resolving again does nothing
    })
    .then(
      () => running.reject(new Error(`call ${args.tag} completed before it was cancelled`)),
      (error: Error) => running.reject(error),
    );
  running.promise.catch(() => {}); // read by the caller, or not at all once it was cancelled
  return {
    running: running.promise,
    cancel() {
      const sentAt = monotonicMs();
      controller.abort('benchmark cancel');
      return sentAt;
    },
  };
}

/**
 * Starts a call, cancels it `delayMs` after its handler is running (or, with `from: 'sent'`, after
 * the call was sent), and waits for the server's cleanup. A handler that never saw the cancel and
 * completed is an error unless `mayComplete`.
 */
export async function cancelOne(
  server: BenchServer,
  client: Client,
  args: CallArguments,
  delayMs: number,
  { mayComplete = false, from = 'running' }: { mayComplete?: boolean; from?: 'running' | 'sent' } = {},
) {
  const call = startCall(client, args);
  if (from === 'running') await call.running;
  if (delayMs > 0) await sleep(delayMs);
  const sentAt = call.cancel();
  const event = await server.cleaned(args.tag, 60_000);
  if (event.state === 'failed' || (event.state === 'completed' && !mayComplete))
    throw new Error(`call ${args.tag} ended ${event.state}, not cancelled`);
  return {
    state: event.state,
    sentAt,
    cancelToCleanupMs: event.cleanedAt - sentAt,
    cancelToServerMs: event.cancelReceivedAt === undefined ? undefined : event.cancelReceivedAt - sentAt,
    /** From the server reading the cancel to the handler's cleanup finished. */
    arrivalToCleanupMs: event.cancelReceivedAt === undefined ? undefined : event.cleanedAt - event.cancelReceivedAt,
    /** The handler had finished before the cancel was even sent. */
    endedBeforeCancel: event.cleanedAt < sentAt,
  };
}

export interface Summary {
  n: number;
  min: number;
  median: number;
  p99: number;
  max: number;
}

/** The `q` quantile of `values` by nearest rank (p99 of fewer than 100 values is their max). */
export function nearestRank(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** min / median / p99 (nearest rank: with fewer than 100 samples, the max) / max of a list of timings, in 0.01 ms. */
export function summarise(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const ms = (value: number) => Math.round(value * 100) / 100;
  return {
    n: sorted.length,
    min: ms(sorted[0]!),
    median: ms(nearestRank(sorted, 0.5)),
    p99: ms(nearestRank(sorted, 0.99)),
    max: ms(sorted.at(-1)!),
  };
}

/** Runs `count` jobs with at most `lanes` at a time. */
export async function inLanes<T>(count: number, lanes: number, job: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, count) }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await job(index);
      }
    }),
  );
  return results;
}
