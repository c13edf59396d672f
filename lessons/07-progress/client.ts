// Lesson 07 client: call a long tool with `onprogress`, draw its progress (a live bar in a terminal,
// plain lines otherwise), print its log messages as what they are, cancel mid-way, and ask the
// server what it stopped, freed, and sent.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/progress
//       https://modelcontextprotocol.io/specification/2025-11-25/server/utilities/logging
import cliProgress from 'cli-progress';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  isJSONRPCRequest,
  LoggingLevelSchema,
  LoggingMessageNotificationSchema,
  McpError,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCResponse,
  type Progress,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { choiceFlag, exitPlainlyIfServerLost, intFlag, parseFlags } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

const OUTCOMES = ['cancelled', 'completed'] as const;
type Outcome = (typeof OUTCOMES)[number];
const FLOOD_LOOPS = ['tight', 'yielding'] as const;
const LOG_LEVELS = LoggingLevelSchema.options;

const HELP = `
Lesson 07 client: a long tool call with a progress bar and log messages; cancel it mid-way.

Usage: npx tsx lessons/07-progress/client.ts [options]

  --url URL               the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3107/mcp)
  --chunks N              chunks to split the file into (default: 20)
  --chunk-delay MS        the server's pause after each chunk (default: 250; 1000 in a terminal, so
                          there is time to press a key)
  --cancel-at-percent P   cancel once progress reaches P% (default: 50; in a terminal, press c or Esc
                          to cancel sooner)
  --no-cancel             let the call run to completion
  --log-level LEVEL       logging/setLevel sent first: ${LOG_LEVELS.join(', ')} (default: info)
  --flood N               call flood_progress instead: N progress notifications as fast as possible
  --flood-loop LOOP       tight (awaits each send, nothing else) or yielding (the fix; default)
  --cancel-after MS       with --flood: cancel this long after the call (default: 100)
  --expect OUTCOME        what makes this exit 0: cancelled or completed (default: cancelled, but
                          completed with --no-cancel or --flood-loop tight)
  -h, --help              show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    'cancel-at-percent': { type: 'string' },
    'no-cancel': { type: 'boolean' },
    'log-level': { type: 'string' },
    flood: { type: 'string' },
    'flood-loop': { type: 'string' },
    'cancel-after': { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3107/mcp';
const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
// In a terminal the reader may press c or Esc before the cancel at 50%: give them 10 s rather than 2.5 s.
const interactive = process.stdin.isTTY && process.stdout.isTTY;
const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], interactive ? 1000 : 250, 0, 60_000);
const cancelAtPercent = intFlag('cancel-at-percent', flags['cancel-at-percent'], 50, 0, 100);
const cancel = !flags['no-cancel'];
const logLevel = choiceFlag('log-level', flags['log-level'], LOG_LEVELS, 'info');
const flood = flags.flood === undefined ? undefined : intFlag('flood', flags.flood, 20_000, 1, 1_000_000);
const floodLoop = choiceFlag('flood-loop', flags['flood-loop'], FLOOD_LOOPS, 'yielding');
const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 100);
const starves = flood !== undefined && floodLoop === 'tight';
const expected = choiceFlag('expect', flags.expect, OUTCOMES, cancel && !starves ? 'cancelled' : 'completed');

// In a terminal the bar redraws in place, and timeline lines print above it; elsewhere (a pipe, CI)
// there is no bar and each progress notification is a plain timeline line.
const live = process.stdout.isTTY && flood === undefined;
const bars = live
  ? new cliProgress.MultiBar(
      {
        format: 'progress [{bar}] {percentage}% | {value}/{total} | {message}',
        barsize: 30,
        stream: process.stdout,
        hideCursor: true,
        // true leaves the terminal's line wrap on; the default (false) turns it off, which cuts every log
        // line at the right edge. The bar itself is still cut to the terminal's width.
        linewrap: true,
        forceRedraw: true, // redraw the bar below a log line even when its value has not changed
      },
      cliProgress.Presets.shades_classic,
    )
  : undefined;
let progressBar: cliProgress.SingleBar | undefined; // on screen from the first progress until stopBar()
const log = createTimeline('client', (line) => {
  if (!progressBar) return console.log(line);
  bars!.log(`${line}\n`);
  bars!.update(); // now, not at the next redraw: clears the bar's line, writes this one, redraws the bar below
});
/** Stops the bar (its last state stays on screen) and shows the cursor again; once, however often it is called. */
const stopBar = () => {
  if (!progressBar) return;
  progressBar = undefined;
  bars!.stop();
};

// What goes out and comes in, as it does: the id and progressToken of our call; replies the SDK no longer waits for.
const transport = new StreamableHTTPClientTransport(new URL(url));
const client = new Client({ name: 'lesson-07-client', version: '1.0.0' });
let call: { id: RequestId; progressToken: unknown } | undefined;
const send = transport.send.bind(transport);
transport.send = (message, options) => {
  if (isJSONRPCRequest(message) && message.method === 'tools/call' && !call) {
    call = { id: message.id, progressToken: message.params?._meta?.progressToken };
  }
  return send(message, options);
};
const received: JSONRPCMessage[] = [];
// What the SDK passes to onerror for a request it no longer tracks (it was cancelled, or it finished).
let progressForInactiveToken = 0;
let responsesForUnknownId = 0;
client.onerror = (error) => {
  if (/progress notification for an unknown token/.test(error.message)) progressForInactiveToken++;
  if (/response for an unknown message ID/.test(error.message)) responsesForUnknownId++;
};

// Log messages are not progress: notifications/message, with a level, for the whole session.
client.setNotificationHandler(LoggingMessageNotificationSchema, ({ params }) => {
  log.detail(`log [${params.level}] ${params.logger ?? ''}: ${String(params.data)}`);
});

log.event(`connecting to ${url}`);
try {
  await client.connect(transport);
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/07-progress/server.ts');
  process.exit(1);
}
exitPlainlyIfServerLost(log, url, 'npx tsx lessons/07-progress/server.ts');
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);
const onmessage = transport.onmessage;
transport.onmessage = (message) => {
  received.push(message);
  onmessage?.(message);
};
await client.setLoggingLevel(logLevel);
log.event(`-> logging/setLevel ${logLevel}: the server sends log messages at ${logLevel} and above`);

const controller = new AbortController();
const keys = cancel ? listenForCancelKey(() => controller.abort('user pressed a key')) : undefined;
// The bar hides the cursor and the keys are read raw: put the terminal back however this process ends.
// 'exit' comes at the end, on process.exit(), and after an uncaught exception or rejection has been
// printed; the monitor comes before it is printed, so the error is not written over the bar.
const restoreTerminal = () => {
  stopBar();
  keys?.dispose();
};
process.on('exit', restoreTerminal);
process.on('uncaughtExceptionMonitor', restoreTerminal);
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  // Without a listener Node dies of the signal at once, and no 'exit' listener runs.
  process.once(signal, () => {
    restoreTerminal();
    process.exit(code);
  });
}
let progressCount = 0;
let progressAfterAbort = 0;

function onProgress({ progress, total, message }: Progress) {
  progressCount++;
  if (controller.signal.aborted) progressAfterAbort++;
  if (flood !== undefined) return; // thousands of them: counted, not printed
  const percent = total ? Math.floor((progress / total) * 100) : 0;
  if (bars) {
    progressBar ??= bars.create(total ?? 0, 0, { message: '' });
    progressBar.update(progress, { message: message ?? '' });
  } else {
    log.event(`progress ${progress}/${total ?? '?'} (${percent}%) "${message ?? ''}"`);
  }
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
await waitFor('the call to leave', () => call);
const { id } = call!;
log.event(
  `-> tools/call #${id} ${tool.name} ${JSON.stringify(tool.arguments)}, with _meta.progressToken ${JSON.stringify(call!.progressToken)}`,
);
if (flood !== undefined && cancel)
  setTimeout(() => controller.abort(`cancelled after ${cancelAfterMs} ms`), cancelAfterMs);
