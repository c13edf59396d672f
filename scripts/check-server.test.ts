// npm run check-server: its verdicts on every lesson server (the broken-on-purpose flags among
// them), on a server made to break a MUST, and on one this repository did not write; and what the
// command says when it cannot run.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { readProofRecords, startLessonServer, startTs } from '../lessons/shared/processes.ts';
import { missingServices, startRedis } from '../lessons/shared/throwaway-services.ts';
import { scaled } from '../lessons/shared/wait.ts';
import { check } from './check-server.ts';
import type { Finding, Verdict } from './check-server/findings.ts';
import type { CheckOptions } from './check-server/scenarios.ts';

readProofRecords(false); // the checker sees only the wire, as it would with any server

const root = join(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'check-server-'));
const stops: (() => Promise<unknown>)[] = [];
after(async () => {
  await Promise.all(stops.map((stop) => stop()));
  rmSync(scratch, { recursive: true, force: true });
});

const options = (
  url: string,
  tool: string,
  args: Record<string, unknown>,
  shortArgs?: Record<string, unknown>,
): CheckOptions => ({
  target: { url, headers: {} },
  tool,
  args,
  shortArgs,
  watchMs: scaled(2000),
  cancelAfterMs: scaled(1000),
  calls: 3,
  eras: ['2025-11-25', '2026-07-28'],
});
const FILE_ARGS = { path: 'sample.txt', chunks: 100, chunkDelayMs: 100 };
const FILE_SHORT = { path: 'sample.txt', chunks: 2, chunkDelayMs: 0 };
const LONG_FILE_ARGS = { path: 'sample.txt', chunks: 1000, chunkDelayMs: 100 };

/** Each finding's verdict, by era, scenario and check. */
const verdicts = (findings: Finding[]) =>
  Object.fromEntries(findings.map((f) => [`${f.era} ${f.scenario}: ${f.check}`, f.verdict])) as Record<string, Verdict>;

// What a 2025-11-25 server with no progress and a -32800 answer gets (lesson 01 as it ships).
const PROGRESS = '2025-11-25 stops on cancel: progress stops within 500 ms of the cancel';
const STREAM = '2025-11-25 stops on cancel: its response stream ends';
const RELEASED = '2025-11-25 stream released: after 3 cancels, no response stream is left open';
const REPLY = '2025-11-25 stops on cancel: what comes back';
const MODERN = '2026-07-28 closing the stream: the server speaks 2026-07-28';
const OTHER_SESSION = "2025-11-25 races: another session's cancel for this session's id";
const BASE: Record<string, Verdict> = {
  '2025-11-25 stops on cancel: the cancel is accepted': 'pass',
  [PROGRESS]: 'not observable',
  [REPLY]: 'pass',
  [STREAM]: 'pass',
  [RELEASED]: 'pass',
  '2025-11-25 session survives: ping after the cancels': 'pass',
  '2025-11-25 session survives: a short call after the cancels': 'pass',
  '2025-11-25 races: a cancel for a request already answered': 'pass',
  '2025-11-25 races: a cancel for an id never sent': 'pass',
  '2025-11-25 races: "9100" (a string) does not cancel 9100 (a number)': 'pass',
  '2025-11-25 races: a cancel with no requestId': 'pass',
  [OTHER_SESSION]: 'pass',
  '2025-11-25 races: the same cancel twice': 'pass',
  '2025-11-25 initialize: a session whose initialize was cancelled still works': 'pass',
  [MODERN]: 'not observable',
};
const HELD = { [REPLY]: 'pass', [STREAM]: 'warning', [RELEASED]: 'warning' } as const;
const TASKS: Record<string, Verdict> = {
  ...Object.fromEntries(
    Object.entries(BASE).filter(([key]) => !/stops on cancel|stream released|short call/.test(key)),
  ),
  '2025-11-25 tasks: tasks/cancel answers with the task cancelled': 'pass',
  '2025-11-25 tasks: tasks/get still says cancelled later': 'pass',
  '2025-11-25 tasks: a second tasks/cancel is rejected with -32602': 'pass',
  "2025-11-25 tasks: the task's work stops": 'not observable',
  '2025-11-25 races: "9100" (a string) does not cancel 9100 (a number)': 'not observable',
  '2025-11-25 races: a cancel with no requestId': 'not observable',
};
delete TASKS[OTHER_SESSION];

