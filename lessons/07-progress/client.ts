// Lesson 07 client: call a long tool with `onprogress`, draw its progress (a live bar in a terminal,
// plain lines otherwise), print its log messages as what they are, cancel mid-way, and ask the
// server what it stopped, freed, and sent.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/progress
//       https://modelcontextprotocol.io/specification/2025-11-25/server/utilities/logging
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema, McpError, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { connectOrExit } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { waitFor } from '../shared/wait.ts';
import * as flags from './client-flags.ts';
import { drawProgress, log, stopBar } from './progress-bar.ts';
import { listenForCancelKey, restoreTerminalOnExit } from './terminal.ts';
import { proveSettled, whatCameBack } from './what-came-back.ts';
import { recordWire } from './wire.ts';

const { url, chunks, chunkDelayMs, cancelAtPercent, cancel, logLevel, flood, floodLoop, cancelAfterMs } = flags;

const transport = new StreamableHTTPClientTransport(new URL(url));
const client = new Client({ name: 'lesson-07-client', version: '1.0.0' });
const wire = recordWire(transport); // our call's id and progressToken as it leaves; every reply
// What the SDK passes to onerror for a request it no longer tracks (it was cancelled, or it finished).
const late = { progressForInactiveToken: 0, responsesForUnknownId: 0, progressAfterAbort: 0 };
client.onerror = (error) => {
  if (/progress notification for an unknown token/.test(error.message)) late.progressForInactiveToken++;
  if (/response for an unknown message ID/.test(error.message)) late.responsesForUnknownId++;
};

// Log messages are not progress: notifications/message, with a level, for the whole session.
client.setNotificationHandler(LoggingMessageNotificationSchema, ({ params }) => {
  prove({ type: 'log', level: params.level, logger: params.logger, data: params.data });
  log.detail(`log [${params.level}] ${params.logger ?? ''}: ${String(params.data)}`);
});

log.event(`connecting to ${url}`);
await connectOrExit(client, transport, url, log); // or says plainly that no server answered
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);
wire.listen();
await client.setLoggingLevel(logLevel);
log.event(`-> logging/setLevel ${logLevel}: the server sends log messages at ${logLevel} and above`);

const controller = new AbortController();
const keys = cancel ? listenForCancelKey(() => controller.abort('user pressed a key'), log) : undefined;
restoreTerminalOnExit(() => {
  stopBar();
  keys?.dispose();
});
let progressCount = 0;

function onProgress(progress: Progress) {
  progressCount++;
  if (controller.signal.aborted) late.progressAfterAbort++;
  if (flood !== undefined) return; // thousands of them: counted, not printed
  const percent = progress.total ? Math.floor((progress.progress / progress.total) * 100) : 0;
  drawProgress(progress, percent);
  if (cancel && !controller.signal.aborted && percent >= cancelAtPercent) {
    controller.abort(`cancelled at ${cancelAtPercent}%`);
  }
}

const tool =
  flood === undefined
    ? { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } }
    : { name: 'flood_progress', arguments: { notifications: flood, yieldEveryNotification: floodLoop === 'yielding' } };
const pending = client.callTool(tool, undefined, {
  onprogress: onProgress, // this is what makes the SDK add _meta.progressToken
  signal: controller.signal,
  timeout: 600_000,
});
const settled = pending.then(
  () => 'result' as const,
  (error: unknown) => error,
);
const { id, progressToken } = await waitFor('the call to leave', () => wire.call);
log.event(
  `-> tools/call #${id} ${tool.name} ${JSON.stringify(tool.arguments)}, with _meta.progressToken ${JSON.stringify(progressToken)}`,
);
if (flood !== undefined && cancel)
  setTimeout(() => controller.abort(`cancelled after ${cancelAfterMs} ms`), cancelAfterMs);
controller.signal.addEventListener('abort', () => {
  stopBar();
  prove({ type: 'abort', reason: String(controller.signal.reason) });
  log.highlight(`-> abort("${String(controller.signal.reason)}"): the SDK sends notifications/cancelled for #${id}`);
});

const outcome = await settled;
proveSettled(outcome, progressCount);
keys?.dispose();
stopBar();
if (outcome === 'result') log.ok(`<- result, after ${progressCount} progress notifications`);
else if (outcome instanceof McpError) log.highlight(`<- McpError ${outcome.code} "${outcome.message}"`);
else log.fail(`<- ${String(outcome)}`);

const back = whatCameBack(client, wire, controller.signal, log);
if (controller.signal.aborted) await back.finalMessage(id, late);
const job = await back.serverReport(id);
await transport.terminateSession();
await client.close();
log.detail('session ended (DELETE)');

const observed: flags.Outcome = job.state === 'cancelled' ? 'cancelled' : 'completed';
prove({ type: 'outcome', observed, expected: flags.expected });
if (observed === flags.expected) {
  log.ok(`observed: ${observed}, as expected`);
} else {
  log.fail(`observed: ${observed}, expected: ${flags.expected}`);
  process.exitCode = 1;
}
