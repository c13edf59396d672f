// Lesson 06 client: each way a long tool call can run out of time, one scenario each, and what the
// server says it stopped and freed.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/lifecycle#timeouts
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectOrExit } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import * as flags from './client-flags.ts';
import { scenarioChecks, type Checks } from './scenario-checks.ts';
import { callToolWithTotalCap } from './total-cap.ts';
import { recordWire } from './wire.ts';

const { url, chunks, chunkDelayMs, deadlineMs, cancelAfterMs, timeoutMs, maxTotalMs, only, SCENARIOS } = flags;
const log = createTimeline('client');

const transport = new StreamableHTTPClientTransport(new URL(url));
const wire = recordWire(transport); // every message sent and received, for what-came-back.ts
const client = new Client({ name: 'lesson-06-client', version: '1.0.0' });
const back = scenarioChecks(client, wire, log);

/** process_large_file's arguments: these flags' job, with a scenario's own on top. */
const job = (args: Record<string, unknown> = {}) => ({
  name: 'process_large_file',
  arguments: { path: 'sample.txt', chunks, chunkDelayMs, ...args },
});

async function deadline(): Promise<Checks> {
  const { id, settled } = await wire.start(() => client.callTool(job({ deadlineMs })));
  log.event(`-> tools/call #${id} (${chunks} chunks, ${chunkDelayMs} ms apart) with deadlineMs ${deadlineMs}`);
  return back.deadline(id, await settled);
}

async function cancel(): Promise<Checks> {
  const controller = new AbortController();
  const { id, settled } = await wire.start(() => client.callTool(job(), undefined, { signal: controller.signal }));
  log.event(`-> tools/call #${id} (${chunks} chunks, ${chunkDelayMs} ms apart) with an AbortSignal`);
  await sleep(cancelAfterMs);
  controller.abort('user changed their mind');
  back.cancelSent(id, 'abort("user changed their mind"): the SDK');
  return back.cancel(id, await settled);
}

async function timeout(): Promise<Checks> {
  const { id, settled } = await wire.start(() => client.callTool(job(), undefined, { timeout: timeoutMs }));
  log.event(`-> tools/call #${id} (${chunks} chunks, ${chunkDelayMs} ms apart) with timeout ${timeoutMs} ms`);
  return back.timeout(id, await settled);
}

async function resetOnProgress(): Promise<Checks> {
  let progress = 0;
  const options = { timeout: timeoutMs, resetTimeoutOnProgress: true, onprogress: () => progress++ };
  const { id, settled } = await wire.start(() => client.callTool(job(), undefined, options));
  log.event(
    `-> tools/call #${id} (${chunks} chunks, ${chunkDelayMs} ms apart: at least ${chunks * chunkDelayMs} ms) ` +
      `with timeout ${timeoutMs} ms, resetTimeoutOnProgress, onprogress`,
  );
  const outcome = await settled;
  return back.resetOnProgress(id, outcome, progress);
}

async function maxTotal(): Promise<Checks> {
  // 1. Without resetTimeoutOnProgress, maxTotalTimeout is never looked at.
  const unchecked = { maxTotalTimeout: 1, onprogress: () => {} };
  const first = await wire.start(() => client.callTool(job({ chunks: 5 }), undefined, unchecked));
  log.event(`-> tools/call #${first.id} (5 chunks) with maxTotalTimeout 1 ms, onprogress, no resetTimeoutOnProgress`);
  const ignored = back.maxTotalIgnored(await first.settled);

  // 2. With it, maxTotalTimeout is checked when progress arrives, and rejects without cancelling.
  const jobChunks = Math.max(chunks, 30);
  const options = {
    timeout: timeoutMs,
    maxTotalTimeout: maxTotalMs,
    resetTimeoutOnProgress: true,
    onprogress: () => {},
  };
  const { id, settled } = await wire.start(() => client.callTool(job({ chunks: jobChunks }), undefined, options));
  log.event(
    `-> tools/call #${id} (${jobChunks} chunks) with timeout ${timeoutMs} ms, maxTotalTimeout ${maxTotalMs} ms, ` +
      'resetTimeoutOnProgress',
  );
  return back.maxTotal(id, await settled, jobChunks, ignored);
}

async function totalCap(): Promise<Checks> {
  let progress = 0;
  const cap = { totalMs: maxTotalMs, idleMs: timeoutMs, onprogress: () => progress++ };
  const { id, settled } = await wire.start(() => callToolWithTotalCap(client, job(), cap));
  log.event(
    `-> tools/call #${id} (${chunks} chunks) via callToolWithTotalCap: idle timeout ${timeoutMs} ms, total cap ${maxTotalMs} ms`,
  );
  const outcome = await settled;
  return back.totalCap(id, outcome, progress);
}

const run: Record<flags.Scenario, { about: string; run: () => Promise<Checks> }> = {
  deadline: { about: 'the server stops the call at its deadline, and answers', run: deadline },
  cancel: { about: 'the client cancels; the server stops and answers -32800', run: cancel },
  timeout: { about: "callTool's timeout passes; the SDK cancels", run: timeout },
  'reset-on-progress': { about: 'progress keeps a call longer than its timeout alive', run: resetOnProgress },
  'max-total': { about: 'maxTotalTimeout in SDK 1.x today (upstream #2695)', run: maxTotal },
  'total-cap': { about: 'a total cap that holds: an AbortController and a timer of its own', run: totalCap },
};

log.event(`connecting to ${url}`);
await connectOrExit(client, transport, url, log); // or says plainly that no server answered
log.detail(`session ${transport.sessionId}, protocol ${transport.protocolVersion}`);
wire.listen();
// Replies that arrive after the SDK gave up on a request end up here; what-came-back.ts's
// showLateReply prints them.
client.onerror = () => {};

const failed: string[] = [];
for (const scenario of only ? [only] : SCENARIOS) {
  log.event(`== ${scenario}: ${run[scenario].about}`);
  const checks = await run[scenario].run();
  const missed = checks.filter(([, held]) => !held).map(([what]) => what);
  prove({ type: 'scenario', scenario, checks, missed });
  if (missed.length === 0) log.ok(`${scenario}: as expected`);
  else log.fail(`${scenario}: NOT as expected; these did not hold: ${missed.join('; ')}`);
  failed.push(...missed.map((what) => `${scenario}: ${what}`));
}

await transport.terminateSession();
await client.close();
log.detail('session ended (DELETE)');
if (failed.length > 0) {
  log.fail(`${failed.length} expectation(s) not met`);
  process.exitCode = 1;
}
