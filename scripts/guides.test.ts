// The claims docs/what-the-guides-get-wrong.md lists that no lesson test showed yet, each tried the
// way the guides write it: against one SDK 1.x server in this process (real HTTP on 127.0.0.1, one
// session for the whole file) and one real PostgreSQL. Then the page itself: every test it cites
// exists, by file and name, and every link resolves.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { z } from 'zod';
import { openRawSession, type RawSession } from '../lessons/shared/raw-mcp.ts';
import { throwawayPostgres, type ThrowawayPostgres } from '../lessons/shared/throwaway-postgres.ts';
import { waitFor } from '../lessons/shared/wait.ts';

const root = join(import.meta.dirname, '..');
const PAGE = 'docs/what-the-guides-get-wrong.md';

/** What the server saw of one tools/call, from inside its handler. */
interface Job {
  ticksDone: number;
  ticksTotal: number;
  state: 'running' | 'completed' | 'stopped';
  /** When extra.signal fired (performance.now()), if it did, and how many ticks were done then. */
  signalAbortedAt?: number;
  ticksWhenAborted?: number;
  /** When the handler last looked at signal.aborted, in `poll` mode. */
  lookedAt: number[];
  stoppedAt?: number;
  returned?: string;
}

/**
 * A bare SDK 1.x server, none of the lessons' wiring: one session, a `work` tool that ticks
 * `ticks` times and records what it did, and two routes. `/mcp` hands requests to the transport as
 * the SDK's docs do; `/mcp-with-signal` first does what a guide says propagates a disconnect.
 */
async function guideServer() {
  const jobs = new Map<string | number, Job>();
  /** Every message the server's transport sent, in order: what the SDK answered, seen from inside. */
  const sent: JSONRPCMessage[] = [];
  /** Requests on /mcp-with-signal whose socket closed, so the guide's controller aborted. */
  const socketClosed: string[] = [];
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    sent.push(message);
    return send(message, options);
  };

  const mcp = new McpServer({ name: 'guides', version: '1.0.0' });
  mcp.registerTool(
    'work',
    {
      inputSchema: {
        ticks: z.number().int().positive(),
        tickMs: z.number().int().nonnegative(),
        // abortable: each tick waits on the signal, and a cancel returns "Cancelled." (the guides' clean result).
        // poll: each tick ignores the signal; the handler looks at signal.aborted every pollMs.
        style: z.enum(['abortable', 'poll']),
        pollMs: z.number().int().positive().optional(),
      },
    },
    async ({ ticks, tickMs, style, pollMs = 1000 }, extra) => {
      const job: Job = { ticksDone: 0, ticksTotal: ticks, state: 'running', lookedAt: [] };
      jobs.set(extra.requestId, job);
      extra.signal.addEventListener(
        'abort',
        () => Object.assign(job, { signalAbortedAt: performance.now(), ticksWhenAborted: job.ticksDone }),
        { once: true },
      );
      const stop = (text: string) => {
        Object.assign(job, { state: 'stopped', stoppedAt: performance.now(), returned: text });
        return { content: [{ type: 'text' as const, text }] };
      };
      let lastLook = performance.now();
      job.lookedAt.push(lastLook);
      for (let i = 0; i < ticks; i++) {
        if (style === 'abortable') {
          try {
            await sleep(tickMs, undefined, { signal: extra.signal });
          } catch {
            return stop('Cancelled.');
          }
        } else {
          await sleep(tickMs);
          if (performance.now() - lastLook >= pollMs) {
            lastLook = performance.now();
            job.lookedAt.push(lastLook);
            if (extra.signal.aborted) return stop(`Cancelled after ${job.ticksDone + 1} ticks.`);
          }
        }
        job.ticksDone++;
      }
      job.state = 'completed';
      job.returned = `done: ${ticks} ticks`;
      return { content: [{ type: 'text', text: job.returned }] };
    },
  );
  await mcp.connect(transport);

  async function withTheGuidesSignal(req: IncomingMessage, res: ServerResponse) {
    const controller = new AbortController();
    req.socket.once('close', () => controller.abort());
    controller.signal.addEventListener('abort', () => socketClosed.push(req.url ?? ''));
    // @ts-expect-error handleRequest is (req, res, parsedBody?): it takes no options, so no signal (SDK 1.x server/streamableHttp.d.ts)
    await transport.handleRequest(req, res, undefined, { signal: controller.signal });
  }
  const http = createServer((req, res) =>
    req.url === '/mcp-with-signal' ? withTheGuidesSignal(req, res) : transport.handleRequest(req, res),
  );
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url: `${base}/mcp`,
    urlWithSignal: `${base}/mcp-with-signal`,
    jobs,
    sent,
    socketClosed,
    async close() {
      await transport.close();
      http.closeAllConnections();
      await new Promise((done) => http.close(done));
    },
  };
}

