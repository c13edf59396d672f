// Lesson 03 client: run process_large_file with each strategy, cancel each call after a delay,
// and measure how long each took to stop: from this side (cancel sent -> answer received) and
// from the server's (cancel read -> handler stopped and cleaned up, from get_job_status).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  McpError,
  type CallToolResult,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { watchCallIds } from '../shared/call-ids.ts';
import { REQUEST_CANCELLED } from '../01-cancel-by-id/cancellation.ts';
import { choiceFlag, exitPlainlyIfServerLost, intFlag, parseFlags } from '../shared/cli.ts';
import type { jobReportSchema } from '../shared/jobs.ts';
import { createTimeline } from '../shared/timeline.ts';
import type { z } from 'zod';
import { STRATEGIES, type Strategy } from './strategies.ts';

const HELP = `
Lesson 03 client: cancel process_large_file under each strategy and measure how fast each one stops.

Usage: npx tsx lessons/03-cooperative-handlers/client.ts [options]

  --url URL            the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3103/mcp)
  --strategy NAME      run only this strategy (default: all, in this order):
                         ${STRATEGIES.join(', ')}
  --cancel-after MS    send notifications/cancelled this long after each call (default: 500)
  --jitter MS          add a random 0..MS to each delay, so cancels land anywhere in a poll (default: 0)
  --runs N             run each strategy N times; the table then shows the median and the maximum (default: 1)
  --chunks N           chunks per call (default: enough to outlast the cancel by 1.5 s)
  --chunk-ms MS        how long each chunk takes on the server (default: 50)
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    strategy: { type: 'string' },
    'cancel-after': { type: 'string' },
    jitter: { type: 'string' },
    runs: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-ms': { type: 'string' },
  },
  HELP,
);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3103/mcp';
const only = choiceFlag('strategy', flags.strategy, [...STRATEGIES, 'all'], 'all');
const strategies: readonly Strategy[] = only === 'all' ? STRATEGIES : [only];
const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 500);
const jitterMs = intFlag('jitter', flags.jitter, 0);
const runs = intFlag('runs', flags.runs, 1, 1, 1000);
const chunkMs = intFlag('chunk-ms', flags['chunk-ms'], 50, 1, 10_000);
// Long enough that every cancel lands mid-job, even for a 1 s poller: the delay, plus 1.5 s.
const chunks = intFlag('chunks', flags.chunks, Math.ceil((cancelAfterMs + jitterMs + 1500) / chunkMs), 1, 10_000);

const log = createTimeline('client');
type JobReport = z.infer<z.ZodObject<typeof jobReportSchema>>;

/** One cancelled call, as measured from both sides. */
interface Measurement {
  strategy: Strategy;
  /** -32800 as expected, or the full result (the cancel came too late to matter). */
  answer: 'cancelled' | 'completed' | 'other';
  /** Cancel sent -> answer received, on this side. */
  clientMs: number;
  /** Cancel read -> handler stopped and cleaned up, on the server's side; absent when it never saw one. */
  serverMs?: number;
  /** Cancel sent -> its HTTP POST answered (202): how long the server took to read it. */
  ackMs: number;
  job?: JobReport;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

async function cancelOne(client: Client, nextCallId: () => Promise<RequestId>, strategy: Strategy) {
  const callId = nextCallId();
  const call = client.callTool(
    { name: 'process_large_file', arguments: { strategy, chunks, chunkMs } },
    CallToolResultSchema,
    { timeout: chunks * chunkMs + 60_000 }, // never let the SDK's own timeout send a second cancel
  );
  const id = await callId;
  const settled = call.then(
    (result) => ({ result: result as CallToolResult, at: performance.now() }),
    (error: unknown) => ({ error, at: performance.now() }),
  );
  log.event(
    `-> tools/call #${id} process_large_file { strategy: "${strategy}", chunks: ${chunks}, chunkMs: ${chunkMs} }`,
  );

  const delay = cancelAfterMs + Math.round(Math.random() * jitterMs);
  await new Promise((resolve) => setTimeout(resolve, delay));
  const sentAt = performance.now();
  log.highlight(`-> notifications/cancelled { requestId: ${JSON.stringify(id)} } (after ${delay} ms)`);
  // Not awaited before timing the answer: a blocked server does not even read this POST.
  const acked = client
    .notification({ method: 'notifications/cancelled', params: { requestId: id, reason: 'measuring' } })
    .then(
      () => performance.now(),
      () => Number.NaN, // the server went away; the call's outcome below says so
    );
  const outcome = await settled;
  const ackMs = (await acked) - sentAt;
  const clientMs = outcome.at - sentAt;

  let answer: Measurement['answer'] = 'other';
  if ('error' in outcome) {
    const error = outcome.error;
    if (error instanceof McpError && error.code === REQUEST_CANCELLED) {
      answer = 'cancelled';
      log.highlight(`<- error -32800 "Request cancelled", ${ms(clientMs)} after the cancel was sent`);
    } else {
      log.fail(`<- error: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else if ((outcome.result.structuredContent as { status?: string } | undefined)?.status === 'completed') {
    answer = 'completed';
    log.warn(`<- the full result, ${ms(clientMs)} after the cancel was sent: the job ran to the end`);
    log.warn(`   the server read the cancel only ${ms(ackMs)} after it was sent (its HTTP 202 came that late)`);
  } else {
    log.fail(`<- unexpected result: ${JSON.stringify(outcome.result)}`);
  }

  const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
  const job = status.structuredContent as JobReport | undefined;
  const measurement: Measurement = { strategy, answer, clientMs, ackMs, serverMs: job?.cancelToStopMs, job };
  log.event(`server reports #${id}: ${describeJob(job)}`);
  return measurement;
}

function describeJob(job: JobReport | undefined): string {
  if (!job) return 'no record of the call';
  const freed = freedBy(job);
  if (job.state === 'cancelled') {
    return (
      `stopped after chunk ${job.chunksDone}/${job.chunksTotal} (the cancel arrived after chunk ` +
      `${job.chunksDoneWhenCancelArrived}; stopped ${job.cancelToStopMs} ms later)${freed ? `; ${freed}` : ''}`
    );
  }
  return `${job.state}, ${job.chunksDone}/${job.chunksTotal} chunks; ${job.cancelReason === undefined ? 'it never saw a cancel while running' : 'cancel on record'}`;
}

/** What the server says it released: the file handle, a worker thread, and so on. */
function freedBy(job: JobReport): string {
  const parts: string[] = [];
  if (job.fileHandle && job.fileHandle !== 'not opened') parts.push(`file handle ${job.fileHandle}`);
  for (const [name, state] of Object.entries(job.resources ?? {})) parts.push(`${name} ${state}`);
  return parts.join(', ');
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** "12.3 ms" for one run; "median 12.3 ms, max 45.6 ms" for several. */
function summarise(values: number[]): string {
  if (values.length === 0) return '-';
  if (values.length === 1) return ms(values[0]!);
  return `median ${ms(median(values))}, max ${ms(Math.max(...values))}`;
}

function printTable(measurements: Measurement[]) {
  const rows = strategies.map((strategy) => {
    const mine = measurements.filter((m) => m.strategy === strategy);
    const last = mine.at(-1)?.job;
    const serverValues = mine.flatMap((m) => (m.serverMs === undefined ? [] : [m.serverMs]));
    const completed = mine.some((m) => m.answer === 'completed');
    return [
      strategy,
      summarise(mine.map((m) => m.clientMs)) + (completed ? ' (the result)' : ''),
      serverValues.length ? summarise(serverValues) : 'saw it after the end',
      !last
        ? '-'
        : last.state === 'cancelled'
          ? `${last.chunksDoneWhenCancelArrived} -> ${last.chunksDone}`
          : `all ${last.chunksDone}`,
    ];
  });
  const header = ['strategy', 'cancel -> answer (client)', 'cancel -> stopped (server)', 'chunks at cancel -> stop'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  log.event(runs > 1 ? `cancel latency over ${runs} runs each:` : 'cancel latency:');
  for (const line of [format(header), ...rows.map(format)]) log.event(`  ${line}`);
}

const transport = new StreamableHTTPClientTransport(new URL(url));
const nextCallId = watchCallIds(transport, 'process_large_file');
const client = new Client({ name: 'lesson-03-client', version: '1.0.0' });

log.event(`connecting to ${url}`);
try {
  await client.connect(transport);
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/03-cooperative-handlers/server.ts');
  process.exit(1);
}
exitPlainlyIfServerLost(log, url, 'npx tsx lessons/03-cooperative-handlers/server.ts');

const measurements: Measurement[] = [];
for (const strategy of strategies) {
  for (let run = 0; run < runs; run++) measurements.push(await cancelOne(client, nextCallId, strategy));
}
printTable(measurements);

await transport.terminateSession();
await client.close();

// What this lesson expects: every strategy is cancelled, except the loop that never yields.
const unexpected = measurements.filter((m) => m.answer !== (m.strategy === 'cpu-blocking' ? 'completed' : 'cancelled'));
if (unexpected.length === 0) {
  const calls = measurements.length === 1 ? 'the call' : `all ${measurements.length} calls`;
  log.ok(`${calls} ended as expected (cpu-blocking runs to the end; the other strategies stop)`);
} else {
  log.fail(`unexpected outcome for ${[...new Set(unexpected.map((m) => m.strategy))].join(', ')}`);
  process.exitCode = 1;
}