controller.signal.addEventListener('abort', () => {
  stopBar();
  log.highlight(`-> abort("${String(controller.signal.reason)}"): the SDK sends notifications/cancelled for #${id}`);
});

const outcome = await settled;
keys?.dispose();
stopBar();
if (outcome === 'result') log.ok(`<- result, after ${progressCount} progress notifications`);
else if (outcome instanceof McpError) log.highlight(`<- McpError ${outcome.code} "${outcome.message}"`);
else log.fail(`<- ${String(outcome)}`);

// The server's final message for the call comes after the SDK gave up on it; wait for it, so the
// job's record below is complete.
if (controller.signal.aborted) {
  const final = await waitFor(`the server's final message for #${id}`, () => finalMessage(id), { timeoutMs: 30_000 });
  log.detail(
    `<- #${id} the server's final message, which the SDK no longer waits for: ` +
      ('error' in final ? `error ${final.error.code} "${final.error.message}"` : 'a result') +
      (responsesForUnknownId > 0 ? '; the SDK passed it to onerror' : ''),
  );
  log.detail(
    `progress notifications after the abort: ${progressForInactiveToken} passed to onerror (a token no longer ` +
      `active), ${progressAfterAbort} to onprogress`,
  );
}

// The proof is on the server: ask it how the job ended and what it sent.
const job = await finishedJob(id);
const progressSent = job.resources?.progress;
if (job.state === 'cancelled') {
  log.event(
    `server reports #${id}: cancelled after ${job.chunksDone}/${job.chunksTotal}, ${job.cancelToStopMs} ms after the cancel arrived; ` +
      (flood === undefined ? `file handle ${job.fileHandle}; ` : '') +
      `replied ${job.reply}`,
  );
} else {
  log.event(`server reports #${id}: ${job.state}, ${job.chunksDone}/${job.chunksTotal}; replied ${job.reply}`);
}
log.event(`server reports #${id} progress: ${progressSent}`);
if (job.resources?.cancel) log.warn(`server reports #${id}: the cancel was ${job.resources.cancel}`);
await transport.terminateSession();
await client.close();
log.detail('session ended (DELETE)');

