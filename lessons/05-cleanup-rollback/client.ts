// Lesson 05 client: cancel an import mid-way and check, on the server, that nothing of it is left;
// retry with the same idempotency key (it runs, since the cancelled call stored nothing); retry
// again (the stored result comes back, and nothing runs).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  isJSONRPCRequest,
  type CallToolResult,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { closeWhenServerGone } from '../02-abort-signal/call-failures.ts';
import { choiceFlag, exitLostServer, intFlag, parseFlags } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';

const STORIES = ['rolled-back', 'half-written', 'completed'] as const;
type Story = (typeof STORIES)[number];

const HELP = `
Lesson 05 client: cancel process_large_file mid-way, prove nothing is left, retry with the same
idempotency key, and retry again to get the stored result.

Usage: npx tsx lessons/05-cleanup-rollback/client.ts [options]

  --url URL          the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3105/mcp)
  --cancel-at TEXT   cancel when the server reports the first step containing TEXT (default: "batch 3")
                     steps: lock taken, temp dir created, transaction begun,
                     batch N/M: rows inserted, batch N/M: written to the temp file,
                     temp file synced, result stored with its key, committed, report.txt replaced
  --step-delay MS    the server's pause after each step (default: 100)
  --key KEY          the idempotency key (default: a new random one each run)
  --expect STORY     what makes this exit 0 (default: rolled-back)
                       rolled-back   the cancel undid everything; the first retry runs; the second replays
                       half-written  the same, but report.txt was changed (a server run with --write-in-place)
                       completed     the cancel came after the commit: the call completed; both retries replay
  -h, --help         show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    'cancel-at': { type: 'string' },
    'step-delay': { type: 'string' },
    key: { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3105/mcp';
const cancelAt = flags['cancel-at'] ?? 'batch 3';
const stepDelayMs = intFlag('step-delay', flags['step-delay'], 100, 0, 10_000);
const key = flags.key ?? `import-${randomBytes(4).toString('hex')}`;
const expected = choiceFlag('expect', flags.expect, STORIES, 'rolled-back');

const log = createTimeline('client');

interface SideEffects {
  lockFile: string;
  tempDirs: string[];
  report: { exists: boolean; sha256?: string };
  rows?: number;
  storedResult?: Record<string, unknown> | null;
}
interface ImportResult {
  rows: number;
  batches: number;
  outputSha256: string;
  completedAt: string;
  replayed: boolean;
}

const short = (sha: string | undefined) => (sha ? `sha256 ${sha.slice(0, 12)}…` : 'absent');
const textOf = (result: CallToolResult) =>
  result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ');

const transport = new StreamableHTTPClientTransport(new URL(url));
/** The ids of the tools/call requests this client sent, in order, read as they left (see lesson 01). */
const callIds: RequestId[] = [];
const send = transport.send.bind(transport);
transport.send = (message, options) => {
  if (isJSONRPCRequest(message) && message.params?.name === 'process_large_file') callIds.push(message.id);
  return send(message, options);
};
const client = new Client({ name: 'lesson-05-client', version: '1.0.0' });

async function inspect(): Promise<SideEffects> {
  const result = await client.callTool({ name: 'inspect_side_effects', arguments: { idempotencyKey: key } });
  return result.structuredContent as unknown as SideEffects;
}

function describeState(state: SideEffects): string {
  const temp = state.tempDirs.length === 0 ? 'no temp dir' : `temp dirs ${state.tempDirs.join(', ')}`;
  const lock = state.lockFile === 'absent' ? 'lock free' : `lock ${state.lockFile}`;
  const stored = state.storedResult ? 'a stored result' : 'no stored result';
  return `${state.rows} rows and ${stored} for the key; ${lock}; ${temp}; report.txt ${short(state.report.sha256)}`;
}

/** Waits until the server has finished with call `id` (its `finally` has run), and returns its record. */
async function jobWhenDone(id: RequestId): Promise<Record<string, unknown>> {
  for (;;) {
    const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
    const job = status.structuredContent as { state: string; resources?: Record<string, string> } | undefined;
    if (job && job.state !== 'running' && job.resources?.lock !== 'held') return job;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

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
const before = await inspect();
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
const job = await jobWhenDone(firstId);
const resources = (job.resources ?? {}) as Record<string, string>;
log.event(
  `server reports #${firstId}: ${job.state}; cancel arrived after "${resources['cancel arrived after'] ?? '-'}"; ` +
    `transaction ${resources.transaction ?? 'never begun'}, temp dir ${resources['temp dir'] ?? 'never created'}, ` +
    `lock ${resources.lock}, output ${resources.output}`,
);
const afterCancel = await inspect();
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
async function retry(label: string): Promise<ImportResult> {
  log.event(`-> ${label}: tools/call process_large_file, same key ${key}`);
  const result = (await importCall()) as CallToolResult;
  const out = result.structuredContent as unknown as ImportResult;
  if (result.isError) {
    log.fail(`<- tool error: ${textOf(result)}`);
    process.exit(1);
  }
  const id = callIds.at(-1)!;
  const record = await jobWhenDone(id);
  const ran = (record.resources as Record<string, string>)['temp dir'] !== undefined;
  log.ok(
    `<- ${out.replayed ? 'the stored result (replayed: true)' : 'completed'}: ${out.rows} rows in ${out.batches} batches, ` +
      `report.txt ${short(out.outputSha256)}; the server ${ran ? 'ran the import' : 'ran nothing'}`,
  );
  return out;
}
const retried = await retry('retry');
check(
  retried.replayed === (observed === 'completed'),
  'the first retry ran when it should have replayed, or the reverse',
);
const afterRetry = await inspect();
log.event(`server checks: ${describeState(afterRetry)}`);
const replay = await retry('retry again');
check(replay.replayed, 'the second retry ran again');
check(
  replay.outputSha256 === retried.outputSha256 && replay.completedAt === retried.completedAt,
  'the stored result differs from the first one',
);
const afterReplay = await inspect();
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
if (problems.length === 0 && observed === expected) {
  log.ok(`observed: ${observed}, as expected`);
} else {
  log.fail(
    `observed: ${observed}${problems.length ? `, with ${problems.length} problem(s)` : ''}, expected: ${expected}`,
  );
  process.exitCode = 1;
}
