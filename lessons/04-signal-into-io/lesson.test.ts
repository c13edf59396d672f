// Lesson 04, end to end: the real server and client processes on ephemeral ports. For every layer the
// proof is on the server's side: the upstream's own record and the server's sockets, the child's pid,
// the server's file descriptors, the database's pg_stat_activity.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Client, SdkError, SdkErrorCode, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startPglite } from '../shared/pglite-start.ts';
import pg from 'pg';
import { startLessonServer, startTs, type StartedProcess } from '../shared/processes.ts';
import { checkReadmeOutput, checkReadmePair, type Normaliser } from '../shared/readme-output.ts';
import { throwawayPostgres, type ThrowawayPostgres } from '../shared/throwaway-postgres.ts';
import {
  canSeeFileDescriptors,
  connectRecordingClient,
  jobWhere,
  lineIndex,
  onlyProof,
  openDescriptorsTo,
  proofIndex,
  proofOf,
  textOf,
  type Proof,
  asShipped,
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

const pidOf = (server: Server) => server.child.pid!;
/** The port of the server's slow upstream, as it recorded it. */
const upstreamPort = (server: Server) => onlyProof(server, 'upstream').port as number;

/** The records of job `id` from record `from` on (a server shared by a describe's tests). */
const recordsOf = (server: Server, id: string | number, from: number) =>
  server.proof().slice(from).filter(jobWhere(id)) as Proof[];

/** The client's reports of the server's record, by layer, in the order the client ran them. */
const reportsBySource = (client: StartedProcess) =>
  Object.fromEntries(proofOf(client, 'server-report').map((report) => [report.source, report])) as Record<
    string,
    Proof
  >;

/** Matches the job records of layer `source`'s call for which `holds` is true. */
const jobOfLayer =
  (source: string, holds: (job: Proof) => boolean) =>
  (record: Proof): boolean =>
    record.type === 'job' && record.file === source && holds(record);

/** The one resource a job names (a child process, a database session), and its state. */
function onlyResource(job: Proof): [string, string] {
  const resources = Object.entries((job.resources ?? {}) as Record<string, string>);
  assert.equal(resources.length, 1, JSON.stringify(job));
  return resources[0]!;
}

/**
 * Job `id` stopped at most `maxBetweenCancelAndStop` chunks after the cancel arrived, and no record
 * of it, then or later, counts a chunk past the one it had when its handler stopped.
 */
function assertNoChunkAfterTheStop(server: Server, id: number, maxBetweenCancelAndStop: number, from = 0) {
  const records = recordsOf(server, id, from);
  const stopped = records.find((job) => job.state === 'cancelled');
  assert.ok(stopped, `#${id} never stopped:\n${records.map((r) => JSON.stringify(r)).join('\n')}`);
  const between = stopped.chunksDone - stopped.chunksDoneWhenCancelArrived;
  assert.ok(between <= maxBetweenCancelAndStop, `#${id}: ${between} chunks between the cancel and the stop`);
  const mostChunks = Math.max(...records.map((job) => job.chunksDone));
  assert.equal(mostChunks, stopped.chunksDone, `#${id} read on after it stopped`);
}

const normalisers: Normaliser[] = [
  [/(child process|postgres backend) \d+/g, '$1 PID'],
  [/\d+\/(\d+) chunks/g, 'N/$1 chunks'],
  [/\d+ of (\d+) (bytes|ran)/g, 'N of $1 $2'],
  [/#\d+/g, '#ID'], // the client's status polls take ids too, as many as it needed
  [/requestId: \d+/g, 'requestId: ID'],
  // The child's first chunk may or may not be printed before the cancel reaches it: the job record says which.
  [/^.* #ID child chunk \S+$/, ''],
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
    const from = server.proof().length;
    const client = startTs(CLIENT, ['--url', server.url]);
    if (canSeeFileDescriptors) {
      await server.waitForProof(
        'the file layer to read a chunk',
        jobOfLayer('file', (job) => job.chunksDone >= 1),
        undefined,
        from,
      );
      assert.equal(openDescriptorsTo(pidOf(server), LARGE_FILE), 1, 'the file is open while it is read');
    }
    assert.equal(await client.exited, 0, client.output());
    await server.waitForProof(
      'the session to end',
      (r) => r.type === 'session' && r.state === 'ended',
      undefined,
      from,
    );
    await server.waitForLine(/session \S+ ended/);
    const log = server.lines;
    const reports = reportsBySource(client);
    assert.deepEqual(Object.keys(reports), [...SOURCES]);
    const ids = Object.fromEntries(SOURCES.map((source) => [source, reports[source]!.requestId as number]));
    const lastRecordOf = (source: string) => recordsOf(server, ids[source]!, from).at(-1)!;

    // 1. HTTP: the upstream itself saw the connection close before its response was finished ...
    const upstream = /^closed by the client after (\d+)\/20 chunks$/;
    const [, sent] = lastRecordOf('http').resources['upstream response'].match(upstream);
    assert.ok(Number(sent) < 20);
    assert.match(reports.http!.job.resources['upstream response'], upstream);
    // ... and the server holds no connection to it, from either end.
    if (canSeeFileDescriptors)
      await waitFor(
        'no socket to the upstream',
        () => openTcpConnectionsOnPort(pidOf(server), upstreamPort(server)) === 0,
      );

    // 2. Child process: killed, reaped (no zombie: no /proc entry), and reported so.
    const [child, state] = onlyResource(reports.child!.job);
    assert.equal(state, 'killed (SIGTERM), reaped');
    const [, pid] = child.match(/^child process (\d+)$/)!;
    assert.throws(() => process.kill(Number(pid), 0), { code: 'ESRCH' });
    assert.equal(existsSync(`/proc/${pid}`), false);

    // 3. File: closed before the end, and no descriptor left in the server process.
    const closed = proofOf(server, 'file-closed').find((r) => r.requestId === ids.file)!;
    assert.deepEqual([closed.size, closed.bytesRead < closed.size], [8388608, true], JSON.stringify(closed));
    assert.equal(reports.file!.job.fileHandle, 'closed');
    if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(pidOf(server), LARGE_FILE), 0);

    // 4. PGlite: the statement running when the cancel arrived finished; none started after it.
    assert.match(
      reports.db!.job.resources['PGlite statements'],
      /^stopped between statements: \d+ of 20 ran, none started after the cancel$/,
    );

    // No layer read a chunk after its handler stopped; only PGlite finished the statement it was in.
    for (const source of ['http', 'child', 'file'] as const) assertNoChunkAfterTheStop(server, ids[source]!, 0, from);
    assertNoChunkAfterTheStop(server, ids.db!, 1, from);
    assert.deepEqual(
      proofOf(client, 'outcome').map((r) => [r.source, r.observed, r.expected]),
      SOURCES.map((source) => [source, 'stopped', 'stopped']),
    );

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
    const { http, child, file, db } = reportsBySource(client);
    assert.deepEqual(http!.job.resources, { 'upstream response': 'sent in full after 3/3 chunks' });
    assert.deepEqual(Object.values(child!.job.resources), ['exited 0']);
    assert.match(Object.keys(child!.job.resources)[0]!, /^child process \d+$/);
    assert.equal(file!.job.fileHandle, 'closed');
    assert.deepEqual(db!.job.resources, { 'PGlite statements': 'all 3 statements ran' });
    for (const report of [http, child, file, db])
      assert.deepEqual([report!.job.state, report!.job.chunksDone], ['completed', 3]);
    assert.deepEqual(
      proofOf(client, 'outcome').map((r) => [r.source, r.observed, r.expected]),
      SOURCES.map((source) => [source, 'completed', 'completed']),
    );
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
    const from = server.proof().length;
    const client = startTs(CLIENT, [
      ...['--url', server.url, '--expect', 'ran-on', '--chunks', '10', '--chunk-delay', '200'],
      ...['--cancel-after', '500', '--wait', '200'],
    ]);
    const ids: Record<string, string | number> = {};
    // While each layer's I/O goes on after its handler stopped, the OS shows what it still holds.
    for (const source of SOURCES) {
      const stopped = await server.waitForProof<Proof>(
        `the ${source} handler to stop`,
        jobOfLayer(source, (job) => job.state === 'cancelled'),
        undefined,
        from,
      );
      ids[source] = stopped.requestId;
      if (source === 'child') {
        const [child, state] = onlyResource(stopped);
        assert.equal(state, 'running', 'the child still runs when its handler stops');
        const [, pid] = child.match(/^child process (\d+)$/)!;
        process.kill(Number(pid), 0); // still there: does not throw (its exit 0 is checked below)
      }
      if (source === 'file') {
        assert.equal(stopped.fileHandle, 'open');
        // The OS shows it still open; on a loaded machine the read may already have reached its end
        // and closed the file before this line runs, and then the record must say so: all 10 read.
        if (canSeeFileDescriptors && openDescriptorsTo(pidOf(server), LARGE_FILE) !== 1)
          await server.waitForJob(stopped.requestId, (job) => job.fileHandle === 'closed' && job.chunksDone === 10, {
            from,
          });
      }
    }
    assert.equal(await client.exited, 0, client.output());
    // Each layer's I/O ran to its own end after the handler stopped: the last chunk read, and what
    // it held ended the way it does when nobody stops it.
    const ranToTheEnd: Record<string, (job: Proof) => boolean> = {
      http: (job) => job.resources?.['upstream response'] === 'sent in full after 10/10 chunks',
      child: (job) => Object.values(job.resources ?? {}).includes('exited 0'),
      file: (job) => job.fileHandle === 'closed',
      db: (job) => job.resources?.['PGlite statements'] === 'all 10 statements ran',
    };
    for (const source of SOURCES) {
      const id = ids[source]!;
      await server.waitForJob(id, (job) => job.chunksDone === 10 && ranToTheEnd[source]!(job), { from });
      const records = server.proof().slice(from);
      const stoppedAt = proofIndex(
        records,
        `#${id} stopping`,
        jobWhere(id, (job) => job.state === 'cancelled'),
      );
      for (const [what, holds] of [
        [`#${id} ${source} chunk 10/10, after the handler stopped`, (job: Proof) => job.chunksDone === 10],
        [`#${id} ${source}: its I/O ran to the end`, ranToTheEnd[source]!],
      ] as const)
        assert.ok(
          proofIndex(
            records,
            what,
            jobWhere(id, (job) => job.state === 'cancelled' && holds(job)),
          ) > stoppedAt,
        );
    }
    assert.deepEqual(
      proofOf(client, 'outcome').map((r) => [r.source, r.observed]),
      SOURCES.map((source) => [source, 'ran-on']),
    );
    if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(pidOf(server), LARGE_FILE), 0);
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
      // Statements of 1 s, cancelled half-way through the second: the cancel lands mid-statement.
      // Both stretch on a loaded machine, where the first statement can start late (a run under a
      // profiler saw the cancel land between two statements).
      const client = startTs(CLIENT, [
        ...['--url', server.url, '--layer', 'db', '--chunks', '5'],
        ...['--chunk-delay', String(scaled(1000)), '--cancel-after', String(scaled(1500))],
      ]);
      await server.waitForJob(1, (job) => job.chunksDone >= 1);
      // A statement of the lesson's own connections, in this PostgreSQL's pg_stat_activity.
      await waitFor('a statement running on the server', async () => (await activeStatements(url)) === 1);
      assert.equal(await client.exited, 0, client.output());
      const [backend, state] = onlyResource(onlyProof(client, 'server-report').job);
      assert.match(backend, /^postgres backend \d+$/);
      assert.match(state, /^statement \d+ cancelled on the server \(SQLSTATE 57014\)$/);
      assertNoChunkAfterTheStop(server, 1, 0);
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
      await server.waitForJob(1, (job) => job.state === 'cancelled');
      await waitFor('a statement still running on the server', async () => (await activeStatements(url)) === 1);
      assert.equal(await client.exited, 0, client.output());
      // Its I/O ran to the end: all eight statements, the last chunk read after the handler stopped.
      const ran = await server.waitForJob(1, (job) =>
        Object.values(job.resources ?? {}).includes('all 8 statements ran'),
      );
      assert.deepEqual([ran.state, ran.chunksDone], ['cancelled', 8]);
      assert.match(onlyResource(ran)[0], /^postgres backend \d+$/);
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

describe('lesson 04 exercise, in two terminals (PGlite)', { timeout: scaled(60_000) }, () => {
  const EXERCISE = join(import.meta.dirname, 'exercise-layers.ts');
  const asGiven = asShipped(EXERCISE);

  test(
    'the client against the unsolved exercise: the child runs on after the cancel, and the client hears nothing',
    { skip: !asGiven && 'the exercise file is being worked on' },
    async () => {
      await withServer(['--layers', EXERCISE], { DATABASE_URL: '' }, async (server) => {
        const client = startTs(CLIENT, [
          ...['--url', server.url, '--layer', 'child', '--chunks', '10', '--chunk-delay', '100'],
          ...['--cancel-after', '300'],
        ]);
        try {
          await server.waitForJob(1, (job) => job.chunksDoneWhenCancelArrived !== undefined);
          const [, pid] = await server.waitForLine(/#1 child process (\d+) exited 0$/);
          const cancelAt = lineIndex(server.lines, /notifications\/cancelled for #1/);
          assert.ok(lineIndex(server.lines, /#1 child chunk 10\/10$/, cancelAt) > cancelAt, server.output());
          assert.ok(recordsOf(server, 1, 0).some((job) => job.resources?.[`child process ${pid}`] === 'exited 0'));
          assert.equal(client.child.exitCode, null, `the client heard back:\n${client.output()}`);
          assert.ok(!client.lines.some((line) => line.includes('<-')), client.output());
        } finally {
          await client.stop();
        }
      });
    },
  );
});

describe(
  'lesson 04 in SDK 2.x: the same layers, handed ctx.mcpReq.signal, stop their I/O the same way (PGlite)',
  { timeout: scaled(60_000) },
  () => {
    // v2-check-server.ts reads through layers.ts in a 2.x McpServer (2025-11-25, sessions); a 2.x
    // Client cancels each call by aborting its signal, which sends notifications/cancelled.
    let server: Server;
    let client: Client;
    before(async () => {
      server = await startLessonServer(join(import.meta.dirname, 'v2-check-server.ts'));
      client = new Client({ name: 'lesson-04-test-v2', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      client.onerror = () => {}; // the -32800 after the abort lands here ("unknown message ID"): expected
    });
    after(async () => {
      await client?.close();
      await server?.stop();
    });

    test('http, child, file, db: each stops its I/O and releases what it held, as under 1.x', async () => {
      for (const source of SOURCES) {
        const from = server.proof().length;
        const controller = new AbortController();
        const call = client
          .callTool(
            { name: 'process_large_file', arguments: { source, chunks: 20, chunkDelayMs: 50 } },
            { signal: controller.signal },
          )
          .catch((error: unknown) => error);
        const { requestId: id } = await server.waitForProof<Proof>(
          `the ${source} layer to read 2 chunks`,
          jobOfLayer(source, (job) => job.chunksDone >= 2),
          undefined,
          from,
        );
        if (source === 'file' && canSeeFileDescriptors) assert.equal(openDescriptorsTo(pidOf(server), LARGE_FILE), 1);
        controller.abort('test');
        const rejected = (await call) as SdkError;
        assert.ok(rejected instanceof SdkError, String(rejected));
        assert.equal(rejected.code, SdkErrorCode.RequestTimeout);
        const job = (await server.waitForJob(id, (job) => job.reply !== undefined, { from })) as Proof;
        assert.deepEqual([job.state, job.reply], ['cancelled', 'error -32800'], source);

        if (source === 'http') {
          // The upstream records how its response ended once it sees the connection close.
          const closedBy = /^closed by the client after \d+\/20 chunks$/;
          await server.waitForJob(id, (job) => closedBy.test(job.resources?.['upstream response'] ?? ''), { from });
          if (canSeeFileDescriptors)
            await waitFor(
              'no socket to the upstream',
              () => openTcpConnectionsOnPort(pidOf(server), upstreamPort(server)) === 0,
            );
        } else if (source === 'child') {
          const [child, state] = onlyResource(job);
          assert.equal(state, 'killed (SIGTERM), reaped');
          assert.equal(existsSync(`/proc/${child.match(/^child process (\d+)$/)![1]}`), false);
        } else if (source === 'file') {
          const closed = proofOf(server, 'file-closed').find((r) => r.requestId === id)!;
          assert.ok(closed.bytesRead < closed.size, JSON.stringify(closed));
          if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(pidOf(server), LARGE_FILE), 0);
        } else {
          assert.match(
            job.resources['PGlite statements'],
            /^stopped between statements: \d+ of 20 ran, none started after the cancel$/,
          );
        }
        // No chunk after the stop; PGlite only finishes the statement it was in.
        assertNoChunkAfterTheStop(server, id, source === 'db' ? 1 : 0, from);
      }
    });
  },
);
