// Lesson 01 client: capture the id of the tools/call as it leaves, cancel it by that id after a
// delay (or when you press c / Esc), and report what actually came back.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { cancelTrigger } from './cancel-trigger.ts';
import { captureRequestId } from './capture-request-id.ts';
import * as flags from './client-flags.ts';
import { printServerReport } from './server-report.ts';
import { describe, judge, settle, settledWithin, type Settled } from './what-came-back.ts';
import { connectOrExit } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';

const { url, chunks, chunkDelayMs, reason, waitMs, expected } = flags;
const log = createTimeline('client');

const transport = new StreamableHTTPClientTransport(new URL(url));
const callId = captureRequestId(
  transport,
  (req) => req.method === 'tools/call' && req.params?.name === 'process_large_file',
);
const client = new Client({ name: 'lesson-01-client', version: '1.0.0' });
log.event(`connecting to ${url}`);
await connectOrExit(client, transport, url, log);
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);

const settled = settle(
  client.callTool(
    { name: 'process_large_file', arguments: { path: flags.path, chunks, chunkDelayMs } },
    CallToolResultSchema,
    // Long enough that the SDK's own timeout (which would send a second cancel) never fires first.
    { timeout: chunks * chunkDelayMs + 60_000 },
  ),
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
  outcome = await settledWithin(settled, waitMs); // the spec's default answer is none at all
}
const observed = describe(outcome, waitMs, expected, log);
await printServerReport(client, id, log);

// DELETE ends the session. With SDK 1.x that is how a client frees a stream held open by a
// request the server never answered.
await transport.terminateSession();
await client.close();
log.detail('session ended (DELETE)');

judge(observed, expected, log);
