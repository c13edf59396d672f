// Lesson 05 client: cancel an import mid-way and check, on the server, that nothing of it is left;
// retry with the same idempotency key (it runs, since the cancelled call stored nothing); retry
// again (the stored result comes back, and nothing runs).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  isJSONRPCRequest,
  type CallToolResult,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { closeWhenServerGone } from '../02-abort-signal/call-failures.ts';
import { exitLostServer } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { cancelAt, expected, key, stepDelayMs, url, type Story } from './client-flags.ts';
import { describeJob, describeState, inspect, jobWhenDone, retryResult, short, textOf } from './server-checks.ts';

const log = createTimeline('client');

const transport = new StreamableHTTPClientTransport(new URL(url));
/** The ids of the tools/call requests this client sent, in order, read as they left (see lesson 01). */
const callIds: RequestId[] = [];
const send = transport.send.bind(transport);
transport.send = (message, options) => {
  if (isJSONRPCRequest(message) && message.params?.name === 'process_large_file') callIds.push(message.id);
  return send(message, options);
};
const client = new Client({ name: 'lesson-05-client', version: '1.0.0' });

const importArgs = { path: 'records.txt', idempotencyKey: key, batchSize: 10, stepDelayMs };
const importCall = (options: Parameters<Client['callTool']>[2] = {}) =>
  client.callTool({ name: 'process_large_file', arguments: importArgs }, CallToolResultSchema, options);

log.event(`connecting to ${url}`);
try {
  await client.connect(transport);
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/05-cleanup-rollback/server.ts');
  process.exit(1);
}
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);
// A server stopped mid-run: a failed ping says so at once, not a pending call after the SDK's 60 s
// timeout (lesson 02 teaches closeWhenServerGone).
const watch = closeWhenServerGone(client, {
  onLost: (why) => exitLostServer(log, url, 'npx tsx lessons/05-cleanup-rollback/server.ts', why),
});

const problems: string[] = [];
const check = (ok: boolean, what: string) => {
  if (!ok) problems.push(what);
  return ok;
};

// 1. Before.
const before = await inspect(client, key);
log.event(
  `before: report.txt ${short(before.report.sha256)}; ${before.lockFile === 'absent' ? 'lock free' : 'lock held'}`,
);

// 2. The call, cancelled when the server reports the step named by --cancel-at.
const controller = new AbortController();
let cancelledAt: string | undefined;
log.event(`-> tools/call process_large_file records.txt, idempotency key ${key}; will cancel at "${cancelAt}"`);
const first = await importCall({
  signal: controller.signal,
  onprogress: ({ progress, total, message }) => {
    if (cancelledAt || !message?.includes(cancelAt)) return;
    cancelledAt = message;
    log.highlight(`-> cancel at progress ${progress}/${total} "${message}" (AbortController.abort)`);
    controller.abort('user changed their mind'); // the SDK sends notifications/cancelled
  },
}).then(
  (result) => ({ result }),
  (error: Error) => ({ error }),
);
const firstId = callIds[0]!;
if ('error' in first) {
  log.detail(`<- callTool rejected: ${first.error.message} (the SDK's own error for an aborted call)`);
} else {
  log.warn(`<- the call finished before the cancel was sent: ${textOf(first.result as CallToolResult)}`);
}

// 3. What the server did, from its record of the call and from the file system and the database.
const job = await jobWhenDone(client, firstId);
const resources = (job.resources ?? {}) as Record<string, string>;
log.event(`server reports #${firstId}: ${describeJob(job.state as string, resources)}`);
const afterCancel = await inspect(client, key);
log.event(`server checks: ${describeState(afterCancel)}`);
const reportChanged = afterCancel.report.sha256 !== before.report.sha256;
const observed: Story = job.state === 'completed' ? 'completed' : reportChanged ? 'half-written' : 'rolled-back';
if (observed !== 'completed') {
  check(job.state === 'cancelled', `the job is ${job.state}, not cancelled`);
  check(resources.transaction === 'rolled back' || resources.transaction === undefined, 'transaction not rolled back');
  check(afterCancel.rows === 0 && afterCancel.storedResult === null, 'rows or a key survived the cancel');
  if (reportChanged) log.warn(`report.txt changed by the cancelled call: ${short(afterCancel.report.sha256)}`);
  else log.ok(`report.txt untouched: ${short(afterCancel.report.sha256)}, as before`);
} else {
  log.highlight('the cancel came after the commit: the call completed, and its key is stored');
  check(afterCancel.storedResult !== null, 'completed, yet no stored result');
}
check(afterCancel.lockFile === 'absent' && afterCancel.tempDirs.length === 0, 'the lock or a temp dir was left');

// 4. Retry with the same key: runs if the first call stored nothing, replays if it completed.
async function retry(label: string) {
  log.event(`-> ${label}: tools/call process_large_file, same key ${key}`);
  const result = (await importCall()) as CallToolResult;
  return retryResult(client, result, callIds.at(-1)!, log); // exits 1 on a tool error
}
const retried = await retry('retry');
check(
  retried.replayed === (observed === 'completed'),
  'the first retry ran when it should have replayed, or the reverse',
);
const afterRetry = await inspect(client, key);
log.event(`server checks: ${describeState(afterRetry)}`);
const replay = await retry('retry again');
check(replay.replayed, 'the second retry ran again');
check(
  replay.outputSha256 === retried.outputSha256 && replay.completedAt === retried.completedAt,
  'the stored result differs from the first one',
);
const afterReplay = await inspect(client, key);
log.event(`server checks: ${describeState(afterReplay)}`);
check(
  afterReplay.rows === afterRetry.rows && afterReplay.report.sha256 === afterRetry.report.sha256,
  'the replay changed something',
);

watch.stop();
await transport.terminateSession();
await client.close();
log.detail('session ended (DELETE)');

for (const problem of problems) log.fail(problem);
prove({ type: 'outcome', observed, expected, problems });
if (problems.length === 0 && observed === expected) {
  log.ok(`observed: ${observed}, as expected`);
} else {
  log.fail(
    `observed: ${observed}${problems.length ? `, with ${problems.length} problem(s)` : ''}, expected: ${expected}`,
  );
  process.exitCode = 1;
}