const work = (id: number, args: { ticks: number; tickMs: number; style: 'abortable' | 'poll'; pollMs?: number }) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'tools/call',
  params: { name: 'work', arguments: args },
});
const cancelled = (requestId: number) => ({
  jsonrpc: '2.0' as const,
  method: 'notifications/cancelled',
  params: { requestId, reason: 'a test' },
});
const responseTo = (messages: JSONRPCMessage[], id: number) =>
  messages.find((m) => 'id' in m && m.id === id && ('result' in m || 'error' in m));

describe('what the guides say, tried on SDK 1.x', { timeout: 30_000 }, () => {
  let server: Awaited<ReturnType<typeof guideServer>>;
  let session: RawSession;
  before(async () => {
    server = await guideServer();
    session = await openRawSession(server.url);
  });
  after(() => server?.close());
  const job = (id: number) => server.jobs.get(id);
  const running = (id: number) => waitFor(`call ${id} to tick`, () => (job(id)?.ticksDone ?? 0) >= 1 && job(id));

  test('claim 1: $/cancelRequest is LSP: as a notification SDK 1.x ignores it and the call runs on; as a request it is -32601', async () => {
    const call = await session.stream(work(11, { ticks: 10, tickMs: 30, style: 'abortable' }));
    await running(11);
    const asNotification = await session.post({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 11 } });
    assert.equal(asNotification.status, 202, 'accepted, as any notification is');
    await call.done;
    assert.deepEqual([job(11)!.state, job(11)!.ticksDone, job(11)!.signalAbortedAt], ['completed', 10, undefined]);
    assert.deepEqual((responseTo(call.messages, 11) as { result?: unknown }).result, {
      content: [{ type: 'text', text: 'done: 10 ticks' }],
    });

    const asRequest = await session.stream({ jsonrpc: '2.0', id: 12, method: '$/cancelRequest', params: { id: 11 } });
    await asRequest.done;
    assert.deepEqual((responseTo(asRequest.messages, 12) as { error?: unknown }).error, {
      code: -32601,
      message: 'Method not found',
    });
  });

  test('claim 3: a clean "Cancelled." result is dropped by SDK 1.x, and the session stays open without it', async () => {
    const call = await session.stream(work(31, { ticks: 100, tickMs: 20, style: 'abortable' }));
    await running(31);
    assert.equal((await session.post(cancelled(31))).status, 202);
    await waitFor('the handler to return its clean result', () => job(31)!.returned === 'Cancelled.');
    // One round trip more: whatever the SDK would send for call 31 is sent by the time this returns.
    const ping = await session.stream({ jsonrpc: '2.0', id: 32, method: 'ping' });
    await ping.done;
    assert.deepEqual((responseTo(ping.messages, 32) as { result?: unknown }).result, {}, 'the session serves on');
    assert.equal(
      responseTo(server.sent, 31),
      undefined,
      'the server sent nothing for 31: not the result, not an error',
    );
    assert.equal(responseTo(call.messages, 31), undefined);
    assert.equal(call.ended, false, "and call 31's stream stays open (lesson 09's leak)");
  });

  test('claim 5: req.socket.on("close") plus a signal option: handleRequest takes no options, and the handler runs on after the socket closed', async () => {
    const disconnect = new AbortController();
    const response = await fetch(server.urlWithSignal, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session.sessionId,
        'mcp-protocol-version': session.protocolVersion,
      },
      body: JSON.stringify(work(51, { ticks: 10, tickMs: 30, style: 'abortable' })),
      signal: disconnect.signal,
    });
    assert.equal(response.status, 200);
    await running(51);
    disconnect.abort();
    await waitFor("the guide's controller to abort on the socket's close", () => server.socketClosed.length === 1);
    await waitFor('call 51 to end', () => job(51)!.state !== 'running');
    assert.equal(job(51)!.state, 'completed', 'it read on to the last tick');
    assert.equal(job(51)!.ticksDone, 10);
    assert.equal(job(51)!.signalAbortedAt, undefined, "extra.signal never fired: the controller's signal went nowhere");
  });

  test('claim 6: polling signal.aborted once a second: a cancel that lands just after a look waits for the next one, a second later', async (t) => {
    await session.stream(work(61, { ticks: 300, tickMs: 10, style: 'poll', pollMs: 1000 }));
    await running(61); // it looks once as it starts, then ticks: the cancel lands just after that look
    assert.equal((await session.post(cancelled(61))).status, 202);
    await waitFor('call 61 to stop', () => job(61)!.state !== 'running', { timeoutMs: 5000 });
    const { lookedAt, signalAbortedAt, stoppedAt, ticksWhenAborted, ticksDone, state } = job(61)!;
    assert.equal(state, 'stopped');
    assert.equal(lookedAt.length, 2, 'it stopped at its first look after the cancel');
    const [arrived, waited] = [signalAbortedAt! - lookedAt[0]!, stoppedAt! - signalAbortedAt!];
    t.diagnostic(
      `the cancel arrived ${arrived.toFixed(0)} ms after a look; the handler stopped ${waited.toFixed(0)} ms later, ${ticksDone - ticksWhenAborted!} ticks on`,
    );
    assert.ok(ticksDone > ticksWhenAborted!, 'it worked on after the signal had fired');
    assert.ok(waited >= 1000 - arrived - 1, 'the wait is the rest of the poll interval');
    assert.ok(waited > 500, `a cancel landing early in the interval waits most of it: ${waited.toFixed(0)} ms`);
  });
});

