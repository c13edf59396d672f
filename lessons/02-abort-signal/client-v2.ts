// Lesson 02 client, SDK 2.x: the same flow as client.ts, with @modelcontextprotocol/client against the
// lesson's own 1.x server (2025-11-25, a session). Abort a call's signal, see what the caller gets
// (still the timeout code, #2165), and that one signal can now serve many calls: 2.x removes its
// listener when a call settles, so finished calls get no cancel and no listener piles up.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { getEventListeners } from 'node:events';
import {
  Client,
  SdkError,
  SdkErrorCode,
  StreamableHTTPClientTransport,
  type RequestId,
} from '@modelcontextprotocol/client';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';
import * as flags from './client-flags.ts';
import { printServerReport } from './server-report.ts';

const { url, scenario, cancelAfterMs, timeoutMs, chunks, chunkDelayMs, reason } = flags;
const log = createTimeline('client');
if (scenario === 'lost-connection') {
  console.error('client-v2.ts runs --scenario cancel or timeout; lost-connection is client.ts (README section 2)');
  process.exit(2);
}

// Show what the SDK sends, as it leaves: the call's id, and the cancel the SDK sends for us.
const callIds: RequestId[] = [];
const watchingFetch: typeof fetch = (input, init) => {
  const body =
    typeof init?.body === 'string'
      ? (JSON.parse(init.body) as { method?: string; id?: RequestId; params?: { name?: string } })
      : undefined;
  if (body?.method === 'tools/call' && body.params?.name === 'process_large_file') callIds.push(body.id!);
  if (body?.method === 'notifications/cancelled') {
    prove({ type: 'cancel-sent', params: body.params });
    log.highlight(`-> notifications/cancelled ${JSON.stringify(body.params)} (sent by the SDK)`);
  }
  return fetch(input, init);
};
const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: watchingFetch });
const client = new Client({ name: 'lesson-02-client-v2', version: '1.0.0' });
client.onerror = () => {}; // the server's late -32800 for a call the SDK already gave up on

log.event(`connecting to ${url}`);
try {
  await client.connect(transport);
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/02-abort-signal/server.ts');
  process.exit(1);
}
log.detail(`session ${transport.sessionId}, protocol ${client.getNegotiatedProtocolVersion()} (SDK 2.x client)`);

// One signal for the page: in 2.x it may serve many calls. Three short ones finish first.
const page = new AbortController();
const call = (n: number, delay: number, timeout?: number) =>
  client.callTool(
    { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: n, chunkDelayMs: delay } },
    { signal: page.signal, timeout: timeout ?? n * delay + 60_000 },
  );
for (let i = 0; i < 3; i++) await call(1, 0);
const listeners = getEventListeners(page.signal, 'abort').length;
prove({ type: 'listeners-after-finished-calls', finished: 3, listeners });
log.detail(`3 calls finished on one signal; abort listeners left on it: ${listeners}`);

const long = call(chunks, chunkDelayMs, scenario === 'timeout' ? timeoutMs : undefined);
const id = await waitFor("the long call's id", () => callIds[3]); // taken as it left, never guessed
log.event(
  `-> tools/call #${JSON.stringify(id)} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart)` +
    (scenario === 'timeout' ? `, timeout ${timeoutMs} ms` : ''),
);
const cancelTimer =
  scenario === 'cancel'
    ? setTimeout(() => {
        prove({ type: 'abort', reason });
        log.highlight(`page.abort("${reason}") after ${cancelAfterMs} ms`);
        page.abort(reason);
      }, cancelAfterMs)
    : undefined;

let observed: 'cancelled' | 'timed out' | 'completed' | 'failed';
try {
  await long;
  log.warn('<- the call completed');
  observed = 'completed';
} catch (error) {
  // The code is REQUEST_TIMEOUT for an abort too (#2165, open in 2.4.0): ask your own signal.
  const timedOut = error instanceof SdkError && (error.data as { timeout?: number } | undefined)?.timeout;
  observed = page.signal.aborted ? 'cancelled' : timedOut ? 'timed out' : 'failed';
  const { constructor, message, code } = error as Error & { code?: unknown };
  prove({ type: 'rejected', name: constructor.name, code, message, observed, aborted: page.signal.aborted });
  log.event(`<- rejected: ${constructor.name} code ${String(code)}: "${message}"`);
  log.highlight(
    `${observed} (signal.aborted: ${page.signal.aborted}; the code is ${SdkErrorCode.RequestTimeout} either way)`,
  );
} finally {
  clearTimeout(cancelTimer);
}

// The proof is on the server's side: ask it what it did with the call.
await printServerReport(client, id, log);
await transport.terminateSession();
log.detail('session ended (DELETE)');
await client.close();

const expected = flags.EXPECTED[scenario];
prove({ type: 'outcome', observed, expected });
if (observed === expected) {
  log.ok(`observed: ${observed}, as the ${scenario} scenario expects`);
} else {
  log.fail(`observed: ${observed}, but the ${scenario} scenario expects: ${expected}`);
  process.exitCode = 1;
}
