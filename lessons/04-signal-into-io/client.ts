// Lesson 04 client: for each I/O layer, start process_large_file, cancel it by its request id after a
// delay, then ask the server what it stopped and released.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  isJSONRPCRequest,
  McpError,
  type CallToolResult,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { REQUEST_CANCELLED } from '../01-cancel-by-id/cancellation.ts'; // -32800: lesson 01 explains it
import { connectOrExit } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';
import { SOURCES, type Source } from './layers.ts';
import { held, settledStatus } from './server-report.ts';
import * as flags from './client-flags.ts';

const { url, layer, cancel, cancelAfterMs, chunks, chunkDelayMs, waitMs, expected, reason } = flags;
const log = createTimeline('client');

const transport = new StreamableHTTPClientTransport(new URL(url));
/** SDK 1.x has no public "next request id" API: watch each tools/call leave (as in lesson 01). */
let nextCallId = deferred<RequestId>();
const send = transport.send.bind(transport);
transport.send = (message, options) => {
  if (isJSONRPCRequest(message) && message.params?.name === 'process_large_file') nextCallId.resolve(message.id);
  return send(message, options);
};
const client = new Client({ name: 'lesson-04-client', version: '1.0.0' });

async function runLayer(source: Source): Promise<flags.Outcome> {
  nextCallId = deferred<RequestId>();
  const call = client
    .callTool(
      { name: 'process_large_file', arguments: { source, chunks, chunkDelayMs } },
      CallToolResultSchema,
      { timeout: chunks * chunkDelayMs + 60_000 }, // never the SDK's own timeout, which would send a second cancel
    )
    .then(
      (result) => ({ result: result as CallToolResult }),
      (error: unknown) => ({ error }),
    );
  const id = await nextCallId.promise;
  log.event(`-> tools/call #${id} process_large_file from ${source} (${chunks} chunks, ${chunkDelayMs} ms each)`);

  if (cancel) {
    const first = await Promise.race([call, sleep(cancelAfterMs)]);
    if (first) log.warn(`#${id} finished before the cancel was due`);
    log.highlight(`-> notifications/cancelled { requestId: ${JSON.stringify(id)} } (after ${cancelAfterMs} ms)`);
    await client.notification({ method: 'notifications/cancelled', params: { requestId: id, reason } });
  }
  const settled = await call;
  let cancelledReply = false;
  if ('error' in settled) {
    const error = settled.error;
    cancelledReply = error instanceof McpError && error.code === REQUEST_CANCELLED;
    if (cancelledReply) log.highlight(`<- error -32800 "Request cancelled"`);
    else log.fail(`<- error: ${error instanceof Error ? error.message : String(error)}`);
  } else {
    const text = settled.result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
    if (settled.result.isError) log.fail(`<- tool error: ${text}`);
    else log.event(`<- result: ${text}`);
  }

  // The proof of a cancel is on the server's side: ask it what it stopped and released.
  const job = await settledStatus(client, id, waitMs);
  prove({ type: 'server-report', source, requestId: id, job });
  if (!job) {
    log.fail(`server has no record of #${id}`);
    return 'failed';
  }
  const stop = job.cancelToStopMs === undefined ? '' : `, handler stopped ${job.cancelToStopMs} ms after the cancel`;
  log.event(`server reports #${id}: ${job.state}${stop}; ${job.chunksDone}/${job.chunksTotal} chunks read so far`);
  if (source === 'file') log.event(`server reports #${id}: file handle ${job.fileHandle}`);
  for (const [name, state] of Object.entries(job.resources ?? {}))
    log.event(`server reports #${id}: ${name}: ${state}`);

  const stillHeld = held(job);
  if (stillHeld.length > 0) {
    log.warn(`#${id} ${waitMs} ms after the reply, the server still holds: ${stillHeld.join(', ')}`);
    return 'ran-on';
  }
  if (job.state === 'completed') return cancel && !cancelledReply ? 'ran-on' : 'completed';
  if (job.state === 'cancelled' && cancelledReply) return 'stopped';
  return 'failed';
}

log.event(`connecting to ${url}`);
await connectOrExit(client, transport, url, log); // or says plainly that no server answered
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);

const outcomes = new Map<Source, flags.Outcome>();
for (const source of layer === 'all' ? SOURCES : [layer]) {
  const outcome = await runLayer(source);
  outcomes.set(source, outcome);
  prove({ type: 'outcome', source, observed: outcome, expected });
  (outcome === expected ? log.ok : log.fail)(`${source}: ${outcome}`);
}

await transport.terminateSession();
await client.close();
log.detail('session ended (DELETE)');

const unexpected = [...outcomes].filter(([, outcome]) => outcome !== expected);
if (unexpected.length === 0) {
  log.ok(`every layer: ${expected}, as expected`);
} else {
  log.fail(`expected ${expected} for every layer; got ${unexpected.map(([s, o]) => `${s}: ${o}`).join(', ')}`);
  process.exitCode = 1;
}
