// Lesson 04, end to end: the real server and client processes on ephemeral ports. For every layer the
// proof is on the server's side: the upstream's own record and the server's sockets, the child's pid,
// the server's file descriptors, the database's pg_stat_activity.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startPglite } from '../shared/pglite-start.ts';
import pg from 'pg';
import { startLessonServer, startTs } from '../shared/processes.ts';
import { checkReadmeOutput, checkReadmePair, type Normaliser } from '../shared/readme-output.ts';
import { throwawayPostgres, type ThrowawayPostgres } from '../shared/throwaway-postgres.ts';
import {
  canSeeFileDescriptors,
  connectRecordingClient,
  lineIndex,
  openDescriptorsTo,
  textOf,
} from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';
import { APPLICATION_NAME } from './database.ts';
import { SOURCES } from './layers.ts';
import { openTcpConnectionsOnPort } from './proc.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const README = join(import.meta.dirname, 'README.md');
const LARGE_FILE = '/04-signal-into-io/data/large.txt';

type Server = Awaited<ReturnType<typeof startLessonServer>>;

async function withServer(args: string[], env: Record<string, string>, body: (server: Server) => Promise<void>) {
  const server = await startLessonServer(SERVER, args, { env });
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

const matchIn = (lines: string[], pattern: RegExp) => lines[lineIndex(lines, pattern)]!.match(pattern)!;
const upstreamPort = (server: Server) =>
  Number(matchIn(server.lines, /slow upstream on http:\/\/127\.0\.0\.1:(\d+)\//)[1]);
const pidOf = (server: Server) => server.child.pid!;

/** The request id the client used for each layer, read from its own output. */
function callIds(clientLines: string[]): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const line of clientLines) {
    const match = line.match(/-> tools\/call #(\d+) process_large_file from (\w+)/);
    if (match) ids[match[2]!] = match[1]!;
  }
  return ids;
}

/** Chunk lines the server logged for request `id` between two of its lines. */
const chunkLinesBetween = (lines: string[], id: string, from: number, to: number) =>
  lines.slice(from, to).filter((line) => new RegExp(`#${id} \\w+ chunk \\d+/`).test(line)).length;

function assertNoChunkAfterTheStop(lines: string[], id: string, maxBetweenCancelAndStop: number) {
  const cancelled = lineIndex(lines, new RegExp(`notifications/cancelled for #${id} `));
  const stopped = lineIndex(lines, new RegExp(`#${id} handler stopped after chunk`), cancelled);
  const between = chunkLinesBetween(lines, id, cancelled, stopped);
  assert.ok(between <= maxBetweenCancelAndStop, `#${id}: ${between} chunks between the cancel and the stop`);
  assert.equal(chunkLinesBetween(lines, id, stopped, lines.length), 0, `#${id} read on after it stopped`);
}

const normalisers: Normaliser[] = [
  [/(child process|postgres backend) \d+/g, '$1 PID'],
  [/\d+\/(\d+) chunks/g, 'N/$1 chunks'],
  [/\d+ of (\d+) (bytes|ran)/g, 'N of $1 $2'],
  [/#\d+/g, '#ID'], // the client's status polls take ids too, as many as it needed
  [/requestId: \d+/g, 'requestId: ID'],
];
const asDocumented = (lines: string[], server: Server) =>
  lines.map((line) => line.replaceAll(server.url, 'http://127.0.0.1:3104/mcp'));

describe('lesson 04: a cancel stops the I/O itself, in every layer (PGlite)', { timeout: scaled(60_000) }, () => {
  let server: Server;
  before(async () => {
    server = await startLessonServer(SERVER, [], { env: { DATABASE_URL: '' } });
  });
  after(() => server.stop());

  test('the default client run: every layer stopped and released what it held', async () => {
    const client = startTs(CLIENT, ['--url', server.url]);
    const fromFile = await client.waitForLine(/-> tools\/call #(\d+) process_large_file from file/);
    if (canSeeFileDescriptors) {
      await server.waitForLine(new RegExp(`#${fromFile[1]} file chunk 1/`));
      assert.equal(openDescriptorsTo(pidOf(server), LARGE_FILE), 1, 'the file is open while it is read');
    }
    assert.equal(await client.exited, 0, client.output());
    await server.waitForLine(/session \S+ ended/);
    const log = server.lines;
    const ids = callIds(client.lines);
    assert.deepEqual(Object.keys(ids), [...SOURCES]);

    // 1. HTTP: the upstream itself saw the connection close before its response was finished ...
    const [, sent] = matchIn(log, new RegExp(`upstream: #${ids.http} closed by the client after (\\d+)/20 chunks`));
    assert.ok(Number(sent) < 20);
    lineIndex(client.lines, /server reports #\d+: upstream response: closed by the client after \d+\/20 chunks/);
    // ... and the server holds no connection to it, from either end.
    if (canSeeFileDescriptors)
      await waitFor(
        'no socket to the upstream',
        () => openTcpConnectionsOnPort(pidOf(server), upstreamPort(server)) === 0,
      );

    // 2. Child process: killed, reaped (no zombie: no /proc entry), and reported so.
    const [, pid] = matchIn(client.lines, /server reports #\d+: child process (\d+): killed \(SIGTERM\), reaped/);
    assert.throws(() => process.kill(Number(pid), 0), { code: 'ESRCH' });
    assert.equal(existsSync(`/proc/${pid}`), false);

    // 3. File: closed before the end, and no descriptor left in the server process.
    const [, bytesRead] = matchIn(log, /file closed after (\d+) of 8388608 bytes/);
    assert.ok(Number(bytesRead) < 8388608);
    lineIndex(client.lines, /server reports #\d+: file handle closed/);
    if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(pidOf(server), LARGE_FILE), 0);

    // 4. PGlite: the statement running when the cancel arrived finished; none started after it.
    lineIndex(
      client.lines,
      /PGlite statements: stopped between statements: \d+ of 20 ran, none started after the cancel/,
    );

    // No layer read a chunk after its handler stopped; only PGlite finished the statement it was in.
    for (const source of ['http', 'child', 'file'] as const) assertNoChunkAfterTheStop(log, ids[source]!, 0);
    assertNoChunkAfterTheStop(log, ids.db!, 1);
    for (const source of SOURCES) lineIndex(client.lines, new RegExp(`${source}: stopped$`));
    lineIndex(client.lines, /every layer: stopped, as expected/);

    const serverLines = asDocumented(log.slice(0, lineIndex(log, /session \S+ ended/) + 1), server);
    checkReadmePair(
      README,
      [
        ['server', serverLines],
        ['client', asDocumented(client.lines, server)],
      ],
      normalisers,
    );
  });

  test('without a cancel every layer runs to the end and releases everything', async () => {
    const client = startTs(CLIENT, ['--url', server.url, '--no-cancel', '--chunks', '3', '--chunk-delay', '10']);
    assert.equal(await client.exited, 0, client.output());
    const out = client.lines;
    lineIndex(out, /upstream response: sent in full after 3\/3 chunks/);
    lineIndex(out, /child process \d+: exited 0/);
    lineIndex(out, /file handle closed/);
    lineIndex(out, /PGlite statements: all 3 statements ran/);
    lineIndex(out, /every layer: completed, as expected/);
  });

  test('bad input gets a clear error, and the server keeps serving', async () => {
    const { client, close } = await connectRecordingClient(server.url);
    const tryCall = async (args: Record<string, unknown>) => {
      const result = await client.callTool({ name: 'process_large_file', arguments: args });
      assert.equal(result.isError, true);
      return textOf(result);
    };
    assert.match(await tryCall({ source: 'ftp' }), /Input validation error: .*source/);
    assert.match(await tryCall({ source: 'db', chunks: 0 }), /Too small: expected number to be >=1/);
    assert.match(await tryCall({}), /Input validation error/);
    const ok = await client.callTool({
      name: 'process_large_file',
      arguments: { source: 'child', chunks: 2, chunkDelayMs: 0 },
    });
    assert.equal(ok.isError, undefined);
    assert.match(textOf(ok), /Read 2 chunks \(\d+ bytes\) from child/);
    await close();
  });
});

describe('lesson 04 --wrong-way: the handler stops, its I/O does not (PGlite)', { timeout: scaled(60_000) }, () => {
  let server: Server;
  before(async () => {
    server = await startLessonServer(SERVER, ['--wrong-way'], { env: { DATABASE_URL: '' } });
  });
  after(() => server.stop());

  test('the upstream sends in full, the child runs to exit 0, the file stays open, the statements go on', async () => {
    {
      const stoppedLines: Record<string, number> = {};
      const client = startTs(CLIENT, [
        ...['--url', server.url, '--expect', 'ran-on', '--chunks', '10', '--chunk-delay', '200'],
        ...['--cancel-after', '500', '--wait', '200'],
      ]);
      // While each layer's I/O goes on after its handler stopped, the OS shows what it still holds.
      for (const source of SOURCES) {
        const [, id] = await client.waitForLine(new RegExp(`-> tools/call #(\\d+) process_large_file from ${source}`));
        const stopped = new RegExp(`#${id} handler stopped after chunk`);
        await server.waitForLine(stopped);
        stoppedLines[source] = lineIndex(server.lines, stopped);
        if (source === 'child') {
          const [, pid] = matchIn(server.lines, new RegExp(`#${id} started child process (\\d+)`));
          process.kill(Number(pid), 0); // still there: does not throw
          await server.waitForLine(new RegExp(`#${id} child process ${pid} exited 0`));
        }
        if (source === 'file' && canSeeFileDescriptors)
          assert.equal(openDescriptorsTo(pidOf(server), LARGE_FILE), 1, 'still open after the handler stopped');
      }
      assert.equal(await client.exited, 0, client.output());
      const ids = callIds(client.lines);
      for (const source of SOURCES) {
        const ranToEnd = new RegExp(`#${ids[source]} its I/O ran to the end`);
        await server.waitForLine(ranToEnd);
        assert.ok(lineIndex(server.lines, ranToEnd) > stoppedLines[source]!);
        lineIndex(server.lines, new RegExp(`#${ids[source]} ${source} chunk 10/10, after the handler stopped`));
        lineIndex(client.lines, new RegExp(`${source}: ran-on$`));
      }
      lineIndex(server.lines, new RegExp(`upstream: #${ids.http} sent in full after 10/10 chunks`), stoppedLines.http);
      if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(pidOf(server), LARGE_FILE), 0);
    }
  });

  test('README: the child layer the wrong way', async () => {
    const client = startTs(CLIENT, ['--url', server.url, '--layer', 'child', '--expect', 'ran-on']);
    assert.equal(await client.exited, 0, client.output());
    checkReadmeOutput(README, 'client, --wrong-way', asDocumented(client.lines, server), normalisers);
  });
});

describe('PGlite: what an embedded database can and cannot do with a cancel', { timeout: scaled(30_000) }, () => {
  test('a statement runs on the main thread, ignores a signal, and a loop of statements never lets a timer run', async () => {
    const db = await startPglite();
    try {
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 1);
      const aborted = AbortSignal.abort();
      // No signal option exists; one passed anyway changes nothing: the statement runs to its end.
      const [row] = (
        await db.query<{ done: boolean }>('SELECT true AS done FROM pg_sleep(0.2)', [], {
          signal: aborted,
        } as object)
      ).rows;
      assert.equal(row?.done, true);
      assert.equal(ticks, 0, 'no timer ran during the statement: the event loop was blocked');
      for (let i = 0; i < 3; i++) await db.query('SELECT pg_sleep(0.05)');
      assert.equal(ticks, 0, 'awaiting statement after statement never yields to the event loop');
      await waitFor('a timer to run once the event loop turns', () => ticks > 0); // timers (and sockets) run
      clearInterval(ticker);
    } finally {
      await db.close();
    }
  });
});

describe('lesson 04 against a real PostgreSQL (DATABASE_URL)', { timeout: scaled(30_000) }, () => {
  // DATABASE_URL when it is set, or a throwaway cluster when this machine has the PostgreSQL server.
  let postgres: ThrowawayPostgres | undefined;
  before(async () => (postgres = await throwawayPostgres()));
  after(async () => postgres && 'stop' in postgres && (await postgres.stop()));
  /** The server's URL, or undefined after marking the test skipped (with the reason). */
  const databaseUrl = (t: TestContext) => {
    if (postgres && 'url' in postgres) return postgres.url;
    t.skip(postgres?.skipReason ?? 'PostgreSQL did not start');
  };
  const activeStatements = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ count: number }>(
        "SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'",
        [APPLICATION_NAME],
      );
      return rows[0]!.count;
    } finally {
      await client.end();
    }
  };

  test('a cancel stops the running statement on the server', async (t) => {
    const url = databaseUrl(t);
    if (!url) return;
    await withServer([], { DATABASE_URL: url }, async (server) => {
      lineIndex(server.lines, /database: PostgreSQL at /);
      // Statements of 1 s, cancelled half-way through the second: the cancel lands mid-statement.
      // Both stretch on a loaded machine, where the first statement can start late (a run under a
      // profiler saw the cancel land between two statements).
      const client = startTs(CLIENT, [
        ...['--url', server.url, '--layer', 'db', '--chunks', '5'],
        ...['--chunk-delay', String(scaled(1000)), '--cancel-after', String(scaled(1500))],
      ]);
      await server.waitForLine(/#1 db chunk 1\/5/);
      await waitFor('a statement running on the server', async () => (await activeStatements(url)) === 1);
      assert.equal(await client.exited, 0, client.output());
      lineIndex(client.lines, /postgres backend \d+: statement \d+ cancelled on the server \(SQLSTATE 57014\)/);
      assertNoChunkAfterTheStop(server.lines, '1', 0);
      await waitFor('no statement of the lesson running', async () => (await activeStatements(url)) === 0);
    });
  });

  test('--wrong-way: the statements go on after the handler stopped', async (t) => {
    const url = databaseUrl(t);
    if (!url) return;
    await withServer(['--wrong-way'], { DATABASE_URL: url }, async (server) => {
      const client = startTs(CLIENT, [
        ...['--url', server.url, '--layer', 'db', '--expect', 'ran-on', '--chunks', '8', '--chunk-delay', '200'],
        ...['--cancel-after', '500', '--wait', '0'],
      ]);
      await server.waitForLine(/#1 handler stopped after chunk/);
      await waitFor('a statement still running on the server', async () => (await activeStatements(url)) === 1);
      assert.equal(await client.exited, 0, client.output());
      await server.waitForLine(/#1 its I\/O ran to the end/);
      lineIndex(server.lines, /#1 db chunk 8\/8, after the handler stopped/);
      await waitFor('no statement of the lesson running', async () => (await activeStatements(url)) === 0);
    });
  });
});

describe('lesson 04: mistakes when starting it', { timeout: scaled(30_000) }, () => {
  test('a DATABASE_URL that does not answer is named, and the server exits 1', async () => {
    const server = startTs(SERVER, ['--port', '0'], { env: { DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' } });
    assert.equal(await server.exited, 1);
    assert.match(server.output(), /cannot open the database at DATABASE_URL: .*ECONNREFUSED/);
  });
});

describe('Node child processes and abort signals', { timeout: scaled(10_000) }, () => {
  test("an abort is an 'error' event: with no listener, it takes the process down", () => {
    const script = `
      const child = require('node:child_process').spawn('sleep', ['30'], { signal: AbortSignal.timeout(50) });
      child.on('close', () => console.log('the parent lived on'));`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /AbortError: The operation was aborted/);
    assert.doesNotMatch(run.stdout, /lived on/);
  });

  /** Running, not a zombie: an orphan is reaped by PID 1, which in a container may never do it. */
  const running = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
    } catch {
      return false;
    }
  };

  test("spawn's signal kills only the direct child; a process group takes the grandchildren too", async () => {
    // `sh -c 'sleep 30; true'` forks `sleep` as a grandchild (the `; true` stops sh from exec-ing it).
    const grandchildOf = async (detached: boolean, signal?: AbortSignal) => {
      const child = spawn('sh', ['-c', 'sleep 30; true'], { signal, detached, stdio: 'ignore' });
      child.on('error', () => {});
      const sleepPid = await waitFor('the grandchild', () => {
        const out = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim();
        return out ? Number(out.split('\n')[0]) : undefined;
      });
      return { child, sleepPid, closed: new Promise((resolve) => child.once('close', resolve)) };
    };

    const controller = new AbortController();
    const plain = await grandchildOf(false, controller.signal);
    controller.abort();
    await plain.closed;
    try {
      assert.equal(running(plain.sleepPid), true, 'the grandchild outlived the abort');
    } finally {
      process.kill(plain.sleepPid, 'SIGKILL');
    }

    const grouped = await grandchildOf(true);
    try {
      process.kill(-grouped.child.pid!, 'SIGTERM'); // the whole group: sh and its sleep
      await grouped.closed;
      await waitFor('the grandchild to go', () => !running(grouped.sleepPid));
    } finally {
      if (running(grouped.sleepPid)) process.kill(grouped.sleepPid, 'SIGKILL'); // only if the assertion failed
    }
  });
});
