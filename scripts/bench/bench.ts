// npm run bench: cancellation, measured side by side in one run. Not a test and not in CI: it
// prints a table and writes results/bench.json and results/bench.svg (see README.md beside it).
//
// The server is scripts/bench/server.ts in its own process, a fresh one per part (and per round of
// parts 2 and 3); the clients are SDK 1.x clients in this process. Times are read on the system's
// monotonic clock, which both processes share: "cancel sent" here, "cleanup finished" there.
// Part 6 (replicas.ts) runs the lessons' own servers instead, behind HAProxy and with a Redis bus.
// Part 7 (cancels.ts) puts part 2's 1,000 cancels through each way of sending them, side by side.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeFor } from '../node-lines.ts';
import { intFlag, parseFlags } from '../../lessons/shared/cli.ts';
import { startLessonServer } from '../../lessons/shared/processes.ts';
import { APPROACHES, cancelApproaches, RECOMMENDED, type ApproachKey, type CancelResults } from './cancels.ts';
import { drawChart } from './chart.ts';
import { cancelOne, connectClient, inLanes, startBenchServer, startCall, summarise, type Summary } from './harness.ts';
import { monotonicMs, type ServerStats } from './ipc.ts';
import { replicaCancels, type ReplicaResults } from './replicas.ts';
import type { Style } from './server.ts';

const HELP = `
Usage: npm run bench [-- --quick] [-- --with-test-command] [-- --only replicas|cancels] [-- --rounds N]
                     [-- --approaches A,B] [-- --node 24]

  --quick              small counts (a smoke run of every part, figures not meaningful)
  --with-test-command  also time \`npm test\` (adds its whole run time, about 4 minutes on 2 cores)
  --only replicas      run part 6 alone (cancel-to-stop through HAProxy and a Redis cancel bus);
                       its figures replace the "replicas" entry of an existing bench.json
  --only cancels       run part 7 alone (1,000 simultaneous cancels, each way of sending them);
                       its figures replace the "cancels" entry of an existing bench.json
  --rounds N           rounds of part 7 (default 3; 1 with --quick)
  --approaches A,B     part 7's approaches to run (default all): ${APPROACHES.map((a) => a.key).join(', ')}
  --out DIR            where bench.json and bench.svg go (default: scripts/bench/results)
  --node LINE          run it all (clients and servers) on Node LINE, e.g. 24, from npm's
                       \`node\` package (npx -p node@24); the default is the node running this
`;
const flags = parseFlags(
  {
    quick: { type: 'boolean' },
    'with-test-command': { type: 'boolean' },
    only: { type: 'string' },
    rounds: { type: 'string' },
    approaches: { type: 'string' },
    out: { type: 'string' },
    node: { type: 'string' },
  },
  HELP,
);
if (flags.node !== undefined) await rerunOn(flags.node);

