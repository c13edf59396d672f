// Lesson 01 client, SDK 2.x: capture the id of the tools/call as it leaves, cancel it after a delay
// (or on c / Esc) by aborting the call's signal, and report what came back. In the 2025-11-25 era
// the SDK then sends notifications/cancelled itself and rejects the call at once; a reply that
// arrives after that (the server's -32800) never reaches the caller: the SDK drops it.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import {
  Client,
  isJSONRPCNotification,
  isJSONRPCRequest,
  SdkError,
  StreamableHTTPClientTransport,
  type CallToolResult,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/client';
import { REQUEST_CANCELLED } from './cancellation.ts';
import { cancelTrigger } from './cancel-trigger.ts';
import * as flags from './client-flags.ts';
import { printServerReport } from './server-report.ts';
import { judge, settle, settledWithin } from './what-came-back.ts';
import { connectOrExit } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';

const { url, chunks, chunkDelayMs, reason, waitMs, expected } = flags;
const log = createTimeline('client');

// Watch messages leave, as client.ts does: the call's id, and the cancel the SDK sends on abort.
const transport = new StreamableHTTPClientTransport(new URL(url));
const callId = deferred<RequestId>();
const send = transport.send.bind(transport);
transport.send = async (message, options) => {
  const sent = send(message, options);
  if (isJSONRPCRequest(message) && message.method === 'tools/call') void sent.finally(() => callId.resolve(message.id));
  if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
    log.highlight(`-> notifications/cancelled ${JSON.stringify(message.params)} (sent by the SDK on abort)`);
  }
  return sent;
};

const client = new Client({ name: 'lesson-01-client-v2', version: '1.0.0' });
// A reply to a request the SDK already gave up on comes here, and goes no further.
const lateReply = deferred<JSONRPCMessage>();
client.onerror = (error) => {
  const late = /unknown message ID: (.*)$/s.exec(error.message);
  if (late) lateReply.resolve(JSON.parse(late[1]!) as JSONRPCMessage);
};
log.event(`connecting to ${url}`);
await connectOrExit(client, transport, url, log);
log.detail(`session ${transport.sessionId}, protocol ${client.getNegotiatedProtocolVersion()}`);

const controller = new AbortController(); // aborting the call's signal is the cancel
const settled = settle(
  client.callTool(
    { name: 'process_large_file', arguments: { path: flags.path, chunks, chunkDelayMs } },
    { signal: controller.signal, timeout: chunks * chunkDelayMs + 60_000 },
  ),
);
const id = await callId.promise;
log.event(
  `-> tools/call #${id} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart); id captured as it left`,
);

let observed: flags.Outcome | 'failed';
const trigger = flags.cancel ? cancelTrigger(flags.cancelAfterMs, flags.inTerminal, log) : undefined;
const first = await Promise.race([settled, trigger?.fired ?? settled]);
trigger?.dispose();
if (typeof first !== 'string') {
  if (trigger) log.warn('the call finished before the cancel was due');
  const result = 'result' in first ? (first.result as CallToolResult) : undefined;
  prove({ type: 'came-back', ...first });
  const text = result?.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ');
  if (!result) log.fail(`<- error: ${String((first as { error: unknown }).error)}`);
  else (result.isError ? log.highlight : log.ok)(`<- ${result.isError ? 'tool error' : 'result'}: ${text}`);
  observed = !result ? 'failed' : result.isError ? 'tool-error' : 'completed';
} else {
  log.highlight(`aborting the call's signal (${first}, reason: "${reason}")`);
  controller.abort(reason);
  const outcome = await settled;
  const { error } = outcome as { error?: unknown };
  const rejected = error instanceof SdkError ? { code: error.code, message: error.message } : { other: String(error) };
  prove({ type: 'rejected', ...rejected });
  log.event(`<- callTool rejected at once: SdkError ${rejected.code} "${rejected.message}"`);
  // What the server sent back for #id, if anything, reaches only onerror (above).
  const late = await settledWithin(settle(lateReply.promise), waitMs);
  const message = 'result' in late ? (late.result as unknown as Record<string, unknown>) : undefined;
  prove({ type: 'came-back', ...(message ? { late: message } : { silent: true }) });
  const lateError = message?.error as { code: number; data?: unknown } | undefined;
  if (lateError?.code === REQUEST_CANCELLED) {
    log.highlight(`<- then error -32800 "Request cancelled", data ${JSON.stringify(lateError.data)}: the SDK drops it`);
    observed = 'error';
  } else if (message?.result) {
    const text = (message.result as CallToolResult).content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
    log.highlight(`<- then a result (isError: false): "${text}": the SDK drops it`);
    observed = 'result';
  } else {
    log.highlight(`no reply within ${waitMs} ms of the cancel: stopped waiting`);
    observed = 'none';
  }
}
await printServerReport(client, id, log);

await transport.terminateSession(); // DELETE: frees a stream the server never answered
await client.close();
log.detail('session ended (DELETE)');
judge(observed, expected, log);
