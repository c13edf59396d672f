// Lesson 06: a small client for a `callToolWithTotalCap` (exercise-total-cap.ts by default, or the
// file --cap names, such as total-cap.ts). Three calls at once: one that completes before its cap,
// one that completes and then its caller aborts, one that runs past its cap. It says when a
// notifications/cancelled leaves, and for which call: after a call completed, nothing may leave.
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { connectOrExit, parseFlags } from '../shared/cli.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import type * as TotalCap from './total-cap.ts';

const HELP = `
Lesson 06 cap client: tries a callToolWithTotalCap against the lesson's server, and says which
notifications/cancelled left, and when.

Usage: npx tsx lessons/06-timeouts/cap-client.ts [options]

  --url URL    the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3106/mcp)
  --cap FILE   the module whose callToolWithTotalCap to try (default: lessons/06-timeouts/exercise-total-cap.ts)
  -h, --help   show this help
`;
const flags = parseFlags({ url: { type: 'string' }, cap: { type: 'string' } }, HELP);
const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3106/mcp';
const capFile = resolve(flags.cap ?? join(import.meta.dirname, 'exercise-total-cap.ts'));
const log = createTimeline('client');
const { callToolWithTotalCap } = (await import(pathToFileURL(capFile).href)) as typeof TotalCap;

const transport = new StreamableHTTPClientTransport(new URL(url));
const client = new Client({ name: 'lesson-06-cap-client', version: '1.0.0' });
await connectOrExit(client, transport, url, log);
client.onerror = () => {}; // late replies to calls the SDK gave up on

// The wire as it leaves: each tools/call's id, and each cancel, with the moment it left.
const callIds: RequestId[] = [];
const cancels: { requestId: RequestId; reason?: string; at: number }[] = [];
const settledAt = new Map<RequestId, number>();
const send = transport.send.bind(transport);
transport.send = (message: JSONRPCMessage, options) => {
  if ('method' in message && message.method === 'tools/call' && 'id' in message) callIds.push(message.id);
  if ('method' in message && message.method === 'notifications/cancelled') {
    const { requestId, reason } = message.params as { requestId: RequestId; reason?: string };
    cancels.push({ requestId, reason, at: performance.now() });
    prove({ type: 'cancel-sent', requestId, reason });
    const after = settledAt.has(requestId)
      ? `, ${Math.round(performance.now() - settledAt.get(requestId)!)} ms after it completed`
      : '';
    (after ? log.fail : log.highlight)(
      `notifications/cancelled for #${String(requestId)} left${after} (reason: ${reason})`,
    );
  }
  return send(message, options);
};

const job = (chunks: number, chunkDelayMs: number) => ({
  name: 'process_large_file',
  arguments: { path: 'sample.txt', chunks, chunkDelayMs },
});
const stopOf = (error: unknown) => (error as { stop?: { kind?: string } }).stop?.kind ?? String(error);
type How = { outcome: 'completed' | 'stopped' | 'still running'; stop?: string };

/** Starts a capped call and returns its request id as it left, and how it settled. */
async function start(label: string, call: () => Promise<unknown>) {
  const before = callIds.length;
  const settled = call().then(
    (): How => ({ outcome: 'completed' }),
    (error: unknown): How => ({ outcome: 'stopped', stop: stopOf(error) }),
  );
  for (const leaving = performance.now() + 3000; callIds.length === before; await sleep(1))
    if (performance.now() > leaving)
      throw new Error(`the "${label}" call never left: ${JSON.stringify(await settled)}`);
  const requestId = callIds[before]!;
  const sentAt = performance.now();
  prove({ type: 'cap-call', label, requestId });
  const done = settled.then((how) => {
    const ms = Math.round(performance.now() - sentAt);
    if (how.outcome === 'completed') settledAt.set(requestId, performance.now());
    prove({ type: 'cap-call-settled', label, requestId, ms, ...how });
    log.event(
      `<- #${String(requestId)} ${how.outcome === 'completed' ? 'completed' : `stopped: ${how.stop}`} after ${ms} ms`,
    );
    return how;
  });
  return { requestId, done };
}

const CAP_MS = 2000; // the completed call's cap, passing after it completed
const LONG_CAP_MS = 600; // the long call's cap: progress keeps its 1 s idle timeout from firing
log.event(`trying callToolWithTotalCap from ${capFile}`);
log.event(
  `-> a 2-chunk call with a total cap of ${CAP_MS} ms; a 2-chunk call with a caller signal, aborted once it completes; a 40-chunk call (100 ms apart) with a total cap of ${LONG_CAP_MS} ms`,
);
// A first call to warm up both processes, so the short calls below take milliseconds, not their cap.
await client.callTool(job(1, 0));
const began = performance.now();
const first = await start('cap passes', () =>
  callToolWithTotalCap(client, job(2, 0), { totalMs: CAP_MS, idleMs: 2000 }),
);
const caller = new AbortController();
const second = await start('caller aborts', () =>
  callToolWithTotalCap(client, job(2, 0), { totalMs: 60_000, idleMs: 2000, signal: caller.signal }),
);
const long = await start('runs too long', () =>
  callToolWithTotalCap(client, job(40, 100), { totalMs: LONG_CAP_MS, idleMs: 1000 }),
);

void second.done.then(() => {
  log.event(`the caller aborts #${String(second.requestId)}'s signal, after the call completed`);
  caller.abort('stop button, after the call completed');
});
const longHow = await Promise.race([long.done, sleep(LONG_CAP_MS + 3000, { outcome: 'still running' } as How)]);
await Promise.all([first.done, second.done]);
// Past the first call's cap and the long call's idle timeout, with a margin: a stale cancel has left by then.
await sleep(Math.max(0, began + Math.max(CAP_MS, LONG_CAP_MS + 1000) + 300 - performance.now()));

const stale = cancels.filter((c) => settledAt.has(c.requestId) && c.at >= settledAt.get(c.requestId)!);
const longCancels = cancels.filter((c) => c.requestId === long.requestId);
const capHeld = longHow.stop === 'total cap' && longCancels.length === 1;
prove({ type: 'cap-client-done', stale: stale.length, capHeld });
if (stale.length === 0) log.ok('no cancel left for a call that had completed');
else log.fail(`${stale.length} cancel(s) left for calls that had completed`);
if (capHeld) log.ok(`the cap stopped #${String(long.requestId)}, with one cancel`);
else
  log.fail(
    `#${String(long.requestId)}: ${longHow.outcome}${longHow.stop ? ` (${longHow.stop})` : ''}, ${longCancels.length} cancel(s) sent`,
  );

await transport.terminateSession().catch(() => {});
await client.close();
process.exit(stale.length === 0 && capHeld ? 0 : 1);