interface Case {
  name: string;
  file: string;
  args?: string[];
  tool?: string;
  call?: Record<string, unknown>;
  /** Arguments that make the tool finish at once. */
  short?: Record<string, unknown>;
  /** How long to watch after a cancel, before it is scaled to the machine (default 2000 ms). */
  watchMs?: number;
  /** It takes `--bus URL`: a throwaway Redis's, or the case is left out where Redis is not installed. */
  bus?: true;
  expect: Record<string, Verdict>;
}
const data = (name: string) => ['--data', join(scratch, name)];
const CASES: Case[] = [
  { name: '01', file: '01-cancel-by-id/server.ts', expect: BASE },
  {
    name: '01 --on-cancel none',
    file: '01-cancel-by-id/server.ts',
    args: ['--on-cancel', 'none'],
    expect: { ...BASE, ...HELD },
  },
  {
    name: '01 --on-cancel result',
    file: '01-cancel-by-id/server.ts',
    args: ['--on-cancel', 'result'],
    expect: { ...BASE, [REPLY]: 'warning' },
  },
  // Without progress, a handler that ignores its signal looks from outside like --on-cancel none.
  {
    name: '01 --ignore-signal',
    file: '01-cancel-by-id/server.ts',
    args: ['--ignore-signal'],
    expect: { ...BASE, ...HELD },
  },
  { name: '01 server-v2.ts', file: '01-cancel-by-id/server-v2.ts', expect: BASE },
  { name: '02', file: '02-abort-signal/server.ts', expect: BASE },
  {
    name: '03',
    file: '03-cooperative-handlers/server.ts',
    call: { strategy: 'abortable', chunks: 100, chunkMs: 100 },
    short: { strategy: 'abortable', chunks: 2, chunkMs: 1 },
    expect: BASE,
  },
  {
    name: '04',
    file: '04-signal-into-io/server.ts',
    call: { source: 'file', chunks: 100, chunkDelayMs: 100 },
    short: { source: 'file', chunks: 2, chunkDelayMs: 0 },
    expect: BASE,
  },
  {
    name: '05',
    file: '05-cleanup-rollback/server.ts',
    args: data('05'),
    call: { idempotencyKey: 'check-server', stepDelayMs: 2000 },
    short: { idempotencyKey: 'check-server-short', stepDelayMs: 0 },
    expect: { ...BASE, [PROGRESS]: 'pass' },
  },
  { name: '06', file: '06-timeouts/server.ts', expect: { ...BASE, [PROGRESS]: 'pass' } },
  { name: '07', file: '07-progress/server.ts', expect: { ...BASE, [PROGRESS]: 'pass' } },
  {
    name: '08',
    file: '08-backpressure/server.ts',
    args: data('08'),
    tool: 'export_log',
    call: { lines: 5_000_000 }, // the most it takes: it must outlast the races, three 1 s watches
    short: { lines: 10 },
    expect: { ...BASE, [PROGRESS]: 'pass' },
  },
  { name: '09', file: '09-disconnects-and-shutdown/server.ts', args: data('09'), expect: BASE },
  { name: '10', file: '10-races-and-ids/server.ts', expect: BASE },
  { name: '11', file: '11-tasks/server.ts', expect: TASKS },
  // The same wire as the wired server: work that runs on behind a cancelled task cannot be seen.
  { name: '11 --unwired', file: '11-tasks/server.ts', args: ['--unwired'], expect: TASKS },
  {
    name: '12',
    file: '12-two-eras/server.ts',
    // It serves 2025 clients statelessly: the cancel reaches an instance with nothing running, so
    // the call runs to its end (10 s) and its result comes back. Watch long enough to see it.
    watchMs: 15_000,
    expect: {
      ...BASE,
      [REPLY]: 'warning',
      [MODERN]: 'pass',
      '2026-07-28 closing the stream: closing the stream stops the call': 'not observable',
      '2026-07-28 closing the stream: it serves the next request': 'pass',
    },
  },
  // One stateless replica: a cancel reaches a fresh McpServer with nothing running, and the call runs on.
  // A call of 100 s, so that none ends by itself while it is watched, however slow the machine.
  { name: '14', file: '14-replicas/server.ts', call: LONG_FILE_ARGS, expect: { ...BASE, ...HELD } },
  // With the cancel bus it stops and answers a clean-cancel result. With no session, a cancel from
  // another client (the same headers: the same caller) stops it too: the bus keys calls by caller.
  {
    name: '14 --bus',
    file: '14-replicas/server.ts',
    call: LONG_FILE_ARGS,
    bus: true,
    expect: { ...BASE, [REPLY]: 'warning', [OTHER_SESSION]: 'warning' },
  },
];
const noRedis = missingServices(['redis-server']);
if (noRedis && process.env.LESSONS_NEVER_SKIP) throw new Error(`LESSONS_NEVER_SKIP is set, but ${noRedis}`);
/** The settings this machine can run: the bus ones need Redis. */
const RUNNABLE = CASES.filter((c) => !c.bus || !noRedis);

