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
import { watchCallIds } from '../01-cancel-by-id/capture-request-id.ts';
import { REQUEST_CANCELLED } from '../01-cancel-by-id/cancellation.ts';
import { connectOrExit } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import { describeJob, ms, printTable, type JobReport, type Measurement } from './measurements.ts';
import type { Strategy } from './strategies.ts';
import { cancelAfterMs, chunkMs, chunks, jitterMs, runs, strategies, url } from './client-flags.ts';

const log = createTimeline('client');
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

const transport = new StreamableHTTPClientTransport(new URL(url));
const nextCallId = watchCallIds(transport, 'process_large_file');
const client = new Client({ name: 'lesson-03-client', version: '1.0.0' });

log.event(`connecting to ${url}`);
await connectOrExit(client, transport, url, log); // or says plainly that no server answered

const measurements: Measurement[] = [];
for (const strategy of strategies) {
  for (let run = 0; run < runs; run++) measurements.push(await cancelOne(client, nextCallId, strategy));
}
printTable(measurements, strategies, runs, log);

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
