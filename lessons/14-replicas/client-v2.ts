// Lesson 14 client, SDK 2.x, protocol 2026-07-28: through a plain round-robin balancer, call
// process_large_file and cancel it by aborting. In this revision the cancel is the client closing
// the call's own response stream, and that stream already runs to the replica doing the work: no
// affinity and no bus. Then it asks the replicas in turn which one ran the call and what it did.
//
// Spec: https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http#cancellation
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { judge } from '../01-cancel-by-id/what-came-back.ts';
import { exitPlainlyIfServerLost } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import * as flags from './client-flags.ts';
import { askTheReplicaThatRanIt, type JobReport } from './owner-report.ts';

const { url, chunks, chunkDelayMs, cancelAfterMs, reason, expected } = flags;
const log = createTimeline('client');
const CLUSTER = 'npx tsx lessons/14-replicas/cluster.ts --replicas v2';

// Every request, with the replica that answered it: the balancer adds X-Served-By (haproxy-config.ts).
let lastServedBy = 'no replica';
let callId: unknown;
const namingFetch: typeof fetch = async (input, init) => {
  type Sent = { id?: unknown; method?: string; params?: { name?: string } };
  const body = (typeof init?.body === 'string' ? JSON.parse(init.body) : {}) as Sent;
  const what = body.method === 'tools/call' ? `tools/call ${body.params?.name}` : body.method;
  if (body.params?.name === 'process_large_file') {
    callId = body.id;
    log.event(`-> tools/call #${String(callId)} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart)`);
  }
  const response = await fetch(input, init);
  lastServedBy = response.headers.get('x-served-by') ?? 'no replica';
  if (body.method !== 'tools/call') log.detail(`-> ${what}  <- HTTP ${response.status} from ${lastServedBy}`);
  return response;
};

const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: namingFetch });
const client = new Client(
  { name: 'lesson-14-client-v2', version: '1.0.0' },
  { versionNegotiation: { mode: { pin: '2026-07-28' } } },
);
log.event(`connecting to ${url} (protocol 2026-07-28 only)`);
await client.connect(transport).catch((error: Error) => {
  log.fail(`cannot connect to ${url}: ${error.message}`);
  log.detail(`is the cluster of SDK 2.x replicas running? ${CLUSTER}`);
  process.exit(1);
});
exitPlainlyIfServerLost(log, url, CLUSTER);

const controller = new AbortController();
const call = client
  .callTool(
    { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
    { signal: controller.signal, timeout: chunks * chunkDelayMs + 60_000 },
  )
  .then(
    () => 'completed' as const,
    (error: Error) => error,
  );
const first = await Promise.race([call, sleep(cancelAfterMs, 'due' as const)]);
if (first === 'due') {
  log.highlight(
    `aborting the call after ${cancelAfterMs} ms: the SDK closes its response stream, through the balancer`,
  );
  controller.abort(reason);
  log.event(`the call rejected at once: ${((await call) as Error).message}`);
} else {
  log.warn(`the call finished before the cancel was due: ${first === 'completed' ? 'completed' : first.message}`);
}

// The proof is on the replica that ran the call.
const askStatus = async () => {
  const answer = await client.callTool({ name: 'get_job_status', arguments: { requestId: callId as string | number } });
  return answer.isError ? undefined : (answer.structuredContent as unknown as JobReport);
};
const job = await askTheReplicaThatRanIt(callId, askStatus, () => lastServedBy, log, chunks * chunkDelayMs + 5000);
await client.close();

judge(job?.state === 'cancelled' && job.fileHandle === 'closed' ? 'stopped' : (job?.state ?? 'failed'), expected, log);
