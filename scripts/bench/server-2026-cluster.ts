// Bench part 7's SDK 2.x server on every core: node:cluster runs `--workers N` copies of
// server-2026.ts over HTTP/2, all on one port. In 2026-07-28 there is no session, so any worker
// can serve any request, and a call's cancel (the reset of its own stream) reaches the worker that
// runs it by itself: nothing to route, as behind lesson 14's balancer. The primary serves nothing.
// It passes the workers' events on to the benchmark and sums their figures into one server's.
//
// Each of the clients' HTTP/2 connections goes to one worker (the primary hands them out in
// turn), and every stream of a connection stays there.
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { intFlag, parseFlags } from '../../lessons/shared/cli.ts';
import type { FromServer, ServerStats, ToServer } from './ipc.ts';

const flags = parseFlags(
  { workers: { type: 'string' } },
  `
Usage: node --import tsx scripts/bench/server-2026-cluster.ts [--workers N]

Bench part 7's SDK 2.x server (2026-07-28, HTTP/2) in N processes on one port (node:cluster);
scripts/bench/bench.ts starts it with an IPC channel.
  --workers N   how many (default: 2)
`,
);
const count = intFlag('workers', flags.workers, 2, 1, 64);
if (!process.send) {
  console.error('scripts/bench/server-2026-cluster.ts reports over IPC: run it through `npm run bench`.');
  process.exit(2);
}
const send = (message: FromServer) => process.send?.(message);

cluster.setupPrimary({
  exec: join(import.meta.dirname, 'server-2026.ts'),
  args: ['--http', 'h2c'],
  execArgv: process.execArgv, // tsx, --expose-gc and any profiling flags, as the benchmark gave them
});
const workers: Worker[] = Array.from({ length: count }, () => cluster.fork());
const statsReplies = new Map<number, ServerStats[]>();

const ready = Promise.all(
  workers.map(
    (worker) =>
      new Promise<string>((resolve) => {
        worker.on('message', (message: FromServer) => {
          if (message.type === 'ready') resolve(message.url);
          else if (message.type === 'stats' && message.requestId !== undefined) collect(message);
          else send(message); // cleaned, failed: as they come
        });
      }),
  ),
);

/** A worker's figures; once every worker has answered, their sum goes to the benchmark. */
function collect(stats: ServerStats) {
  const id = stats.requestId!;
  const replies = [...(statsReplies.get(id) ?? []), stats];
  if (replies.length < workers.length) return void statsReplies.set(id, replies);
  statsReplies.delete(id);
  const sum = (field: keyof ServerStats) => replies.reduce((total, r) => total + ((r[field] as number) ?? 0), 0);
  const own = process.cpuUsage(); // the primary's own relaying counts as the server's CPU too
  const ownMs = (own.user + own.system) / 1000;
  const lastReads = replies.flatMap((r) => (r.lastCancelReadAt === undefined ? [] : [r.lastCancelReadAt]));
  send({
    type: 'stats',
    requestId: id,
    cancelsRead: sum('cancelsRead'),
    lastCancelReadAt: lastReads.length ? Math.max(...lastReads) : undefined,
    openResponseStreams: sum('openResponseStreams'),
    sdkStreams: sum('sdkStreams'),
    sdkRequestMappings: sum('sdkRequestMappings'),
    handlersRunning: sum('handlersRunning'),
    keepAliveTimers: sum('keepAliveTimers'),
    tcpConnections: replies.some((r) => r.tcpConnections === null) ? null : sum('tcpConnections'),
    cpuMs: sum('cpuMs') + ownMs,
    cpuMsAtEnd: sum('cpuMsAtEnd') + ownMs,
    rssBytes: sum('rssBytes') + process.memoryUsage().rss,
    peakRssBytes: sum('peakRssBytes'),
    heapUsedBytes: sum('heapUsedBytes'),
  });
}

process.on('message', (message: ToServer) => {
  if (message.type === 'stats') for (const worker of workers) worker.send(message);
});
// The benchmark gone: stop the workers (each also exits when its own channel to this one closes).
process.on('disconnect', () => {
  for (const worker of workers) worker.kill();
  process.exit(0);
});

const urls = await ready;
send({ type: 'ready', url: urls[0]!, onCancel: 'error' });
