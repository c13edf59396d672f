// Lesson 09 client: walk away from a running tool call and ask the server what happened to it,
// or cancel N calls and count what the server still holds for them.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#sending-messages-to-the-server
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isJSONRPCRequest, type CallToolResult, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { choiceFlag, exitPlainlyIfServerLost, intFlag, parseFlags } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';
import type { HeldResources } from './held-resources.ts';
import { deleteSession, jobStatusInSession, type JobReport } from './session-over-http.ts';

const SCENARIOS = ['disconnect', 'wait', 'leak'] as const;
const OUTCOMES = ['ran-on', 'stopped', 'completed', 'shutdown', 'held', 'released'] as const;
type Outcome = (typeof OUTCOMES)[number] | 'failed';

const HELP = `
Lesson 09 client: disconnect from a running call, or cancel many and count what stays held.

Usage: npx tsx lessons/09-disconnects-and-shutdown/client.ts [options]

  --url URL               the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3109/mcp)
  --scenario NAME         what to do (default: disconnect)
                            disconnect  start a call, close the transport after --disconnect-after ms,
                                        then ask the server (same session, plain HTTP) how the job ended
                            wait        start a call and wait for its reply (stop the server meanwhile)
                            leak        cancel --cancels calls one by one, count what the server holds
  --disconnect-after MS   (disconnect) when to close the transport (default: 1000)
  --cancels N             (leak) how many calls to start and cancel (default: 20)
  --chunks N              chunks per call (default: 12)
  --chunk-delay MS        the server's pause after each chunk (default: 250)
  --expect OUTCOME        the outcome that makes this exit 0
                            disconnect: ran-on (default) or stopped (server with --disconnect-means-cancel)
                            wait:       completed (default) or shutdown (the server was stopped mid-call)
                            leak:       released (default) or held (server with --on-cancel none)
  -h, --help              show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    scenario: { type: 'string' },
    'disconnect-after': { type: 'string' },
    cancels: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3109/mcp';
const scenario = choiceFlag('scenario', flags.scenario, SCENARIOS, 'disconnect');
const disconnectAfterMs = intFlag('disconnect-after', flags['disconnect-after'], 1000);
const cancels = intFlag('cancels', flags.cancels, 20, 1, 1000);
const chunks = intFlag('chunks', flags.chunks, 12, 1, 10_000);
const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 60_000);
const defaults = { disconnect: 'ran-on', wait: 'completed', leak: 'released' } as const;
const expected = choiceFlag('expect', flags.expect, OUTCOMES, defaults[scenario]);

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
try {
  await client.connect(transport);
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/09-disconnects-and-shutdown/server.ts');
  process.exit(1);
}
exitPlainlyIfServerLost(log, url, 'npx tsx lessons/09-disconnects-and-shutdown/server.ts');
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

/** The job has ended and its `finally` has run: file closed, scratch file removed. */
const cleanedUp = (job: JobReport) =>
  job.state !== 'running' && job.fileHandle === 'closed' && job.resources?.['scratch file'] === 'removed';

async function disconnect(): Promise<Outcome> {
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
  const how =
    job.state === 'completed'
      ? `ran on to completion: ${job.chunksDone}/${job.chunksTotal} chunks`
      : `${job.state} after chunk ${job.chunksDone}/${job.chunksTotal} (${job.resources?.['stopped by'] ?? '?'})`;
  log.event(`server reports #${String(id)} (asked over HTTP in the same session): ${how}`);
  log.event(
    `server reports #${String(id)}: response stream ${job.resources?.['response stream'] ?? job.responseStream}, ` +
      `file handle ${job.fileHandle}, scratch file ${job.resources?.['scratch file']}`,
  );
  log.detail(`session ended (DELETE: HTTP ${await deleteSession(url, sessionId)})`);
  return job.state === 'completed' ? 'ran-on' : job.state === 'cancelled' ? 'stopped' : 'failed';
}

async function wait(): Promise<Outcome> {
  const call = startCall();
  const id = await waitFor('the call to leave', () => callIds[0]);
  log.event(`-> tools/call #${String(id)} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart); waiting`);
  const result = (await call) as CallToolResult;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
  closing = true;
  await client.close();
  if (!result.isError) {
    log.ok(`<- result: ${text}`);
    return 'completed';
  }
  log.highlight(`<- tool error: ${text}`);
  return /server shutting down/.test(text) ? 'shutdown' : 'failed';
}

const held = async () =>
  (await client.callTool({ name: 'count_held_resources', arguments: {} })).structuredContent as HeldResources;
const show = (r: HeldResources) =>
  `${r.openResponseStreams} open response streams, ${r.sdkStreams} SDK streams with a keep-alive timer, ` +
  `${r.sdkRequestMappings} request-to-stream entries, ${r.tcpConnections ?? '?'} TCP connections`;

async function leak(): Promise<Outcome> {
  const before = await held();
  log.event(`server holds, before: ${show(before)}`);
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
    const counts = await held();
    return counts.openResponseStreams === counts.sdkStreams && counts;
  });
  log.event(`server holds, after:  ${show(after)}`);
  if (lateReplies > 0) log.detail(`ignored ${lateReplies} replies to calls already given up (as the spec asks)`);
  await transport.terminateSession();
  await client.close();
  log.detail('session ended (DELETE)');
  return after.openResponseStreams >= cancels ? 'held' : after.openResponseStreams === 0 ? 'released' : 'failed';
}

const observed = await { disconnect, wait, leak }[scenario]();
if (observed === expected) {
  log.ok(`observed: ${observed}, as expected`);
} else {
  log.fail(`observed: ${observed}, expected: ${expected}`);
  process.exitCode = 1;
}
