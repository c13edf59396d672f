// Lesson 10 client, SDK 2.x: the id-types and initialize scenarios of client.ts, with
// @modelcontextprotocol/client against the lesson's own 1.x server (2025-11-25, a session).
// Ids work as in 1.x; what changed is initialize: aborting connect() sends no cancel for it.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, SdkError, StreamableHTTPClientTransport, type RequestId } from '@modelcontextprotocol/client';
import { cancelAfterMs, chunks, chunkDelayMs, url } from './client-flags.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

const log = createTimeline('client');
type Sent = { method?: string; id?: RequestId; params?: Record<string, unknown> };

/** A 2.x client whose POSTs are recorded as they leave; `slowInitMs` holds back initialize's answer. */
function recordingClient(slowInitMs = 0) {
  const sent: Sent[] = [];
  const answered: number[] = []; // HTTP status of initialize, once the server answered it
  const watchingFetch: typeof fetch = async (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Sent) : undefined;
    if (body) sent.push(body);
    const response = await fetch(input, init);
    if (body?.method === 'initialize') {
      answered.push(response.status);
      if (slowInitMs) await sleep(slowInitMs, undefined, { signal: init?.signal ?? undefined });
    }
    return response;
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: watchingFetch });
  const client = new Client({ name: 'lesson-10-client-v2', version: '1.0.0' });
  client.onerror = () => {}; // the -32800 for a call cancelled by hand arrives as its rejection
  return { client, transport, sent, answered };
}

const main = recordingClient();
log.event(`connecting to ${url}`);
try {
  await main.client.connect(main.transport);
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/10-races-and-ids/server.ts');
  process.exit(1);
}
log.detail(
  `session ${main.transport.sessionId}, protocol ${main.client.getNegotiatedProtocolVersion()} (SDK 2.x client)`,
);
const jobOf = async (id: RequestId) =>
  (await main.client.callTool({ name: 'get_job_status', arguments: { requestId: id } })).structuredContent as {
    state: string;
    chunksDone: number;
    cancelReason?: string;
  };
const cancel = (requestId: RequestId, reason: string) =>
  main.client.notification({ method: 'notifications/cancelled', params: { requestId, reason } });

// == id-types: the same story as client.ts: initialize is #0, and "N" does not cancel N.
log.event('== id-types: initialize is #0; "N" does not cancel N');
const init = main.sent.find((m) => m.method === 'initialize')!;
log.detail(`the SDK sent initialize as #${JSON.stringify(init.id)}; its calls count up from 1`);
const settled = main.client
  .callTool({ name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } })
  .then(
    () => 'result',
    (error: unknown) => error,
  );
const { id } = await waitFor('the call to leave', () => main.sent.find((m) => m.method === 'tools/call'));
log.event(`-> tools/call #${JSON.stringify(id)} process_large_file (${chunks} chunks)`);
await sleep(cancelAfterMs);
await cancel(String(id), 'wrong type');
log.event(`-> notifications/cancelled { requestId: "${id}", reason: "wrong type" }`);
const then = (await jobOf(id!)).chunksDone;
const still = await waitFor(`#${id} to read on`, async () => {
  const job = await jobOf(id!);
  return (job.state !== 'running' || job.chunksDone >= then + 2) && job;
});
log.detail(`#${id} is still ${still.state}: chunk ${then} then, ${still.chunksDone} now`);
await cancel(id!, 'right type');
log.event(`-> notifications/cancelled { requestId: ${id}, reason: "right type" }`);
const outcome = await settled;
const code = (outcome as { code?: unknown }).code;
log.event(`<- #${id} rejected: ${(outcome as Error).constructor.name} ${String(code)} "${(outcome as Error).message}"`);
const job = await waitFor(`#${id} to stop`, async () => {
  const report = await jobOf(id!);
  return report.state !== 'running' && report;
});
log.detail(
  `server reports #${id}: ${job.state} after chunk ${job.chunksDone}/${chunks}; cancel reason "${job.cancelReason}"`,
);
const idTypes: [string, boolean][] = [
  ['initialize was #0', init.id === 0],
  ['the call id is a number', typeof id === 'number'],
  ['"N" stopped nothing', still.state === 'running' && still.chunksDone > then],
  ['N stopped it', job.state === 'cancelled' && job.cancelReason === 'right type' && code === -32800],
];
await main.transport.terminateSession();
await main.client.close();

// == initialize: connect() aborted while initialize's answer is on its way back.
log.event('== initialize: initialize MUST NOT be cancelled; what SDK 2.x does');
const late = recordingClient(500);
const controller = new AbortController();
log.event(
  '-> initialize, the answer 500 ms slow on the network; connect(transport, { signal }) aborts while it is on its way',
);
const connecting = late.client.connect(late.transport, { signal: controller.signal });
await waitFor('the server to answer initialize', () => late.answered.length > 0);
controller.abort('user gave up connecting');
const rejected = await connecting.then(
  () => undefined,
  (error: unknown) => error,
);
log.highlight(
  `<- connect() rejected: ${rejected instanceof SdkError ? `SdkError ${rejected.code} "${rejected.message}"` : String(rejected)}`,
);
const methods = late.sent.map((m) => m.method);
log.ok(`what left the client: ${JSON.stringify(methods)}: no notifications/cancelled for initialize (fixed in 2.1.0)`);
log.warn(
  `the server answered initialize (HTTP ${late.answered[0]}) and made a session; this client never read its id ` +
    `(transport.sessionId: ${late.transport.sessionId}), so it cannot end that session`,
);
const initialize: [string, boolean][] = [
  ['connect() rejected', rejected instanceof SdkError],
  ['no cancel left for initialize', !methods.includes('notifications/cancelled')],
  ['the server answered initialize anyway', late.answered[0] === 200 && late.transport.sessionId === undefined],
];

let failed = 0;
for (const [scenario, checks] of [
  ['id-types', idTypes],
  ['initialize', initialize],
] as const) {
  const missed = checks.filter(([, held]) => !held).map(([what]) => what);
  prove({ type: 'scenario', scenario, checks: checks.map(([what]) => what), missed });
  if (missed.length === 0) log.ok(`${scenario}: as expected`);
  else log.fail(`${scenario}: NOT as expected; these did not hold: ${missed.join('; ')}`);
  failed += missed.length;
}
process.exitCode = failed ? 1 : 0;