const observed: Outcome = job.state === 'cancelled' ? 'cancelled' : 'completed';
if (observed === expected) {
  log.ok(`observed: ${observed}, as expected`);
} else {
  log.fail(`observed: ${observed}, expected: ${expected}`);
  process.exitCode = 1;
}

/** The server's final message (result or error) for the request, including one the SDK no longer waits for. */
function finalMessage(requestId: RequestId) {
  return received.find(
    (m): m is JSONRPCResponse | JSONRPCErrorResponse => ('result' in m || 'error' in m) && m.id === requestId,
  );
}

type JobReport = {
  state: string;
  cancelReason?: string;
  chunksDone: number;
  chunksTotal: number;
  cancelToStopMs?: number;
  fileHandle: string;
  reply?: string;
  resources?: Record<string, string>;
};

/** get_job_status until the job has stopped, its reply has gone out, and any cancel has been read. */
async function finishedJob(requestId: RequestId): Promise<JobReport> {
  return waitFor(
    `the server to finish #${requestId}`,
    async () => {
      const status = await client.callTool({ name: 'get_job_status', arguments: { requestId } });
      const report = status.structuredContent as JobReport | undefined;
      if (!report || report.state === 'running' || report.reply === undefined) return undefined;
      // After an abort, also wait until the server has read the cancel (late, when its loop was starved).
      const cancelRead = report.cancelReason !== undefined || report.resources?.cancel !== undefined;
      return !controller.signal.aborted || cancelRead ? report : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  );
}

/**
 * In a terminal, c or Esc cancels at once. The keys are read as raw bytes rather than readline's
 * keypress events, which hold a lone Esc back for 500 ms (readline's escapeCodeTimeout) in case an
 * arrow key's escape sequence follows; a terminal writes such a sequence whole, so Esc alone arrives
 * as the one byte \x1b. Raw mode also turns Ctrl-C into a byte (\x03): pass it on as SIGINT.
 */
function listenForCancelKey(onCancel: () => void) {
  const stdin = process.stdin;
  if (!stdin.isTTY) return undefined;
  const onData = (data: Buffer) => {
    const key = data.toString();
    if (key === '\x03') process.kill(process.pid, 'SIGINT');
    else if (key === 'c' || key === 'C' || key === '\x1b') onCancel();
  };
  stdin.setRawMode(true);
  stdin.on('data', onData);
  log.detail('press c or Esc to cancel');
  let listening = true;
  return {
    dispose() {
      if (!listening) return;
      listening = false;
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    },
  };
}