describe('what the guides say about pg, tried on a real PostgreSQL', { timeout: 30_000 }, () => {
  let postgres: ThrowawayPostgres | undefined;
  let observer: pg.Client | undefined;
  before(async () => {
    postgres = await throwawayPostgres();
    if ('url' in postgres) {
      observer = new pg.Client({ connectionString: postgres.url });
      await observer.connect();
    }
  });
  after(async () => {
    await observer?.end();
    if (postgres && 'stop' in postgres) await postgres.stop();
  });
  /** The server's URL, or undefined after marking the test skipped (with the reason). */
  const databaseUrl = (t: TestContext) => {
    if (postgres && 'url' in postgres) return postgres.url;
    t.skip(postgres?.skipReason ?? 'PostgreSQL did not start');
  };
  /** What backend `pid` is doing, as the server reports it (pg_stat_activity), from another connection. */
  const activity = async (pid: number) => {
    const { rows } = await observer!.query<{ state: string; query: string }>(
      'SELECT state, query FROM pg_stat_activity WHERE pid = $1',
      [pid],
    );
    return rows[0];
  };
  const SLEEP = 'SELECT pg_sleep(60)';
  const pidOf = async (client: pg.ClientBase) =>
    (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

  test('claim 8: Promise.race against the signal: the query runs on in PostgreSQL, and its client goes back to the pool busy', async (t) => {
    const url = databaseUrl(t);
    if (!url) return;
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const settled: string[] = [];
    try {
      // The guide's code: race the query against the signal, release the client when the race ends.
      const controller = new AbortController();
      const client = await pool.connect();
      const pid = await pidOf(client);
      const query = client.query(SLEEP);
      query.then(
        () => settled.push('sleep completed'),
        (error: { code?: string }) => settled.push(`sleep ended: ${error.code}`),
      );
      const aborted = new Promise((_, reject) =>
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason)),
      );
      const raced = Promise.race([query, aborted]).finally(() => client.release());

      await waitFor('the sleep to run', async () => (await activity(pid))?.state === 'active');
      controller.abort();
      await assert.rejects(raced, { name: 'AbortError' });
      // The race is over; on the server the statement runs on.
      assert.deepEqual(await activity(pid), { state: 'active', query: SLEEP });

      // The pool's one client is back, busy: the next query gets it and waits behind the sleep.
      const next = pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid').then(({ rows }) => {
        settled.push('next query answered');
        return rows[0]!.pid;
      });
      assert.deepEqual(await activity(pid), { state: 'active', query: SLEEP });
      assert.deepEqual(settled, []);
      // Only a cancel over another connection stops the sleep (lesson 04's way); then the next query runs.
      await observer!.query('SELECT pg_cancel_backend($1)', [pid]);
      assert.equal(await next, pid, 'it ran on the same backend');
      assert.deepEqual(settled, ['sleep ended: 57014', 'next query answered']);
    } finally {
      await pool.end();
    }
  });

  test('claim 9: pg_cancel_backend(pg_backend_pid()) on the busy client queues behind its query, so it cannot stop it', async (t) => {
    const url = databaseUrl(t);
    if (!url) return;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const settled: string[] = [];
    try {
      const pid = await pidOf(client);
      const running = client.query(SLEEP).then(
        () => settled.push('sleep completed'),
        (error: { code?: string }) => settled.push(`sleep ended: ${error.code}`),
      );
      await waitFor('the sleep to run', async () => (await activity(pid))?.state === 'active');
      // The guide's cancel, on the same client.
      const selfCancel = client
        .query<{ cancelled: boolean }>('SELECT pg_cancel_backend(pg_backend_pid()) AS cancelled')
        .then(
          ({ rows }) => settled.push(`self-cancel returned ${rows[0]!.cancelled}`),
          (error: { code?: string }) => settled.push(`self-cancel ended: ${error.code}`),
        );
      // A backend runs one statement at a time: the cancel waits in the client's queue.
      assert.deepEqual(await activity(pid), { state: 'active', query: SLEEP });
      assert.deepEqual(settled, []);
      await observer!.query('SELECT pg_cancel_backend($1)', [pid]);
      await Promise.all([running, selfCancel]);
      // The sleep ends by the cancel from another connection; only then does the guide's cancel run,
      // and what it cancels is itself.
      assert.deepEqual(settled, ['sleep ended: 57014', 'self-cancel ended: 57014']);
    } finally {
      await client.end();
    }
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

describe(`${PAGE} itself`, () => {
  const text = readFileSync(join(root, PAGE), 'utf8');

  test('every test it cites exists in the file it names, under that name', () => {
    const cited = [...text.matchAll(/\[`([^`]+\.test\.ts)`\]\(([^)]+)\) › `([^`]+)`/g)];
    assert.ok(cited.length >= 20, `only ${cited.length} citations found`);
    for (const [, file, link, name] of cited) {
      assert.equal(resolve(root, dirname(PAGE), link!), join(root, file!), `${file} links to ${link}`);
      const source = readFileSync(join(root, file!), 'utf8');
      const quoted = ["'", '"', '`'].map((q) => `${q}${name!.replaceAll(q, `\\${q}`)}${q}`);
      assert.ok(
        quoted.some((literal) => source.includes(`test(${literal}`) || source.includes(`test(\n    ${literal}`)),
        `${file} has no test named: ${name}`,
      );
    }
  });

  test('every claim says what shows it and where it is taught', () => {
    const sections = text.split(/^## /m).slice(1);
    assert.equal(sections.length, 9);
    for (const section of sections) {
      const title = section.split('\n')[0];
      assert.match(section, /- Shown by: /, `${title}: no test`);
      assert.match(section, /- Taught in: \[lesson \d\d/, `${title}: no lesson`);
    }
  });

  test('every relative link points at a file that exists, and every anchor at a heading in it', () => {
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue;
      const [path, anchor] = target!.split('#');
      const file = path ? resolve(root, dirname(PAGE), path) : join(root, PAGE);
      assert.ok(existsSync(file), `${PAGE} links to ${target}, which does not exist`);
      if (!anchor) continue;
      const headings = [...readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map(([, heading]) => anchorOf(heading!));
      assert.ok(headings.includes(anchor), `${PAGE} links to ${target}: no such heading (${headings.join(', ')})`);
    }
  });

  test('the top README links to it', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    assert.ok(readme.includes(`](${PAGE})`), `README.md has no link to ${PAGE}`);
  });
});
