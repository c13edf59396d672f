// Lesson 09 client: walk away from a running tool call and ask the server what happened to it,
// or cancel N calls and count what the server still holds for them.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#sending-messages-to-the-server
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isJSONRPCRequest, type CallToolResult, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { connectOrExit } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';
import { countHeld, describeHeld } from './held-resources.ts';
import { cleanedUp, deleteSession, howItEnded, jobStatusInSession, type JobReport } from './session-over-http.ts';
import * as flags from './client-flags.ts';
import { judge } from '../01-cancel-by-id/what-came-back.ts';

const { url, scenario, disconnectAfterMs, cancels, chunks, chunkDelayMs, expected } = flags;
const log = createTimeline('client');
const fileArgs = { path: 'sample.txt', chunks, chunkDelayMs };

/** Records the id of each tools/call for process_large_file as it leaves (SDK 1.x has no API for it). */
function watchCallIds(transport: StreamableHTTPClientTransport): RequestId[] {
  const ids: RequestId[] = [];
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (isJSONRPCRequest(message) && message.method === 'tools/call' && message.params?.name === 'process_large_file')
      ids.push(message.id);
    return send(message, options);
  };
  return ids;
}

const transport = new StreamableHTTPClientTransport(new URL(url));
const callIds = watchCallIds(transport);
const client = new Client({ name: 'lesson-09-client', version: '1.0.0' });
// Replies that arrive for calls this client already gave up on: the spec says to ignore them.
let lateReplies = 0;
let closing = false; // closing the transport aborts its streams: the SDK reports each; not news
client.onerror = (error) => {
  if (/unknown message ID/.test(error.message)) lateReplies++;
  else if (!closing) log.detail(`SDK: ${error.message}`);
};

log.event(`connecting to ${url}`);
await connectOrExit(client, transport, url, log); // or says plainly that no server answered
const sessionId = transport.sessionId!;
log.detail(`session ${sessionId}, protocol ${transport.protocolVersion}`);

const startCall = (options: { signal?: AbortSignal } = {}) =>
  client.callTool({ name: 'process_large_file', arguments: fileArgs }, undefined, {
    ...options,
    timeout: chunks * chunkDelayMs + 60_000, // never the SDK's own timeout first
  });

/** Resolves once the server has a record of call `id` with at least one chunk done. */
const started = (id: RequestId) =>
  waitFor(`the server to start #${String(id)}`, async () => {
    const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
    return !status.isError && (status.structuredContent as JobReport).chunksDone > 0;
  });

async function disconnect(): Promise<flags.Outcome> {
  const call = startCall().catch(() => undefined);
  const id = await waitFor('the call to leave', () => callIds[0]);
  log.event(`-> tools/call #${String(id)} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart)`);
  await sleep(disconnectAfterMs);
  // Closing the transport aborts its HTTP requests: the call's response stream is gone. No cancel is sent.
  closing = true;
  await client.close();
  await call; // settles when the transport closes
  log.highlight(`closed the transport after ${disconnectAfterMs} ms: no notifications/cancelled was sent`);

  // The session lives on in the server: ask it, over plain HTTP with the Mcp-Session-Id header.
  const job = await waitFor(
    'the job to end and clean up',
    async () => {
      const report = await jobStatusInSession(url, sessionId, id);
      return cleanedUp(report) && report;
    },
    { timeoutMs: chunks * chunkDelayMs + 10_000, intervalMs: 100 },
  );
  prove({ type: 'server-report', requestId: id, job });
  log.event(`server reports #${String(id)} (asked over HTTP in the same session): ${howItEnded(job)}`);
  log.event(
    `server reports #${String(id)}: response stream ${job.resources?.['response stream'] ?? job.responseStream}, ` +
      `file handle ${job.fileHandle}, scratch file ${job.resources?.['scratch file']}`,
  );
  log.detail(`session ended (DELETE: HTTP ${await deleteSession(url, sessionId)})`);
  return job.state === 'completed' ? 'ran-on' : job.state === 'cancelled' ? 'stopped' : 'failed';
}

async function wait(): Promise<flags.Outcome> {
  const call = startCall();
  const id = await waitFor('the call to leave', () => callIds[0]);
  log.event(`-> tools/call #${String(id)} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart); waiting`);
  const result = (await call) as CallToolResult;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
  prove({ type: 'came-back', isError: result.isError === true, text });
  closing = true;
  await client.close();
  if (!result.isError) {
    log.ok(`<- result: ${text}`);
    return 'completed';
  }
  log.highlight(`<- tool error: ${text}`);
  return /server shutting down/.test(text) ? 'shutdown' : 'failed';
}

async function leak(): Promise<flags.Outcome> {
  const before = await countHeld(client);
  log.event(`server holds, before: ${describeHeld(before)}`);
  for (let i = 0; i < cancels; i++) {
    const controller = new AbortController();
    const call = startCall({ signal: controller.signal }).catch(() => undefined);
    const id = await waitFor('the call to leave', () => callIds[i]);
    await started(id);
    controller.abort('user changed their mind'); // the SDK sends notifications/cancelled
    await call;
    // Done when the server has stopped the handler and dealt with the request's reply.
    await waitFor(`#${String(id)} to stop`, async () => {
      const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
      return (status.structuredContent as JobReport).reply !== undefined;
    });
  }
  log.event(`cancelled ${cancels} calls (AbortSignal: the SDK sent notifications/cancelled for each)`);
  // The HTTP layer sees a stream close a moment after the SDK closes it: count once both agree.
  const after = await waitFor('a settled count', async () => {
    const counts = await countHeld(client);
    return counts.openResponseStreams === counts.sdkStreams && counts;
  });
  log.event(`server holds, after:  ${describeHeld(after)}`);
  prove({ type: 'held', before, after, lateReplies });
  if (lateReplies > 0) log.detail(`ignored ${lateReplies} replies to calls already given up (as the spec asks)`);
  await transport.terminateSession();
  await client.close();
  log.detail('session ended (DELETE)');
  return after.openResponseStreams >= cancels ? 'held' : after.openResponseStreams === 0 ? 'released' : 'failed';
}

judge(await { disconnect, wait, leak }[scenario](), expected, log);
