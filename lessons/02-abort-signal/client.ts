// Lesson 02 client: cancel a tools/call the SDK way, with an AbortSignal, and tell a user's cancel
// from a timeout and from a lost connection, which SDK 1.x does not do for you.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isJSONRPCNotification, isJSONRPCRequest, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';
import { classifyCallFailure, closeWhenServerGone, holdCancelsUntilSent, type CallFailure } from './call-failures.ts';
import * as flags from './client-flags.ts';
import { printServerReport } from './server-report.ts';

const { url, scenario, cancelAfterMs, timeoutMs, pingEveryMs, chunks, chunkDelayMs, reason } = flags;
const log = createTimeline('client');

const transport = new StreamableHTTPClientTransport(new URL(url));
holdCancelsUntilSent(transport);
// Show what the SDK sends, as it leaves: the call's id, and the cancel the SDK sends for us.
const callId = deferred<RequestId>();
const send = transport.send.bind(transport);
transport.send = (message, options) => {
  if (isJSONRPCRequest(message) && message.method === 'tools/call') callId.resolve(message.id);
  if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
    prove({ type: 'cancel-sent', params: message.params });
    log.highlight(`-> notifications/cancelled ${JSON.stringify(message.params)} (sent by the SDK)`);
  }
  return send(message, options);
};
const client = new Client({ name: 'lesson-02-client', version: '1.0.0' });

log.event(`connecting to ${url}`);
try {
  await client.connect(transport);
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/02-abort-signal/server.ts');
  process.exit(1);
}
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);

const watch = closeWhenServerGone(client, {
  everyMs: pingEveryMs,
  onLost: (why) => {
    prove({ type: 'server-gone', why: (why as Error).message });
    log.highlight(`ping failed (${(why as Error).message}): server gone, closing the client`);
  },
});
const controller = new AbortController(); // one per call: never share a signal between calls
const call = client.callTool(
  { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
  undefined,
  { signal: controller.signal, timeout: scenario === 'timeout' ? timeoutMs : chunks * chunkDelayMs + 60_000 },
);
const id = await callId.promise;
log.event(
  `-> tools/call #${JSON.stringify(id)} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart)` +
    (scenario === 'timeout' ? `, timeout ${timeoutMs} ms` : ''),
);
let cancelTimer: NodeJS.Timeout | undefined;
if (scenario === 'cancel') {
  cancelTimer = setTimeout(() => {
    prove({ type: 'abort', reason });
    log.highlight(`controller.abort("${reason}") after ${cancelAfterMs} ms`);
    controller.abort(reason);
  }, cancelAfterMs);
}

let observed: CallFailure | 'completed';
try {
  await call;
  log.warn('<- the call completed');
  observed = 'completed';
} catch (error) {
  observed = classifyCallFailure(error, controller.signal);
  const { constructor, message, code } = error as Error & { code?: unknown };
  const { aborted } = controller.signal;
  const why = aborted ? String(controller.signal.reason) : undefined;
  prove({ type: 'rejected', name: constructor.name, code, message, observed, aborted, reason: why });
  log.event(`<- rejected: ${constructor.name} code ${String(code)}: "${message}"`);
  log.highlight(
    `classifyCallFailure: ${observed} (signal.aborted: ${aborted}` +
      (aborted ? `, reason: ${JSON.stringify(why)}` : '') +
      ')',
  );
} finally {
  clearTimeout(cancelTimer);
  watch.stop();
}

// The proof is on the server's side: ask it what it did with the call.
if (observed === 'connection lost') {
  log.event('no server to ask: the session went with it');
} else {
  await printServerReport(client, id, log);
  await transport.terminateSession();
  log.detail('session ended (DELETE)');
}
await client.close();

const expected = flags.EXPECTED[scenario];
prove({ type: 'outcome', observed, expected });
if (observed === expected) {
  log.ok(`observed: ${observed}, as the ${scenario} scenario expects`);
} else {
  log.fail(`observed: ${observed}, but the ${scenario} scenario expects: ${expected}`);
  if (scenario === 'lost-connection') log.detail('start the server with --crash-at-chunk 3 for this scenario');
  process.exitCode = 1;
}
