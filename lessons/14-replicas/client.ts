// Lesson 14 client (SDK 1.x): lesson 01's client, through a load balancer. It calls
// process_large_file, cancels it by its request id, and shows which replica answered each
// request (HAProxy names it in X-Served-By), what came back, and what the replica that ran the
// call did, read from that replica.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { captureRequestId } from '../01-cancel-by-id/capture-request-id.ts';
import { judge, settle, settledWithin } from '../01-cancel-by-id/what-came-back.ts';
import { exitPlainlyIfServerLost } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import * as flags from './client-flags.ts';
import { askTheReplicaThatRanIt, type JobReport } from './owner-report.ts';

const { url, chunks, chunkDelayMs, cancelAfterMs, reason, waitMs, expected } = flags;
const log = createTimeline('client');
const CLUSTER = 'npx tsx lessons/14-replicas/cluster.ts';

// Every request, with the replica that answered it: the balancer adds X-Served-By (haproxy-config.ts).
let lastServedBy = 'no replica';
const servedBy = new Map<unknown, string>();
const namingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  type Sent = { id?: unknown; method?: string; params?: { name?: string } };
  const body = (typeof init?.body === 'string' ? JSON.parse(init.body) : {}) as Sent;
  lastServedBy = response.headers.get('x-served-by') ?? 'no replica';
  const what = body.method === 'tools/call' ? `tools/call ${body.params?.name}` : (body.method ?? init?.method);
  if (body.params?.name !== 'get_job_status') log.detail(`-> ${what}  <- HTTP ${response.status} from ${lastServedBy}`);
  prove({ type: 'request', what, status: response.status, servedBy: lastServedBy });
  if (body.id !== undefined) servedBy.set(body.id, lastServedBy);
  return response;
};

const transport = new StreamableHTTPClientTransport(new URL(url), {
  fetch: namingFetch,
  // A stateless replica has no session to know its caller by: it keys a cancel by this credential.
  requestInit: { headers: { authorization: `Bearer ${flags.credential}` } },
});
const callId = captureRequestId(
  transport,
  (req) => req.method === 'tools/call' && req.params?.name === 'process_large_file',
);
const client = new Client({ name: 'lesson-14-client', version: '1.0.0' });
/** A 404 for the session: the replica that answered has no such session (the spec's "start a new one"). */
const sessionGone = (error: unknown) => error instanceof StreamableHTTPError && error.code === 404;

log.event(`connecting to ${url}`);
try {
  await client.connect(transport);
} catch (error) {
  const message = (error as Error).message;
  if (sessionGone(error)) {
    // The session lives on the replica that answered initialize; the balancer sent the next request elsewhere.
    log.fail(`the session broke: ${message}`);
    log.detail('the balancer sent a request of this session to a replica that never saw its initialize');
    log.detail(`sessions need affinity: ${CLUSTER} --replicas sessions --balance sticky`);
    judge('session-lost', expected, log);
    process.exit();
  }
  log.fail(`cannot connect to ${url}: ${message}`);
  log.detail(`is the cluster running? ${CLUSTER}`);
  process.exit(1);
}
exitPlainlyIfServerLost(log, url, CLUSTER);
log.detail(transport.sessionId ? `session ${transport.sessionId}` : 'no session: the replicas are stateless');

const settled = settle(
  client.callTool(
    { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
    CallToolResultSchema,
    { timeout: chunks * chunkDelayMs + 60_000 },
  ),
);
const id = await callId;
log.event(
  `-> tools/call #${id} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart), run by ${servedBy.get(id)}`,
);

const first = await Promise.race([settled, sleep(cancelAfterMs, 'due' as const)]);
let outcome = first === 'due' ? undefined : first;
if (first === 'due') {
  log.highlight(`-> notifications/cancelled { requestId: ${id}, reason: "${reason}" } after ${cancelAfterMs} ms`);
  try {
    await client.notification({ method: 'notifications/cancelled', params: { requestId: id, reason } });
  } catch (error) {
    if (!sessionGone(error)) throw error;
    // The replica that held the session is gone (it died, or was drained): so is the call.
    log.fail(`the session is gone: ${lastServedBy} answered 404. Its replica stopped; the call will never be answered`);
    log.detail("SDK 1.x was not told when the call's stream was cut: only a 404 on the session says it");
    await client.close();
    judge('session-lost', expected, log);
    process.exit();
  }
  outcome = await settledWithin(settled, waitMs);
} else {
  log.warn('the call finished before the cancel was due');
}
if ('silent' in outcome!) log.highlight(`no reply within ${waitMs} ms of the cancel`);
else if ('error' in outcome!) log.highlight(`<- error: ${(outcome.error as Error).message}`);
else
  log.highlight(
    `<- result: ${(outcome!.result as CallToolResult).content.map((c) => (c.type === 'text' ? c.text : '')).join(' ')}`,
  );

// The proof is on the replica that ran the call: ask it.
const askStatus = async () => {
  const answer = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } }, CallToolResultSchema);
  return answer.isError ? undefined : (answer.structuredContent as JobReport); // isError: this replica never ran it
};
const job = await askTheReplicaThatRanIt(id, askStatus, () => lastServedBy, log, chunks * chunkDelayMs + 5000);
if (transport.sessionId) await transport.terminateSession();
await client.close();

judge(job?.state === 'cancelled' && job.fileHandle === 'closed' ? 'stopped' : (job?.state ?? 'failed'), expected, log);
