// Lesson 08 client: a fast reader. Calls export_log, counts the lines of the live view as they
// arrive, gets a result capped in size with a link to the full output, reads that link, and checks
// the full output against the hash the server reported. With --cancel-after-lines it cancels instead.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/server/tools#resource-links
import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { watchCallIds } from '../01-cancel-by-id/capture-request-id.ts';
import { connectOrExit, intFlag, parseFlags } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

const HELP = `
Lesson 08 client: call export_log, read the live view, the capped result, and the full output behind its link.

Usage: npx tsx lessons/08-backpressure/client.ts [options]

  --url URL                the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3108/mcp)
  --lines N                lines to export (default: 20000)
  --max-result-bytes N     the most output the result itself may carry (default: 2048)
  --cancel-after-lines N   cancel once this many live lines have arrived, and check nothing half-written is left
  -h, --help               show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    lines: { type: 'string' },
    'max-result-bytes': { type: 'string' },
    'cancel-after-lines': { type: 'string' },
  },
  HELP,
);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3108/mcp';
const lines = intFlag('lines', flags.lines, 20_000, 1, 5_000_000);
const maxResultBytes = intFlag('max-result-bytes', flags['max-result-bytes'], 2048, 256, 1_000_000);
const cancelAfter = flags['cancel-after-lines'] ? intFlag('cancel-after-lines', flags['cancel-after-lines'], 0, 1) : 0;

const log = createTimeline('client');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type Completed = { lines: number; bytes: number; sha256: string; linesInResult: number; uri: string };
type LogData = { skippedBefore: number; lines: string[] };

const client = new Client({ name: 'lesson-08-client', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(url));
const nextCallId = watchCallIds(transport, 'export_log');
log.event(`connecting to ${url}`);
await connectOrExit(client, transport, url, log); // or says plainly that no server answered

const abort = new AbortController();
let liveLines = 0;
let liveMessages = 0;
client.setNotificationHandler(LoggingMessageNotificationSchema, ({ params }) => {
  const data = params.data as LogData;
  liveMessages++;
  liveLines += data.lines.length;
  if (cancelAfter && liveLines >= cancelAfter && !abort.signal.aborted) abort.abort('enough lines seen');
});

log.event(`-> tools/call export_log { lines: ${lines}, maxResultBytes: ${maxResultBytes} }`);
let failed: boolean;
const callId = nextCallId();
try {
  const result = (await client.callTool(
    { name: 'export_log', arguments: { lines, maxResultBytes } },
    CallToolResultSchema,
    {
      signal: abort.signal,
    },
  )) as CallToolResult;
  if (result.isError) throw new Error(result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' '));
  const done = result.structuredContent as Completed;
  const link = result.content.find((c) => c.type === 'resource_link');
  log.event(`<- live view: ${liveLines} lines in ${liveMessages} notifications/message`);
  prove({ type: 'came-back', liveLines, liveMessages, result });
  log.ok(
    `<- result: ${done.linesInResult} of ${done.lines} lines inline (the result is capped at ${maxResultBytes} bytes), ` +
      `sha256 ${done.sha256.slice(0, 12)}…, and a resource_link ${link?.uri} (${link?.size} bytes)`,
  );
  // Follow the link: the full output, read when the client wants it, in one resources/read.
  const read = await client.readResource({ uri: done.uri });
  const text = read.contents.map((c) => ('text' in c ? c.text : '')).join('');
  const fullLines = text.split('\n').length - 1;
  const intact = sha256(text) === done.sha256 && fullLines === done.lines && Buffer.byteLength(text) === done.bytes;
  prove({ type: 'read', uri: done.uri, lines: fullLines, sha256: sha256(text), intact });
  if (intact) log.ok(`<- resources/read ${done.uri}: ${fullLines} lines, sha256 matches: complete and intact`);
  else log.fail(`<- resources/read ${done.uri}: ${fullLines} lines, sha256 ${sha256(text)}: does not match`);
  failed = !intact || cancelAfter > 0;
} catch (error) {
  if (!abort.signal.aborted) throw error;
  log.highlight(
    `abort("${String(abort.signal.reason)}") after ${liveLines} live lines: the SDK sent notifications/cancelled`,
  );
  // The proof is on the server's side: what it stopped and whether it left a partial output behind.
  const requestId = await callId;
  type Job = { state: string; chunksDone: number; chunksTotal: number; resources?: Record<string, string> };
  const job = await waitFor('the server to stop the job', async () => {
    const status = await client.callTool({ name: 'get_job_status', arguments: { requestId } });
    const report = status.structuredContent as Job;
    return report.state !== 'running' && report;
  });
  prove({ type: 'server-report', requestId, job });
  log.event(
    `server reports #${requestId}: ${job.state} after batch ${job.chunksDone}/${job.chunksTotal}; output file ${job.resources?.['output file']}`,
  );
  failed = job.state !== 'cancelled' || job.resources?.['output file'] !== 'deleted (partial)';
}

await transport.terminateSession();
await client.close();
if (failed) {
  log.fail('not what was expected');
  process.exitCode = 1;
} else {
  log.ok(cancelAfter ? 'cancelled, and no partial output left behind' : 'complete output, capped result, intact file');
}
