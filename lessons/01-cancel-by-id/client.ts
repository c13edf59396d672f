// Lesson 01 client: capture the id of the tools/call as it leaves, cancel it by that id after a
// delay (or when you press c / Esc), and report what actually came back.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  isJSONRPCRequest,
  McpError,
  type CallToolResult,
  type JSONRPCRequest,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { choiceFlag, exitPlainlyIfServerLost, intFlag, parseFlags } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';

const OUTCOMES = ['error', 'result', 'none', 'completed', 'tool-error'] as const;
type Outcome = (typeof OUTCOMES)[number] | 'failed';
const REQUEST_CANCELLED = -32800; // LSP's RequestCancelled; MCP defines no error code for a cancel

const HELP = `
Lesson 01 client: call process_large_file, cancel it by its request id, print what came back.

Usage: npx tsx lessons/01-cancel-by-id/client.ts [options]

  --url URL            the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3101/mcp)
  --cancel-after MS    send notifications/cancelled this long after the call (default: 1200;
                       in a terminal, 80% of the job: 4000 with the defaults, and c or Esc
                       cancels at once)
  --no-cancel          let the call run to completion
  --chunks N           chunks to split the file into (default: 20)
  --chunk-delay MS     the server's pause after each chunk (default: 250)
  --wait MS            after cancelling, how long to wait for a reply before giving up (default: 3000)
  --expect OUTCOME     the outcome that makes this exit 0 (default: error, or completed with --no-cancel)
                         error      a JSON-RPC error -32800 "Request cancelled"
                         result     a clean-cancel result "Cancelled after N of M chunks"
                         none       no reply at all, the spec's default
                         completed  the full result
                         tool-error a tool error result (isError: true), e.g. for a bad --path
  --reason TEXT        the reason sent with the cancel (default: "user changed their mind")
  --path FILE          the file to process, inside the lesson's data folder (default: sample.txt)
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    'cancel-after': { type: 'string' },
    'no-cancel': { type: 'boolean' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    wait: { type: 'string' },
    expect: { type: 'string' },
    reason: { type: 'string' },
    path: { type: 'string' },
  },
  HELP,
);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3101/mcp';
const cancel = !flags['no-cancel'];
const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 60_000);
// A reader at a terminal needs time to see the prompt and press a key; a script does not.
const inTerminal = process.stdin.isTTY === true;
const cancelAfterMs = intFlag(
  'cancel-after',
  flags['cancel-after'],
  inTerminal ? Math.floor(chunks * chunkDelayMs * 0.8) : 1200,
);
const waitMs = intFlag('wait', flags.wait, 3000);
const expected = choiceFlag('expect', flags.expect, OUTCOMES, cancel ? 'error' : 'completed');
const reason = flags.reason ?? 'user changed their mind';

const log = createTimeline('client');

/**
 * SDK 1.x has no public "next request id" API (the counter is private). Wrapping the transport's
 * `send` sees every message as it leaves, so the id captured is the id on the wire, whatever
 * numbering the SDK uses. The Transport interface is public; the counter is not.
 *
 * It resolves once the server has answered the POST (the SSE stream's headers): SDK 1.x's server
 * hands the request to its handler before it answers (server/webStandardStreamableHttp.js), so a
 * cancel sent from then on cannot overtake the request and find nothing to cancel (the race in
 * the spec's Cancellation, Timing Considerations).
 */
function captureRequestId(
  transport: StreamableHTTPClientTransport,
  matches: (request: JSONRPCRequest) => boolean,
): Promise<RequestId> {
  const captured = deferred<RequestId>();
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    const sent = send(message, options);
    if (isJSONRPCRequest(message) && matches(message)) {
      const answered = () => captured.resolve(message.id);
      sent.then(answered, answered); // a failed send is reported by callTool itself
    }
    return sent;
  };
  return captured.promise;
}

/** Resolves when it is time to cancel: after the delay, or at once when the reader presses c or Esc. */
function cancelTrigger(): { fired: Promise<string>; dispose(): void } {
  const fired = deferred<string>();
  const timer = setTimeout(() => fired.resolve(`after ${cancelAfterMs} ms`), cancelAfterMs);
  const stdin = process.stdin;
  // Raw bytes, not readline's keypress events: readline holds a lone Esc for 500 ms to see whether
  // an escape sequence (an arrow key: ESC [ A) follows. In raw mode a key arrives as one chunk.
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('latin1');
    // Raw mode turns off the terminal's own Ctrl-C, so pass it on.
    if (text.includes('\x03')) process.kill(process.pid, 'SIGINT');
    else if (text === '\x1b') fired.resolve('on a key press: Esc');
    else if (!text.startsWith('\x1b') && /c/i.test(text)) fired.resolve('on a key press: c');
  };
  if (inTerminal) {
    stdin.setRawMode(true);
    stdin.on('data', onData);
    log.detail(`press c or Esc to cancel now, or wait ${cancelAfterMs} ms`);
  }
  return {
    fired: fired.promise,
    dispose() {
      clearTimeout(timer);
      if (inTerminal) {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
      }
    },
  };
}

const textOf = (result: CallToolResult) =>
  result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ');

type Settled = { result: CallToolResult } | { error: unknown } | { silent: true };

function describe(settled: Settled): Outcome {
  if ('silent' in settled) {
    log.highlight(`no response within ${waitMs} ms of the cancel: stopped waiting`);
    log.detail('that is the spec default: a receiver SHOULD NOT reply to a cancelled request');
    return 'none';
  }
  if ('error' in settled) {
    const error = settled.error;
    if (error instanceof McpError && error.code === REQUEST_CANCELLED) {
      log.highlight(`<- error ${error.code} "Request cancelled", data ${JSON.stringify(error.data)}`);
      log.detail("-32800 is LSP's RequestCancelled code; MCP itself defines no error code for a cancel");
      return 'error';
    }
    log.fail(`<- error: ${error instanceof Error ? error.message : String(error)}`);
    return 'failed';
  }
  const { result } = settled;
  const text = textOf(result);
  const status = (result.structuredContent as { status?: string } | undefined)?.status;
  if (result.isError) {
    if (expected === 'tool-error') log.highlight(`<- tool error: ${text}`);
    else log.fail(`<- tool error: ${text}`);
    return 'tool-error';
  }
  if (status === 'cancelled') {
    log.highlight(`<- result (isError: false): "${text}"`);
    return 'result';
  }
  log.ok(`<- result: ${text}`);
  return 'completed';
}

const transport = new StreamableHTTPClientTransport(new URL(url));
const callId = captureRequestId(
  transport,
  (request) => request.method === 'tools/call' && request.params?.name === 'process_large_file',
);
const client = new Client({ name: 'lesson-01-client', version: '1.0.0' });

log.event(`connecting to ${url}`);
try {
  await client.connect(transport);
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/01-cancel-by-id/server.ts');
  process.exit(1);
}
exitPlainlyIfServerLost(log, url, 'npx tsx lessons/01-cancel-by-id/server.ts');
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);

const call = client.callTool(
  { name: 'process_large_file', arguments: { path: flags.path ?? 'sample.txt', chunks, chunkDelayMs } },
  CallToolResultSchema,
  // Long enough that the SDK's own timeout (which would send a second cancel) never fires first.
  { timeout: chunks * chunkDelayMs + 60_000 },
);
const settled: Promise<Settled> = call.then(
  (result) => ({ result: result as CallToolResult }),
  (error: unknown) => ({ error }),
);
const id = await callId;
log.event(
  `-> tools/call #${id} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart); id captured as it left`,
);

