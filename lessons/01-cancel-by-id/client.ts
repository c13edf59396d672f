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
import { cancelTrigger } from './cancel-trigger.ts';
import * as flags from './client-flags.ts';
import { printServerReport } from './server-report.ts';
import { exitPlainlyIfServerLost } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';

const { url, chunks, chunkDelayMs, reason, waitMs, expected } = flags;
const REQUEST_CANCELLED = -32800; // LSP's RequestCancelled; MCP defines no error code for a cancel
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

type Settled = { result: CallToolResult } | { error: unknown } | { silent: true };

/** Names what came back for the cancelled call, and says it: an error -32800, a result, or nothing. */
function describe(settled: Settled): (typeof flags.OUTCOMES)[number] | 'failed' {
  if ('silent' in settled) {
    log.highlight(`no response within ${waitMs} ms of the cancel: stopped waiting`);
    log.detail('that is the spec default: a receiver SHOULD NOT reply to a cancelled request');
    return 'none';
  }
  if ('error' in settled) {
    const { error } = settled;
    if (error instanceof McpError && error.code === REQUEST_CANCELLED) {
      log.highlight(`<- error ${error.code} "Request cancelled", data ${JSON.stringify(error.data)}`);
      log.detail("-32800 is LSP's RequestCancelled code; MCP itself defines no error code for a cancel");
      return 'error';
    }
    log.fail(`<- error: ${error instanceof Error ? error.message : String(error)}`);
    return 'failed';
  }
  const { result } = settled;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ');
  if (result.isError) {
    (expected === 'tool-error' ? log.highlight : log.fail)(`<- tool error: ${text}`);
    return 'tool-error';
  }
  if ((result.structuredContent as { status?: string } | undefined)?.status === 'cancelled') {
    log.highlight(`<- result (isError: false): "${text}"`);
    return 'result';
  }
  log.ok(`<- result: ${text}`);
  return 'completed';
}

const transport = new StreamableHTTPClientTransport(new URL(url));
const callId = captureRequestId(
  transport,
  (req) => req.method === 'tools/call' && req.params?.name === 'process_large_file',
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
  { name: 'process_large_file', arguments: { path: flags.path, chunks, chunkDelayMs } },
  CallToolResultSchema,
  // Long enough that the SDK's own timeout (which would send a second cancel) never fires first.
  { timeout: chunks * chunkDelayMs + 60_000 },
);
const settled = call.then(
  (result): Settled => ({ result: result as CallToolResult }),
  (error: unknown): Settled => ({ error }),
);
const id = await callId;
log.event(
  `-> tools/call #${id} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart); id captured as it left`,
);

let outcome: Settled;
const trigger = flags.cancel ? cancelTrigger(flags.cancelAfterMs, flags.inTerminal, log) : undefined;
const first = await Promise.race([settled, trigger?.fired ?? settled]);
trigger?.dispose();
if (typeof first !== 'string') {
  if (trigger) log.warn('the call finished before the cancel was due');
  outcome = first;
} else {
  log.highlight(`-> notifications/cancelled { requestId: ${JSON.stringify(id)}, reason: "${reason}" } (${first})`);
  await client.notification({ method: 'notifications/cancelled', params: { requestId: id, reason } });
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<Settled>((resolve) => (timer = setTimeout(() => resolve({ silent: true }), waitMs)));
  outcome = await Promise.race([settled, silence]);
  clearTimeout(timer);
}
const observed = describe(outcome);
await printServerReport(client, id, log);

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
