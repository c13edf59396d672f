// Lesson 09 client, SDK 2.x: walk away from a running tool call and ask the server what happened
// to it. In 2026-07-28 walking away is the cancel; in 2025-11-25 it is not.
//
// Spec: https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http#cancellation
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#sending-messages-to-the-server
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Client,
  StreamableHTTPClientTransport,
  type CallToolResult,
  type RequestId,
} from '@modelcontextprotocol/client';
import { choiceFlag, exitPlainlyIfServerLost, intFlag, parseFlags } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';
import { judge } from '../01-cancel-by-id/what-came-back.ts';
import type { JobReport } from './session-over-http.ts';

const HELP = `
Lesson 09 client, SDK 2.x: start process_large_file, then close the client after --disconnect-after ms
(disconnect) or wait for the reply (wait), and ask the server how the job ended.

Usage: npx tsx lessons/09-disconnects-and-shutdown/client-v2.ts [options]

  --url URL              the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3109/mcp)
  --era ERA              2026-07-28 (default) or 2025-11-25 (with a session)
  --scenario NAME        disconnect (default) or wait (stop the server meanwhile: expect shutdown)
  --disconnect-after MS  when to close the client (default: 1000)
  --chunks N             chunks per call (default: 12)
  --chunk-delay MS       the server's pause after each chunk (default: 250)
  --expect OUTCOME       stopped, ran-on, completed or shutdown (default: what the spec says for the era)
  -h, --help             show this help
`;
const f = parseFlags(
  {
    ...{ url: { type: 'string' }, era: { type: 'string' }, scenario: { type: 'string' }, expect: { type: 'string' } },
    ...{ 'disconnect-after': { type: 'string' }, chunks: { type: 'string' }, 'chunk-delay': { type: 'string' } },
  },
  HELP,
);
const url = f.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3109/mcp';
const era = choiceFlag('era', f.era, ['2026-07-28', '2025-11-25'] as const, '2026-07-28');
const scenario = choiceFlag('scenario', f.scenario, ['disconnect', 'wait'] as const, 'disconnect');
const disconnectAfterMs = intFlag('disconnect-after', f['disconnect-after'], 1000);
const chunks = intFlag('chunks', f.chunks, 12, 1, 10_000);
const chunkDelayMs = intFlag('chunk-delay', f['chunk-delay'], 250, 0, 60_000);
const byDefault = scenario === 'wait' ? 'completed' : era === '2026-07-28' ? 'stopped' : 'ran-on';
const expected = choiceFlag('expect', f.expect, ['stopped', 'ran-on', 'completed', 'shutdown'] as const, byDefault);

const log = createTimeline('client');
let callId: RequestId | undefined; // SDK 2.x has no API for a request's id: read it as it leaves
const watchingFetch: typeof fetch = (input, init) => {
  const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { id?: RequestId; method?: string }) : {};
  if (body.method === 'tools/call' && callId === undefined) callId = body.id;
  return fetch(input, init);
};
const connect = async (pinned: string) => {
  const mode = pinned === '2026-07-28' ? { pin: '2026-07-28' as const } : ('legacy' as const);
  const client = new Client({ name: 'lesson-09-client-v2', version: '1.0.0' }, { versionNegotiation: { mode } });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: watchingFetch });
  await client.connect(transport);
  return { client, transport };
};

log.event(`connecting to ${url} (protocol ${era})`);
exitPlainlyIfServerLost(log, url, 'npx tsx lessons/09-disconnects-and-shutdown/server-v2.ts');
const { client, transport } = await connect(era);
const session = transport.sessionId ? `session ${transport.sessionId}` : 'no session';
log.detail(`connected: protocol ${client.getNegotiatedProtocolVersion()}, ${session}`);

const call = client.callTool(
  { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
  { timeout: chunks * chunkDelayMs + 60_000 },
);
const settled = call.then(
  (result) => ({ result: result as CallToolResult }),
  (error: Error) => ({ error }),
);
log.event(
  `-> tools/call #${String(await waitFor('the call to leave', () => callId))} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart)`,
);

async function disconnect(): Promise<'stopped' | 'ran-on' | 'failed'> {
  await sleep(disconnectAfterMs);
  await client.close(); // aborts the call's fetch: its response stream closes. Nothing else is sent.
  await settled;
  log.highlight(`closed the client after ${disconnectAfterMs} ms: no notifications/cancelled was sent`);
  // Ask in a fresh 2026-07-28 request: it has no session, so the server looks the job up by id alone.
  const asker = await connect('2026-07-28');
  const job = await waitFor(
    'the job to end and clean up',
    async () => {
      const status = await asker.client.callTool({ name: 'get_job_status', arguments: { requestId: callId! } });
      const report = status.structuredContent as JobReport | undefined;
      return report && report.state !== 'running' && report.resources?.['scratch file'] === 'removed' && report;
    },
    { timeoutMs: chunks * chunkDelayMs + 10_000, intervalMs: 100 },
  ).catch(() => undefined);
  await asker.client.close();
  if (!job) return 'failed';
  prove({ type: 'server-report', era, job });
  const how = job.state === 'completed' ? 'ran on to completion' : `stopped (${job.resources?.['stopped by']})`;
  log.event(`server reports the call: ${how}: ${job.chunksDone}/${job.chunksTotal} chunks`);
  log.event(`server reports the call: file handle ${job.fileHandle}, scratch file ${job.resources?.['scratch file']}`);
  return job.state === 'completed' ? 'ran-on' : job.state === 'cancelled' ? 'stopped' : 'failed';
}

async function wait(): Promise<'completed' | 'shutdown' | 'failed'> {
  const outcome = await settled;
  await client.close();
  if ('error' in outcome) {
    log.fail(`the call failed: ${outcome.error.message}`);
    return 'failed';
  }
  const text = outcome.result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
  prove({ type: 'came-back', isError: outcome.result.isError === true, text });
  if (!outcome.result.isError) log.ok(`<- result: ${text}`);
  else log.highlight(`<- tool error: ${text}`);
  return !outcome.result.isError ? 'completed' : /server shutting down/.test(text) ? 'shutdown' : 'failed';
}

judge(await (scenario === 'wait' ? wait() : disconnect()), expected, log);