const EVERYTHING = join(root, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const SDK_VERSION = (
  JSON.parse(readFileSync(join(root, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8')) as {
    version: string;
  }
).version;
const EVERYTHING_VERSION = (
  JSON.parse(readFileSync(join(root, 'node_modules/@modelcontextprotocol/server-everything/package.json'), 'utf8')) as {
    version: string;
  }
).version;

// The four at once: the checks mostly wait (2 s after each cancel), so they overlap well.
describe('npm run check-server', { timeout: scaled(180_000), concurrency: true }, () => {
  test(`on every lesson server (${RUNNABLE.length} settings), the verdict each should get`, async () => {
    const redis = RUNNABLE.some((c) => c.bus) ? await startRedis() : undefined;
    if (redis) stops.push(() => redis.stop());
    // Five at a time: seventeen servers starting at once on two cores can take longer than a start is given.
    const results = await inTurn(RUNNABLE, 5, async (c) => {
      const args = [...(c.args ?? []), ...(c.bus ? ['--bus', redis!.url] : [])];
      const server = await startLessonServer(join(root, 'lessons', c.file), args);
      stops.push(() => server.stop());
      const o = options(server.url, c.tool ?? 'process_large_file', c.call ?? FILE_ARGS, c.short ?? FILE_SHORT);
      const findings = await check({ ...o, watchMs: scaled(c.watchMs ?? 2000) });
      await server.stop();
      return { c, findings };
    });
    for (const { c, findings } of results) {
      assert.deepEqual(verdicts(findings), c.expect, `${c.name}:\n${JSON.stringify(findings, null, 2)}`);
      assert.ok(!findings.some((f) => f.verdict === 'fail'), c.name);
    }
    // The docs' table says the same, setting by setting.
    const rows = tableAfter('<!-- verdicts: lessons -->').map(([setting, warnings, unseen]) => ({
      setting,
      warnings,
      unseen,
    }));
    assert.deepEqual(
      rows.filter((row) => RUNNABLE.some((c) => c.name === row.setting)),
      RUNNABLE.map((c) => {
        const checks = (v: Verdict) => Object.keys(c.expect).filter((key) => c.expect[key] === v);
        const warnings = checks('warning').map((key) => key.slice(key.indexOf(': ') + 2));
        return {
          setting: c.name,
          warnings: warnings.join('; ') || 'none',
          unseen: String(checks('not observable').length),
        };
      }),
    );
  });

  test('a server that loses the session on a cancel it does not know: FAIL, and the command exits 1', async () => {
    const url = await startLosingServer();
    const findings = await check(options(url, 'wait', {}));
    const failed = findings.filter((f) => f.verdict === 'fail').map((f) => `${f.scenario}: ${f.check}`);
    assert.ok(failed.includes('races: a cancel for an id never sent'), JSON.stringify(findings, null, 2));
    assert.ok(findings.filter((f) => f.verdict === 'fail').every((f) => f.spec.level.startsWith('MUST')));

    const cli = startTs(join(root, 'scripts/check-server.ts'), [...['--url', url, '--tool', 'wait', '--json']]);
    assert.equal(await cli.exited, 1, cli.output());
    const report = JSON.parse(cli.output()) as { findings: Finding[]; seconds: number };
    assert.ok(report.findings.some((f) => f.verdict === 'fail' && f.check === 'a cancel for an id never sent'));
  });

  test('what it says when it cannot run: a plain message, exit 2, no stack trace', async () => {
    const free = await freePort();
    const losing = await startLosingServer();
    const forgetting = await startForgettingServer();
    const cases = [
      [
        ['--url', forgetting, '--tool', 'x'],
        /tools\/list in a new session got HTTP 404 "Session not found": the session is unknown/,
      ],
      [['--url', losing, '--tool', 'nope'], /the server has no tool named nope; it has: wait/],
      [['--tool', 'x'], /--url and --tool are needed/],
      [['--url', 'http://127.0.0.1:1/mcp', '--tool', 'x', '--args', '{oops'], /--args is not JSON/],
      [['--url', 'localhost:3101/mcp', '--tool', 'x'], /is not an http\(s\) URL: give the whole endpoint/],
      [['--url', 'http://127.0.0.1:1/mcp', '--tool', 'x', '--header', 'nocolon'], /is not 'Name: value'/],
      [
        ['--url', `http://127.0.0.1:${free}/mcp`, '--tool', 'x'],
        /nothing answers at .*ECONNREFUSED.*is the server running/,
      ],
      [
        ['--url', 'http://127.0.0.1:1/mcp', '--tool', 'x', '--era', '2024'],
        /--era 2024: give 2025-11-25, 2026-07-28 or both/,
      ],
    ] as const;
    await Promise.all(
      cases.map(async ([args, says]) => {
        const cli = startTs(join(root, 'scripts/check-server.ts'), [...args]);
        assert.equal(await cli.exited, 2, cli.output());
        assert.match(cli.output(), says);
        assert.doesNotMatch(cli.output(), /\n\s+at /); // no stack frames
      }),
    );
  });

  test(`a server this repository did not write: @modelcontextprotocol/server-everything ${EVERYTHING_VERSION}, and the README's report of it`, async () => {
    const port = await freePort();
    const server = startTs(EVERYTHING, ['streamableHttp'], { env: { PORT: String(port) } });
    stops.push(() => server.stop());
    await server.waitForLine(/listening on port/, scaled(15_000));
    const url = `http://127.0.0.1:${port}/mcp`;
    const findings = await check(
      options(url, 'trigger-long-running-operation', { duration: 10, steps: 50 }, { duration: 0.1, steps: 1 }),
    );
    const got = verdicts(findings);
    // Its tool never looks at the signal: progress runs on after the cancel, and SDK 1.x holds the stream.
    assert.deepEqual(got, { ...BASE, [PROGRESS]: 'warning', ...HELD });
    // The docs' table is this run's verdicts, for the version installed.
    const rows = tableAfter('<!-- verdicts: server-everything -->');
    assert.deepEqual(
      Object.fromEntries(rows.map(([era, scenario, check, verdict]) => [`${era} ${scenario}: ${check}`, verdict])),
      got,
    );
    assert.ok(DOC().includes(`server-everything@${EVERYTHING_VERSION}`), `the docs name ${EVERYTHING_VERSION}`);
    // It runs on this repository's SDK 1.x (no copy of its own), whose version the docs give.
    assert.equal(existsSync(join(EVERYTHING, '../../node_modules/@modelcontextprotocol/sdk')), false);
    assert.ok(DOC().includes(`on SDK ${SDK_VERSION} here`), `the docs name SDK ${SDK_VERSION}`);
  });
});

const DOC = () => readFileSync(join(root, 'docs/check-server.md'), 'utf8');
/** The cells of the markdown table after `marker` in the docs, header and rule left out. */
const tableAfter = (marker: string) =>
  (DOC().split(`${marker}\n\n`)[1] ?? '')
    .split('\n\n')[0]!
    .split('\n')
    .slice(2)
    .map((row) =>
      row
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );

/**
 * What a session meets behind a round-robin balancer, in one process: initialize is answered with
 * a session id, and every later request lands where that session is unknown (HTTP 404).
 */
async function startForgettingServer(): Promise<string> {
  const http = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const message = JSON.parse(body || '{}') as { id?: unknown; method?: string };
    if (message.method === 'initialize') {
      const result = {
        protocolVersion: '2025-11-25',
        capabilities: { tools: {} },
        serverInfo: { name: 'forgets', version: '1' },
      };
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'only-here' });
      return void res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
    }
    if (message.method === 'notifications/initialized') return void res.writeHead(202).end();
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  stops.push(() => new Promise((resolve) => (http.closeAllConnections(), http.close(resolve))));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
}

/** `work` on every item, at most `width` at once; the results in the items' order. */
async function inTurn<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return results;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/**
 * Broken on purpose, and in this process: an SDK 1.x server whose session closes when a cancel
 * names a request id no client has sent, so the next ping finds no session (ping MUST be answered).
 */
async function startLosingServer(): Promise<string> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const seen = new Set<unknown>(); // every request id any client has sent
  const http: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as unknown) : undefined;
    const id = req.headers['mcp-session-id'] as string | undefined;
    let transport = id ? sessions.get(id) : undefined;
    if (!transport && id) return void res.writeHead(404).end('no such session');
    if (!transport) {
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (sid) => void sessions.set(sid, t),
      });
      const server = new McpServer({ name: 'loses-session', version: '1.0.0' });
      server.registerTool('wait', { description: 'waits 30 s, or until cancelled' }, async (extra) => {
        await sleep(30_000, undefined, { signal: extra.signal }).catch(() => {});
        return { content: [] };
      });
      await server.connect(t);
      transport = t;
    }
    const known = transport;
    const message = body as { id?: unknown; method?: string; params?: { requestId?: unknown } } | undefined;
    if (message?.id !== undefined) seen.add(message.id);
    if (message?.method === 'notifications/cancelled' && !seen.has(message.params?.requestId)) {
      res.writeHead(202).end();
      sessions.delete(known.sessionId!);
      return void (await known.close());
    }
    await known.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  stops.push(() => new Promise((resolve) => (http.closeAllConnections(), http.close(resolve))));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
}