/** --node LINE: the same run on that line's binary (its servers fork from it too); this process only waits. */
async function rerunOn(line: string): Promise<void> {
  const node = /^\d+$/.test(line) ? nodeFor(line) : undefined;
  if (!node) {
    console.error(
      `--node takes a Node release line such as 22 or 24, which npx -p node@LINE must be able to fetch (got "${line}")`,
    );
    process.exit(2);
  }
  if (node === process.execPath) return; // this is that line already
  const args = process.argv
    .slice(2)
    .filter((arg, i, all) => arg !== '--node' && all[i - 1] !== '--node' && !arg.startsWith('--node='));
  const child = spawn(node, ['--import', 'tsx', process.argv[1]!, ...args], { stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  process.exit(code ?? 1);
}
const ONLY = ['replicas', 'cancels'] as const;
if (flags.only !== undefined && !ONLY.includes(flags.only as (typeof ONLY)[number])) {
  console.error(`--only takes one part: ${ONLY.join(' or ')} (got "${flags.only}"); run with --help to see the flags`);
  process.exit(2);
}
const quick = flags.quick ?? false;
const cancelRounds = intFlag('rounds', flags.rounds, quick ? 1 : 3, 1, 20);
const chosenApproaches = flags.approaches?.split(',').map((key) => key.trim()) as ApproachKey[] | undefined;
const unknownApproach = chosenApproaches?.find((key) => !APPROACHES.some((a) => a.key === key));
if (unknownApproach !== undefined) {
  console.error(`--approaches: no approach "${unknownApproach}"; they are ${APPROACHES.map((a) => a.key).join(', ')}`);
  process.exit(2);
}
const root = join(import.meta.dirname, '../..');
const outDir = flags.out ?? join(import.meta.dirname, 'results');

const TARGETS = {
  p99OneCallMs: 10,
  concurrentCleanupMs: 300,
  heldAfterSequential: 0,
  floodCancelMs: 50,
};

const benchStarted = monotonicMs();

// Thousands of fetches share the SDK client transport's one AbortSignal, and Node 20 prints a
// warning for each listener added past its limit: count those per part instead; show any other.
let listenerWarnings = 0;
const warningsByPart: Record<string, number> = {};
async function part<T>(name: string, run: () => Promise<T>): Promise<T> {
  const before = listenerWarnings;
  try {
    return await run();
  } finally {
    warningsByPart[name] = (warningsByPart[name] ?? 0) + listenerWarnings - before;
  }
}
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'MaxListenersExceededWarning') listenerWarnings++;
  else console.warn(warning);
});
const say = (line: string) => console.log(line);
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 1024 / 1024, 0);

// ---------------------------------------------------------------------------------------------
// 1. Cancel-to-cleanup latency, per handler style (recommended server)
// ---------------------------------------------------------------------------------------------

interface StylePlan {
  style: Style;
  label: string;
  /** Calls in flight at once: 1 for the fast styles; the polling ones would take minutes one by one. */
  inFlight: number;
  /** The cancel goes out a random time in [0, spreadMs) after the handler started. */
  spreadMs: number;
  /** Chunks of 20 ms each: far more than a cancel lets run. */
  chunks: number;
}

const STYLE_PLANS: StylePlan[] = [
  { style: 'poll-1s', label: 'polls signal.aborted every 1 s', inFlight: 25, spreadMs: 1000, chunks: 100_000 },
  { style: 'poll-100ms', label: 'polls signal.aborted every 100 ms', inFlight: 25, spreadMs: 100, chunks: 100_000 },
  { style: 'abortable', label: 'abortable waits (lesson 03)', inFlight: 1, spreadMs: 20, chunks: 100_000 },
  {
    style: 'signal-into-fetch',
    label: 'signal into a streaming fetch (lesson 04)',
    inFlight: 1,
    spreadMs: 20,
    chunks: 100_000,
  },
  {
    style: 'signal-into-file',
    label: 'signal into a file pipeline (lesson 04)',
    inFlight: 1,
    spreadMs: 20,
    chunks: 100,
  }, // 10 KB reads,
];