let outcome: Settled;
if (!cancel) {
  outcome = await settled;
} else {
  const trigger = cancelTrigger();
  const first = await Promise.race([settled, trigger.fired]);
  trigger.dispose();
  if (typeof first !== 'string') {
    log.warn('the call finished before the cancel was due');
    outcome = first;
  } else {
    log.highlight(`-> notifications/cancelled { requestId: ${JSON.stringify(id)}, reason: "${reason}" } (${first})`);
    await client.notification({ method: 'notifications/cancelled', params: { requestId: id, reason } });
    let timer: NodeJS.Timeout | undefined;
    const silence = new Promise<Settled>((resolve) => (timer = setTimeout(() => resolve({ silent: true }), waitMs)));
    outcome = await Promise.race([settled, silence]);
    clearTimeout(timer);
  }
}
const observed = describe(outcome);

// Ask the server what it did: the proof of a cancel is on the server's side.
const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
const job = status.structuredContent as Record<string, unknown> | undefined;
if (job) {
  const stopped =
    job.state === 'cancelled'
      ? `stopped after chunk ${job.chunksDone}/${job.chunksTotal} ` +
        `(cancel arrived after chunk ${job.chunksDoneWhenCancelArrived}; stopped ${job.cancelToStopMs} ms later)`
      : `${job.state}, ${job.chunksDone}/${job.chunksTotal} chunks`;
  log.event(`server reports #${id}: ${stopped}`);
  log.event(
    `server reports #${id}: file handle ${job.fileHandle}, response stream ${job.responseStream}, replied ${job.reply ?? 'nothing yet'}`,
  );
} else {
  log.warn(`server has no record of #${id}: ${textOf(status as CallToolResult)}`);
}

// DELETE ends the session. With SDK 1.x that is how a client frees a stream held open by a
// request the server never answered.
await transport.terminateSession();
await client.close();
log.detail('session ended (DELETE)');

if (observed === expected) {
  log.ok(`observed: ${observed}, as expected`);
} else {
  log.fail(`observed: ${observed}, expected: ${expected}`);
  process.exitCode = 1;
}
