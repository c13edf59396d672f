// Lesson 08 slow reader: calls export_log and then reads nothing, the way a stalled client does,
// while it watches the server's memory and job. Then it cancels (if the job is still running),
// reads what is left, and says whether the server's memory stayed bounded.
//
// It uses plain HTTP, not the SDK client: the SDK reads every byte as it arrives, so it cannot stall.
import { request, type IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { openRawSession, type RawSession } from '../shared/raw-mcp.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

const HELP = `
Lesson 08 slow reader: call export_log, read nothing, watch the server's memory, then cancel.

Usage: npx tsx lessons/08-backpressure/slow-reader.ts [options]

  --url URL            the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3108/mcp)
  --lines N            lines to export (default: 1500000, about 120 MB)
  --bound-bytes N      the most the server's memory (RSS) may grow while the reader stalls (default: 120000000)
  --expect RESULT      bounded (default): exit 0 if growth stayed under the bound; unbounded: exit 0 if it did not
  -h, --help           show this help
`;

const flags = parseFlags(
  { url: { type: 'string' }, lines: { type: 'string' }, 'bound-bytes': { type: 'string' }, expect: { type: 'string' } },
  HELP,
);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3108/mcp';
const lines = intFlag('lines', flags.lines, 1_500_000, 1, 5_000_000);
const boundBytes = intFlag('bound-bytes', flags['bound-bytes'], 120_000_000, 1);
const expected = choiceFlag('expect', flags.expect, ['bounded', 'unbounded'] as const, 'bounded');

const log = createTimeline('client');
const CALL_ID = 1;
const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

type Memory = { rss: number; arrayBuffers: number };
type JobReport = {
  state: string;
  chunksDone: number;
  chunksTotal: number;
  chunksDoneWhenCancelArrived?: number;
  resources?: Record<string, string>;
};

let nextId = 100;
async function callTool<T>(session: RawSession, name: string, args: Record<string, unknown> = {}): Promise<T> {
  const reading = await session.stream({
    jsonrpc: '2.0',
    id: nextId++,
    method: 'tools/call',
    params: { name, arguments: args },
  });
  await reading.done;
  const reply = reading.messages.at(-1) as { result?: { structuredContent: T } };
  if (!reply.result) throw new Error(`${name} failed: ${JSON.stringify(reply)}`);
  return reply.result.structuredContent;
}

/** POSTs the call with node:http and pauses the response at once: nothing more is read until resume(). */
function stalledCall(session: RawSession): Promise<IncomingMessage> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: CALL_ID,
    method: 'tools/call',
    params: { name: 'export_log', arguments: { lines } },
  });
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session.sessionId,
        'mcp-protocol-version': session.protocolVersion,
      },
    });
    req.on('response', (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads the rest of the stream: how many lines arrived live, and the final message for the call. */
async function readToEnd(res: IncomingMessage) {
  let liveLines = 0;
  let final: JSONRPCMessage | undefined;
  const parser = createParser({
    onEvent: (event) => {
      const message = JSON.parse(event.data) as JSONRPCMessage & { params?: { data?: { lines?: string[] } } };
      if ('method' in message && message.method === 'notifications/message')
        liveLines += message.params?.data?.lines?.length ?? 0;
      if ('id' in message && message.id === CALL_ID) final = message;
    },
  });
  res.setEncoding('utf8');
  for await (const chunk of res) parser.feed(chunk as string);
  return { liveLines, final };
}

const session = await openRawSession(url).catch((error: Error) => {
  log.fail(`cannot connect to ${url}: ${error.message}`);
  log.detail('is the server running? npx tsx lessons/08-backpressure/server.ts');
  process.exit(1);
});
const before = await callTool<Memory>(session, 'server_memory');
log.event(`server memory before: rss ${mb(before.rss)}`);

const res = await stalledCall(session);
log.event(`-> tools/call #${CALL_ID} export_log (${lines} lines); reading nothing from its stream`);

// Watch until the job completed, or it is blocked waiting for room and has not moved since the last look.
let peak = before.rss;
let job: JobReport | undefined;
let lastDone = -1;
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  const memory = await callTool<Memory>(session, 'server_memory');
  peak = Math.max(peak, memory.rss);
  job = await callTool<JobReport>(session, 'get_job_status', { requestId: CALL_ID }).catch(() => undefined);
  if (!job) continue;
  const blocked = job.resources?.['live view']?.startsWith('waiting for room') && job.chunksDone === lastDone;
  if (job.state !== 'running' || blocked) break;
  lastDone = job.chunksDone;
}
const growth = peak - before.rss;
const produced = job.chunksDone * 1000;
log.highlight(
  `server job: ${job.state}, ${job.chunksDone}/${job.chunksTotal} batches (${produced} lines written to its file); ` +
    `live view: ${job.resources?.['live view'] ?? 'none'}`,
);
log.highlight(
  `server memory: rss ${mb(before.rss)} before, ${mb(peak)} at most: grew ${mb(growth)} (bound ${mb(boundBytes)})`,
);
prove({ type: 'stalled', job, rssBefore: before.rss, rssPeak: peak, growth, boundBytes });

if (job.state === 'running') {
  log.event(`-> notifications/cancelled { requestId: ${CALL_ID} } while the server waits for this reader`);
  await session.post({
    jsonrpc: '2.0',
    method: 'notifications/cancelled',
    params: { requestId: CALL_ID, reason: 'reader stalled' },
  });
  job = await waitFor('the server to stop the job', async () => {
    const report = await callTool<JobReport>(session, 'get_job_status', { requestId: CALL_ID });
    return report.state !== 'running' && report;
  });
  prove({ type: 'server-report', requestId: CALL_ID, job });
  log.event(
    `server reports #${CALL_ID}: ${job.state} after batch ${job.chunksDone}/${job.chunksTotal} ` +
      `(cancel arrived after batch ${job.chunksDoneWhenCancelArrived})`,
  );
  for (const [name, state] of Object.entries(job.resources ?? {}))
    log.event(`server reports #${CALL_ID}: ${name}: ${state}`);
}

log.event('reading the rest of the stream');
const { liveLines, final } = await readToEnd(res);
const outcome =
  final && 'error' in final ? `error ${final.error.code} "${final.error.message}"` : final ? 'the result' : 'nothing';
log.event(`<- ${liveLines} lines live, then ${outcome}`);
prove({ type: 'came-back', liveLines, final });
await session.close();

const bounded = growth < boundBytes;
prove({ type: 'outcome', observed: bounded ? 'bounded' : 'unbounded', expected });
if ((expected === 'bounded') === bounded) {
  log.ok(`memory ${bounded ? 'stayed under' : 'grew past'} the bound, as expected`);
} else {
  log.fail(`memory ${bounded ? 'stayed under' : 'grew past'} the bound; expected ${expected}`);
  process.exitCode = 1;
}