async function latencyByStyle() {
  const calls = quick ? 20 : 200;
  const server = await startBenchServer('error');
  const results = [];
  try {
    for (const plan of STYLE_PLANS) {
      const clients = await Promise.all(
        Array.from({ length: Math.min(plan.inFlight, 5) }, () => connectClient(server.url)),
      );
      const started = monotonicMs();
      const samples = await inLanes(calls, plan.inFlight, (i) =>
        cancelOne(
          server,
          clients[i % clients.length]!,
          { style: plan.style, tag: `${plan.style}-${i}`, chunks: plan.chunks, chunkMs: 20 },
          Math.random() * plan.spreadMs,
        ),
      );
      await Promise.all(clients.map((c) => c.close()));
      const cleanup = summarise(samples.map((s) => s.cancelToCleanupMs));
      const arrival = summarise(samples.flatMap((s) => (s.cancelToServerMs === undefined ? [] : [s.cancelToServerMs])));
      const handler = summarise(
        samples.flatMap((s) => (s.arrivalToCleanupMs === undefined ? [] : [s.arrivalToCleanupMs])),
      );
      results.push({
        ...plan,
        calls,
        cancelToCleanupMs: cleanup,
        cancelArrivalMs: arrival,
        arrivalToCleanupMs: handler,
        seconds: round((monotonicMs() - started) / 1000),
      });
      say(`  1. ${plan.style}: median ${round(cleanup.median)} ms, p99 ${round(cleanup.p99)} ms (${calls} calls)`);
    }
  } finally {
    await server.stop();
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// 2. 1,000 concurrent long calls across 10 sessions, all cancelled: stock vs recommended
// ---------------------------------------------------------------------------------------------

async function concurrentCancels(onCancel: 'none' | 'error', roundNumber: number) {
  const sessions = 10;
  const perSession = quick ? 10 : 100;
  const server = await startBenchServer(onCancel);
  try {
    const clients = await Promise.all(Array.from({ length: sessions }, () => connectClient(server.url)));
    const idle = await server.stats();
    const calls = clients.flatMap((client, s) =>
      Array.from({ length: perSession }, (_, i) =>
        startCall(client, { style: 'abortable', tag: `c${s}-${i}`, chunks: 1000, chunkMs: 1000 }),
      ),
    );
    await Promise.all(calls.map((call) => call.running));
    const loaded = await server.stats({ gc: false });
    const clientCpu = process.cpuUsage();
    const cancelsSent = monotonicMs();
    for (const call of calls) call.cancel();
    const tags = clients.flatMap((_, s) => Array.from({ length: perSession }, (__, i) => `c${s}-${i}`));
    const events = await Promise.all(tags.map((tag) => server.cleaned(tag, 30_000)));
    const clientCpuUsed = process.cpuUsage(clientCpu);
    const done = await server.stats({ gc: false });
    const cleanedAt = events.map((e) => e.cleanedAt - cancelsSent);
    const arrivedAt = events.flatMap((e) =>
      e.cancelReceivedAt === undefined ? [] : [e.cancelReceivedAt - cancelsSent],
    );
    const handlerMs = events.flatMap((e) =>
      e.cancelReceivedAt === undefined ? [] : [e.cleanedAt - e.cancelReceivedAt],
    );
    await sleep(1000); // "after": one second after the last cleanup, for both servers alike
    const after = await server.stats();
    await Promise.all(clients.map((c) => c.close()));
    const result = {
      onCancel,
      round: roundNumber,
      calls: calls.length,
      firstCleanupMs: round(Math.min(...cleanedAt)),
      lastCleanupMs: round(Math.max(...cleanedAt)),
      lastCancelArrivedMs: round(Math.max(...arrivedAt)),
      /** Per call, from the server reading its cancel to its handler's cleanup finished. */
      arrivalToCleanupMs: summarise(handlerMs),
      /** CPU each side spent from the cancels until the last cleanup: who was busy. */
      serverCpuMs: round(done.cpuMs - loaded.cpuMsAtEnd, 0),
      clientCpuMs: round((clientCpuUsed.user + clientCpuUsed.system) / 1000, 0),
      /** TCP connections on the server's port while the calls ran, and once every cancel had arrived. */
      tcpConnectionsLoaded: loaded.tcpConnections,
      tcpConnectionsAfterCancels: done.tcpConnections,
      rssIdleMb: mb(idle.rssBytes),
      rssPeakMb: mb(after.peakRssBytes), // maxRSS: the peak over this server process's life
      rssAfterMb: mb(after.rssBytes),
      heldAfter: { streams: after.openResponseStreams, tcpConnections: after.tcpConnections },
    };
    say(
      `  2. ${onCancel === 'none' ? 'stock' : 'recommended'} #${roundNumber}: last cleanup ${result.lastCleanupMs} ms after the cancels, ` +
        `RSS ${result.rssIdleMb} → ${result.rssPeakMb} → ${result.rssAfterMb} MB`,
    );
    return result;
  } finally {
    await server.stop();
  }
}

/**
 * The floor under part 2: the same 1,000 cancels from the same 10 sessions, naming no running call,
 * so no handler has anything to stop. What is left is the cost of delivering them.
 */
async function cancelsForNothing() {
  const sessions = 10;
  const perSession = quick ? 10 : 100;
  const server = await startBenchServer('error');
  try {
    const clients = await Promise.all(Array.from({ length: sessions }, () => connectClient(server.url)));
    const before = await server.stats();
    const sent = monotonicMs();
    await Promise.all(
      clients.flatMap((client, s) =>
        Array.from({ length: perSession }, (_, i) =>
          client.notification({
            method: 'notifications/cancelled',
            params: { requestId: 1_000_000 + s * perSession + i, reason: 'benchmark: names no call' },
          }),
        ),
      ),
    );
    const total = sessions * perSession;
    // Each notification's 202 comes once the server has read it; this only makes sure of it, cheaply.
    let done = await server.stats({ gc: false, proc: false });
    const deadline = monotonicMs() + 30_000;
    while (done.cancelsRead < total && monotonicMs() < deadline) {
      await sleep(5);
      done = await server.stats({ gc: false, proc: false });
    }
    const { tcpConnections } = await server.stats({ gc: false });
    await Promise.all(clients.map((c) => c.close()));
    const result = {
      cancels: total,
      cancelsRead: done.cancelsRead,
      lastReadMs: round((done.lastCancelReadAt ?? sent) - sent),
      serverCpuMs: round(done.cpuMs - before.cpuMsAtEnd, 0),
      tcpConnectionsAfter: tcpConnections,
    };
    say(`  2. floor: ${total} cancels naming no call, the last read ${result.lastReadMs} ms after the first was sent`);
    return result;
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. What 1,000 sequential cancels on one session leave behind: stock vs recommended
// ---------------------------------------------------------------------------------------------

const heldOf = (s: ServerStats) => ({
  openResponseStreams: s.openResponseStreams,
  sdkStreams: s.sdkStreams,
  keepAliveTimers: s.keepAliveTimers,
  sdkRequestMappings: s.sdkRequestMappings,
  tcpConnections: s.tcpConnections,
  heapUsedMb: round(s.heapUsedBytes / 1024 / 1024),
});

async function sequentialCancels(onCancel: 'none' | 'error') {
  const count = quick ? 50 : 1000;
  const server = await startBenchServer(onCancel);
  try {
    const client = await connectClient(server.url);
    const before = await server.stats();
    const started = monotonicMs();
    for (let i = 0; i < count; i++) {
      await cancelOne(server, client, { style: 'abortable', tag: `s${i}`, chunks: 1000, chunkMs: 1000 }, 0);
    }
    const seconds = round((monotonicMs() - started) / 1000);
    await sleep(1000); // the same settling time for both servers
    const after = await server.stats();
    await client.close();
    const result = { onCancel, cancels: count, seconds, before: heldOf(before), after: heldOf(after) };
    say(
      `  3. ${onCancel === 'none' ? 'stock' : 'recommended'}: after ${count} cancels, ${after.openResponseStreams} streams, ` +
        `${after.keepAliveTimers} timers, ${after.sdkRequestMappings} map entries, ${after.tcpConnections} TCP connections`,
    );
    return result;
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Cancel latency while the tool floods progress notifications
// ---------------------------------------------------------------------------------------------

async function floodCancels() {
  const server = await startBenchServer('error');
  const results = [];
  try {
    const plans = [
      {
        style: 'flood' as const,
        label: 'yields after each send (lesson 07)',
        calls: quick ? 5 : 20,
        notifications: 1_000_000,
      },
      {
        style: 'flood-tight' as const,
        label: 'tight `await sendNotification` loop',
        calls: quick ? 2 : 5,
        notifications: 20_000,
      },
    ];
    for (const plan of plans) {
      const client = await connectClient(server.url);
      const samples = [];
      for (let i = 0; i < plan.calls; i++) {
        const args = { style: plan.style, tag: `${plan.style}-${i}`, chunks: plan.notifications, chunkMs: 0 };
        samples.push(
          await cancelOne(server, client, args, 50 + Math.random() * 50, { mayComplete: true, from: 'sent' }),
        );
      }
      await client.close();
      const latency = summarise(samples.map((s) => s.cancelToCleanupMs));
      if (samples.some((s) => s.endedBeforeCancel))
        throw new Error(`a ${plan.style} call ended before its cancel was sent: raise its notification count`);
      const completed = samples.filter((s) => s.state === 'completed').length;
      results.push({
        style: plan.style,
        label: plan.label,
        calls: plan.calls,
        notifications: plan.notifications,
        cancelToStopMs: latency,
        /** Calls whose handler never saw the cancel: it sent every notification and completed. */
        completedAnyway: completed,
      });
      say(
        `  4. ${plan.style}: stopped median ${round(latency.median)} ms, p99 ${round(latency.p99)} ms after the cancel` +
          (completed ? ` (${completed} of ${plan.calls} never saw it and completed)` : ''),
      );
    }
  } finally {
    await server.stop();
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// 5. Lesson servers: time to ready; the test command's wall time
// ---------------------------------------------------------------------------------------------

async function lessonReadyTimes() {
  const lessons = readdirSync(join(root, 'lessons')).filter((name) => /^\d\d-/.test(name));
  const results = [];
  for (const lesson of quick ? lessons.slice(0, 2) : lessons) {
    const started = monotonicMs();
    const server = await startLessonServer(join(root, 'lessons', lesson, 'server.ts'));
    const readyMs = round(monotonicMs() - started, 0);
    await server.stop();
    results.push({ lesson, readyMs });
  }
  say(
    `  5. lesson servers ready in ${Math.min(...results.map((r) => r.readyMs))}–${Math.max(...results.map((r) => r.readyMs))} ms`,
  );
  return results;
}

function testCommandWallTime() {
  if (!flags['with-test-command']) return undefined;
  const started = monotonicMs();
  const run = spawnSync('npm', ['test'], { cwd: root, stdio: 'ignore' });
  const seconds = round((monotonicMs() - started) / 1000, 0);
  say(`  5. npm test: ${seconds} s (exit ${run.status})`);
  return { seconds, exitCode: run.status };
}

// ---------------------------------------------------------------------------------------------

say(
  `npm run bench${quick ? ' --quick' : ''}: ${cpus().length} cores, ${mb(totalmem())} MB memory, Node ${process.version}`,
);
const machine = {
  cores: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryMb: mb(totalmem()),
  freeMemoryMb: mb(freemem()),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  sdk: (
    JSON.parse(readFileSync(join(root, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8')) as {
      version: string;
    }
  ).version,
};

/** One part alone: its figures go into bench.json beside the last full run's (the chart is that run's). */
function mergeIntoBenchJson(key: string, figures: unknown) {
  const file = join(outDir, 'bench.json');
  const earlier = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const merged = { ...earlier, machine: earlier.machine ?? machine, [key]: figures };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  say(`\nWrote its figures into ${relative(process.cwd(), file)} ("${key}").`);
}
if (flags.only === 'replicas') {
  const replicas = await part('6', () => replicaCancels({ quick, say }));
  printReplicaTable(replicas);
  mergeIntoBenchJson('replicas', replicas);
  process.exit(0);
}
if (flags.only === 'cancels') {
  const started = monotonicMs();
  const cancels = await part('7', () => cancelApproaches({ quick, rounds: cancelRounds, only: chosenApproaches, say }));
  printCancelsTable(cancels);
  const recommended = cancels.approaches.find((a) => a.key === RECOMMENDED);
  if (recommended && !quick) {
    const met = recommended.medianLastCleanupMs <= TARGETS.concurrentCleanupMs;
    say(
      `\nTarget: 1,000 concurrent calls cleaned up ≤ ${TARGETS.concurrentCleanupMs} ms, by the recommended setup. ` +
        `On Node ${process.version}: median ${recommended.medianLastCleanupMs} ms ` +
        `(${Math.min(...recommended.lastCleanupMs)}–${Math.max(...recommended.lastCleanupMs)}): ${met ? 'met' : 'not met'}.`,
    );
  }
  mergeIntoBenchJson('cancels', {
    ...cancels,
    node: process.version,
    when: new Date().toISOString(),
    quick,
    seconds: round((monotonicMs() - started) / 1000),
    listenerWarnings: warningsByPart['7'],
  });
  process.exit(0);
}

const latency = await part('1', latencyByStyle);
const concurrent = [];
for (let r = 1; r <= (quick ? 1 : 2); r++) {
  concurrent.push(await part('2 stock', () => concurrentCancels('none', r)));
  concurrent.push(await part('2 recommended', () => concurrentCancels('error', r)));
}
const floor = await part('2 floor', cancelsForNothing);
const sequential = [
  await part('3 stock', () => sequentialCancels('none')),
  await part('3 recommended', () => sequentialCancels('error')),
];
const flood = await part('4', floodCancels);
const ready = await part('5', lessonReadyTimes);
const testCommand = testCommandWallTime();
const replicas = await part('6', () => replicaCancels({ quick, say }));
const cancels = await part('7', () => cancelApproaches({ quick, rounds: cancelRounds, only: chosenApproaches, say }));

const recommendedCancels = cancels.approaches.find((a) => a.key === RECOMMENDED) ?? cancels.approaches[0]!;
const recommendedConcurrent = concurrent.filter((c) => c.onCancel === 'error').map((c) => c.lastCleanupMs);
const recommendedHeld = sequential.find((s) => s.onCancel === 'error')!.after;
const fastStyles = latency.filter((l) => l.inFlight === 1);
const floodP99 = flood.find((f) => f.style === 'flood')!.cancelToStopMs.p99;
/** Each target of the recommended pattern, against what this run measured. */
const verdicts = [
  {
    target: `cancel-to-cleanup p99 ≤ ${TARGETS.p99OneCallMs} ms, one call in flight`,
    measured: fastStyles.map((l) => `${l.style} ${round(l.cancelToCleanupMs.p99)} ms`).join(', '),
    met: fastStyles.every((l) => l.cancelToCleanupMs.p99 <= TARGETS.p99OneCallMs),
  },
  {
    target: `${concurrent[0]!.calls} concurrent calls cleaned up ≤ ${TARGETS.concurrentCleanupMs} ms after the cancels`,
    measured:
      `${recommendedCancels.label} (part 7): ${recommendedCancels.lastCleanupMs.join(', ')} ms; ` +
      `SDK 1.x, recommended server (part 2): ${Math.min(...recommendedConcurrent)}–${Math.max(...recommendedConcurrent)} ms`,
    met: recommendedCancels.medianLastCleanupMs <= TARGETS.concurrentCleanupMs, // by the median of its rounds
  },
  {
    target: `nothing held after ${sequential[0]!.cancels} sequential cancels`,
    measured:
      `${recommendedHeld.openResponseStreams} + ${recommendedHeld.sdkStreams} streams (ours + SDK's), ` +
      `${recommendedHeld.keepAliveTimers} timers, ${recommendedHeld.sdkRequestMappings} map entries; ` +
      `TCP ${recommendedHeld.tcpConnections} (${sequential.find((s) => s.onCancel === 'error')!.before.tcpConnections} before)`,
    met:
      recommendedHeld.openResponseStreams +
        recommendedHeld.sdkStreams +
        recommendedHeld.keepAliveTimers +
        recommendedHeld.sdkRequestMappings ===
      TARGETS.heldAfterSequential,
  },
  {
    target: `cancel seen ≤ ${TARGETS.floodCancelMs} ms during a progress flood (p99, measured to the handler stopped)`,
    measured: `${round(floodP99)} ms`,
    met: floodP99 <= TARGETS.floodCancelMs,
  },
];

const results = {
  when: new Date().toISOString(),
  quick,
  machine,
  seconds: round((monotonicMs() - benchStarted) / 1000),
  targets: TARGETS,
  verdicts,
  latency,
  concurrent,
  floor,
  sequential,
  flood,
  ready,
  testCommand,
  replicas,
  cancels,
  /** MaxListenersExceededWarning in this (the client) process, by part: counted, not printed. */
  listenerWarnings: warningsByPart,
};

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'bench.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(outDir, 'bench.svg'), await drawChart(results));
printTables(results);
say(`\nWrote ${relative(process.cwd(), join(outDir, 'bench.json'))} and bench.svg (${results.seconds} s in all).`);
process.exit(0);

export type BenchResults = typeof results;

function table(head: string[], rows: (string | number)[][]) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells: (string | number)[]) => `| ${cells.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ')} |`;
  say(line(head));
  say(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) say(line(row));
}

function printReplicaTable(r: ReplicaResults) {
  if ('skipped' in r) {
    say(`\n6. Cancel-to-stop through a load balancer: skipped (${r.skipped})`);
    return;
  }
  say(
    `\n6. Cancel-to-stop through a load balancer (${r.cancelsPerPath} cancels per row, each ${r.cancelAfterMs} ms into ` +
      'the call), ms: median / p95',
  );
  const both = (t: Summary & { p95: number }) => `${round(t.median)} / ${round(t.p95)}`;
  table(
    [
      'path',
      'server',
      'route',
      'protocol',
      'cancel → handler stopped',
      'cancel → client knows',
      'the client knows by',
      "server's cancelToStopMs (median)",
    ],
    r.paths.map((p) => [
      p.path,
      p.server,
      p.route,
      p.protocol,
      both(p.stoppedMs),
      both(p.learnedMs),
      p.protocol === '2026-07-28' ? 'get_job_status, polled' : p.answer,
      round(p.serverCancelToStopMs.median),
    ]),
  );
  const sticky = r.paths.find((p) => p.route === 'HAProxy, sticky');
  const across = r.paths.find((p) => p.route === 'HAProxy, round robin' && p.protocol === '2025-11-25');
  const polled = r.paths.filter((p) => p.statusRoundTripMs);
  say(
    '   "handler stopped": its server\'s "handler stopped" line, read from the server\'s stdout. 2026-07-28: ' +
      'the cancel is the abort (the stream closes), nothing is answered, and get_job_status is asked back to back ' +
      `(one round trip: median ${polled.map((p) => `${round(p.statusRoundTripMs!.median)} ms ${p.route}`).join(', ')}).`,
  );
  if (sticky && across)
    say(
      `   Cancels that landed on another replica than their call: sticky ${sticky.cancelsOnAnotherReplica} of ${sticky.cancels}, ` +
        `round robin (the bus carried them) ${across.cancelsOnAnotherReplica} of ${across.cancels}.`,
    );
}

function printCancelsTable(r: CancelResults) {
  const rows = r.approaches;
  const calls = r.cancelRounds[0]?.calls ?? 0;
  say(
    `\n7. ${calls.toLocaleString('en')} concurrent calls (10 clients × ${calls / 10}), all cancelled at once, each way of ` +
      `sending the cancels (${r.rounds} round${r.rounds === 1 ? '' : 's'} each; "recommended" server: -32800 answered)`,
  );
  const ofRounds = (key: string) => r.cancelRounds.filter((c) => c.approach === key);
  const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
  table(
    [
      'approach',
      'the cancel is',
      'last cleanup ms (median; rounds)',
      'floor ms (median)',
      'TCP: calls → after cancels',
      'CPU ms server / client / others (median)',
      'held 1 s after: streams, SDK streams, map entries, timers, handlers',
      'TCP 1 s after',
    ],
    rows.map((a) => {
      const these = ofRounds(a.key);
      const last = these.at(-1)!;
      const held = these.map((c) => c.heldAfter);
      const sum = (pick: (h: (typeof held)[number]) => number) => Math.max(...held.map(pick));
      return [
        `${a.key === RECOMMENDED ? '→ ' : ''}${a.label}`,
        a.cancelBy,
        `${a.medianLastCleanupMs}; ${a.lastCleanupMs.join(', ')}`,
        a.medianFloorMs ?? 'none sent',
        `${last.tcpConnectionsLoaded} → ${last.tcpConnectionsAfterCancels}`,
        [
          medianOf(these.map((c) => c.serverCpuMs)),
          medianOf(these.map((c) => c.clientCpuMs)),
          these.every((c) => c.othersCpuMs !== null) ? medianOf(these.map((c) => c.othersCpuMs!)) : 'n/a',
        ].join(' / '),
        [
          sum((h) => h.responseStreams),
          sum((h) => h.sdkStreams),
          sum((h) => h.sdkRequestMappings),
          sum((h) => h.keepAliveTimers),
          sum((h) => h.handlersRunning),
        ].join(', '),
        [...new Set(held.map((h) => h.tcpConnections))].join(', '),
      ];
    }),
  );
  say(
    '   Timed from just before the first cancel to the last handler cleaned up. Floor: the same cancels naming no ' +
      `call (2026-07-28: ${calls.toLocaleString('en')} bare event streams closed, no MCP). CPU "others": every other process on the ` +
      'machine in that time. Held: the most of any round. → marks the recommended setup.',
  );
}

function printTables(r: BenchResults) {
  const ms = (s: Summary) => [round(s.min), round(s.median), round(s.p99)];
  say('\n1. Cancel sent → handler cleaned up (recommended server), ms');
  table(
    ['handler', 'calls', 'in flight', 'min', 'median', 'p99', 'cancel arrived (median)', 'arrived → cleaned up (p99)'],
    r.latency.map((l) => [
      l.label,
      l.calls,
      l.inFlight,
      ...ms(l.cancelToCleanupMs),
      round(l.cancelArrivalMs.median),
      round(l.arrivalToCleanupMs.p99),
    ]),
  );
  say('\n2. 1,000 concurrent calls (10 sessions × 100), all cancelled');
  table(
    [
      'server',
      'round',
      'first cleanup ms',
      'last cleanup ms',
      'TCP conns (calls → +cancels)',
      'CPU ms server / client',
      'RSS idle MB',
      'peak MB',
      'after MB',
      'streams held after',
      'arrived → cleaned up ms (p99 / max)',
    ],
    r.concurrent.map((c) => [
      c.onCancel === 'none' ? 'stock' : 'recommended',
      c.round,
      c.firstCleanupMs,
      c.lastCleanupMs,
      `${c.tcpConnectionsLoaded} → ${c.tcpConnectionsAfterCancels}`,
      `${c.serverCpuMs} / ${c.clientCpuMs}`,
      c.rssIdleMb,
      c.rssPeakMb,
      c.rssAfterMb,
      c.heldAfter.streams,
      `${round(c.arrivalToCleanupMs.p99)} / ${round(c.arrivalToCleanupMs.max)}`,
    ]),
  );
  say(
    `   floor: ${r.floor.cancels} cancels naming no running call, last read ${r.floor.lastReadMs} ms after the first was sent; ` +
      `server CPU ${r.floor.serverCpuMs} ms, TCP connections after: ${r.floor.tcpConnectionsAfter}`,
  );
  say(`\n3. Held 1 s after ${r.sequential[0]?.cancels} sequential cancels on one session`);
  table(
    [
      'server',
      'SSE streams',
      'SDK streams',
      'keep-alive timers',
      'SDK map entries',
      'TCP connections',
      'heap MB (before → after)',
    ],
    r.sequential.map((s) => [
      s.onCancel === 'none' ? 'stock' : 'recommended',
      s.after.openResponseStreams,
      s.after.sdkStreams,
      s.after.keepAliveTimers,
      s.after.sdkRequestMappings,
      s.after.tcpConnections ?? 'n/a',
      `${s.before.heapUsedMb} → ${s.after.heapUsedMb}`,
    ]),
  );
  say('\n4. Cancel sent → flood stopped, ms');
  table(
    ['tool', 'calls', 'min', 'median', 'p99', 'completed anyway'],
    r.flood.map((f) => [f.label, f.calls, ...ms(f.cancelToStopMs), `${f.completedAnyway} of ${f.calls}`]),
  );
  say('\n5. Lesson server ready (spawn → "listening on"), ms');
  table(
    ['lesson', 'ready ms'],
    r.ready.map((x) => [x.lesson, x.readyMs]),
  );
  say(
    r.testCommand
      ? `npm test: ${r.testCommand.seconds} s`
      : 'npm test: not timed in this run (add --with-test-command)',
  );
  printReplicaTable(r.replicas);
  printCancelsTable(r.cancels);
  say('\nTargets for the recommended pattern');
  table(
    ['target', 'measured', 'met'],
    r.verdicts.map((v) => [v.target, v.measured, v.met ? 'yes' : 'NO: see scripts/bench/README.md']),
  );
}
