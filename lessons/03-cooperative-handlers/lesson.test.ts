// Lesson 03, end to end: the real server (and client) processes on ephemeral ports, the wire seen
// with plain fetch, and the server's own record of each job. No test asserts how many milliseconds
// anything took: they assert what the handler did (chunks, order of events, threads, descriptors).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { Client, SdkError, SdkErrorCode, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { jobReportSchema } from '../shared/jobs.ts';
import { startLessonServer, startTs } from '../shared/processes.ts';
import { openRawSession, type RawSession, type SseReading } from '../shared/raw-mcp.ts';
import { sharedServers, type LessonServer } from '../shared/shared-servers.ts';
import { checkReadmePair, type Normaliser } from '../shared/readme-output.ts';
import {
  assertProvedInOrder,
  canSeeFileDescriptors,
  jobWhere,
  lineIndex,
  openDescriptorsTo,
  type Proof,
  asShipped,
} from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';
import type { z } from 'zod';
import type { Strategy } from './strategies.ts';

const execFileAsync = promisify(execFile);
const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const README = join(import.meta.dirname, 'README.md');

type Server = LessonServer;
type JobReport = z.infer<z.ZodObject<typeof jobReportSchema>>;

const sharedServer = sharedServers(SERVER);

/** Runs `body` against the file's shared server, in a session of its own. */
async function withServer(body: (server: Server, session: RawSession) => Promise<void>) {
  const server = await sharedServer();
  const session = await openRawSession(server.url);
  await body(server, session);
  await session.close();
}

let nextId = 1000;
async function jobStatus(session: RawSession, requestId: number): Promise<JobReport> {
  const reading = await session.stream({
    jsonrpc: '2.0',
    id: nextId++,
    method: 'tools/call',
    params: { name: 'get_job_status', arguments: { requestId } },
  });
  await reading.done;
  const answer = reading.messages[0] as { result?: { structuredContent?: JobReport } };
  assert.ok(answer.result?.structuredContent, JSON.stringify(reading.messages));
  return answer.result.structuredContent;
}

const startJob = (session: RawSession, id: number, strategy: Strategy, chunks = 200, chunkMs = 20) =>
  session.stream({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'process_large_file', arguments: { strategy, chunks, chunkMs } },
  });

const cancel = (session: RawSession, requestId: number) =>
  session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'test' } });

/** Starts a job, waits (by asking the server) until it has done a few chunks, cancels it, and reads what came back. */
async function cancelMidJob(session: RawSession, id: number, strategy: Strategy) {
  const reading = await startJob(session, id, strategy);
  await waitFor(`#${id} to do 2 chunks`, async () => (await jobStatus(session, id)).chunksDone >= 2);
  assert.equal((await cancel(session, id)).status, 202);
  await reading.done;
  const job = await jobStatus(session, id);
  return { reading, job, answer: answerTo(reading, id) };
}

function answerTo(reading: SseReading, id: number) {
  return reading.messages.find((m) => 'id' in m && m.id === id) as
    | (JSONRPCMessage & { error?: { code: number; data: Record<string, unknown> }; result?: Record<string, unknown> })
    | undefined;
}

/** Matches the record of `type` that request `requestId`'s handler made. */
const madeBy = (type: string, requestId: number) => (record: Proof) =>
  record.type === type && record.requestId === requestId;
const cancelArrived = (id: number) => jobWhere(id, (job) => job.cancelReceivedAtMs !== undefined);
const fileClosed = (id: number) => jobWhere(id, (job) => job.fileHandle === 'closed');
const stopped = (id: number) => jobWhere(id, (job) => job.state === 'cancelled');
const replied = (id: number, reply: string) => jobWhere(id, (job) => job.reply === reply);

const threadsOf = (pid: number) => readdirSync(`/proc/${pid}/task`).length;

describe('lesson 03: waiting on the signal vs polling it', { timeout: scaled(60_000) }, () => {
  test('abortable: stops before starting another chunk, closes the file, then answers -32800', async () => {
    await withServer(async (server, session) => {
      for (const id of [1, 2]) {
        const { job, answer } = await cancelMidJob(session, id, 'abortable');
        assert.equal(job.state, 'cancelled');
        assert.equal(job.chunksDone, job.chunksDoneWhenCancelArrived, 'no chunk finished after the cancel arrived');
        assert.equal(job.fileHandle, 'closed');
        assert.equal(answer?.error?.code, -32800);
        assert.equal(answer?.error?.data.strategy, 'abortable');
        assertProvedInOrder(server.proof(), [
          ['the cancel arriving', cancelArrived(id)],
          ['the wait ending at once', madeBy('wait-ended', id)],
          ['the file closing', fileClosed(id)],
          ['the handler stopping', stopped(id)],
          ['the -32800 reply', replied(id, 'error -32800')],
        ]);
      }
      if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(server.child.pid!, '/data/sample.txt'), 0);
    });
  });

  test('poll-100ms and poll-1s: the chunk in hand, and more, still get done after the cancel arrived', async () => {
    await withServer(async (server, session) => {
      for (const [id, strategy, pollMs] of [
        [1, 'poll-100ms', 100],
        [2, 'poll-1s', 1000],
      ] as const) {
        const { job, answer } = await cancelMidJob(session, id, strategy);
        assert.equal(job.state, 'cancelled');
        assert.ok(
          job.chunksDone > job.chunksDoneWhenCancelArrived!,
          `${strategy} did ${job.chunksDone - job.chunksDoneWhenCancelArrived!} chunks after the cancel arrived`,
        );
        assert.equal(job.fileHandle, 'closed');
        assert.equal(answer?.error?.code, -32800);
        // Noticed by a poll, not when it arrived: the record names the poll and the chunks done meanwhile.
        const records = server.proof();
        assertProvedInOrder(records, [
          ['the cancel arriving', cancelArrived(id)],
          ['the poll seeing it', madeBy('poll-saw-abort', id)],
          ['the file closing', fileClosed(id)],
          ['the -32800 reply', replied(id, 'error -32800')],
        ]);
        const { pollMs: poll, afterChunk, extra } = records.find(madeBy('poll-saw-abort', id)) as Proof;
        assert.deepEqual(
          [poll, afterChunk, extra],
          [pollMs, job.chunksDone, job.chunksDone - job.chunksDoneWhenCancelArrived!],
        );
      }
    });
  });
});

describe('lesson 03: CPU-bound work', { timeout: scaled(60_000) }, () => {
  test('cpu-blocking: the loop runs to the end, the result is sent, and the server reads the cancel only afterwards', async () => {
    await withServer(async (server, session) => {
      const reading = await startJob(session, 1, 'cpu-blocking', 20, 50);
      await server.waitForProof('the loop to start', madeBy('loop-started', 1));
      const resultBeforeCancel = answerTo(reading, 1);
      const cancelPost = cancel(session, 1); // its 202 cannot come until the loop ends
      await reading.done;
      assert.equal(resultBeforeCancel, undefined, 'the cancel left before the result arrived');
      assert.equal((await cancelPost).status, 202);

      const answer = answerTo(reading, 1);
      assert.deepEqual(answer?.result?.structuredContent, {
        status: 'completed',
        strategy: 'cpu-blocking',
        chunksDone: 20,
        chunksTotal: 20,
        digest: (answer?.result?.structuredContent as { digest: string }).digest,
      });
      const job = await jobStatus(session, 1);
      assert.equal(job.state, 'completed');
      assert.equal(job.cancelReason, undefined, 'the job never saw the cancel');
      assert.equal(job.reply, 'result');
      const records = server.proof();
      assertProvedInOrder(records, [
        ['the loop starting, 20 chunks', (r) => madeBy('loop-started', 1)(r) && r.chunks === 20],
        ['the loop ending', madeBy('loop-done', 1)],
        ['the result', replied(1, 'result')],
        ['the cancel, for a job already completed', (r) => madeBy('cancel', 1)(r) && r.matched === 'completed'],
      ]);
      const { checks, aborted } = records.find(madeBy('loop-done', 1)) as Proof;
      assert.deepEqual([checks, aborted], [20, false], 'signal.aborted was false at all 20 checks');
    });
  });

  test('cpu-sliced: stops at a slice boundary, before starting another slice', async () => {
    await withServer(async (server, session) => {
      for (const id of [1, 2]) {
        const { job, answer } = await cancelMidJob(session, id, 'cpu-sliced');
        assert.equal(job.state, 'cancelled');
        assert.equal(job.chunksDone, job.chunksDoneWhenCancelArrived);
        assert.equal(answer?.error?.code, -32800);
        const boundary = await server.waitForProof<Proof>(
          'the stop at a slice boundary',
          madeBy('slice-boundary-stop', id),
        );
        assert.equal(boundary.afterChunk, job.chunksDone);
      }
    });
  });

  test(
    'cpu-worker: the worker is terminated mid-loop and its thread is gone',
    { skip: !canSeeFileDescriptors && 'reads /proc (Linux)' },
    async () => {
      await withServer(async (server, session) => {
        const pid = server.child.pid!;
        const baseline = threadsOf(pid);
        const reading = await startJob(session, 1, 'cpu-worker');
        await waitFor('#1 to do 2 chunks', async () => (await jobStatus(session, 1)).chunksDone >= 2);
        assert.ok(threadsOf(pid) > baseline, 'the worker runs in a thread of its own');
        assert.equal((await cancel(session, 1)).status, 202);
        await reading.done;

        const job = await jobStatus(session, 1);
        assert.equal(job.state, 'cancelled');
        assert.ok(job.chunksDone < job.chunksTotal);
        assert.equal(job.resources?.worker, 'terminated');
        const [, before, after] = job.resources!.threads!.match(/^(\d+) before the worker, (\d+) after$/)!;
        assert.equal(after, before, 'the server counted its threads back to where they were');
        assert.equal(threadsOf(pid), baseline, 'and /proc agrees');
        assert.equal(answerTo(reading, 1)?.error?.code, -32800);
        assertProvedInOrder(server.proof(), [
          ['the cancel arriving', cancelArrived(1)],
          ["the worker's 'exit' event (code 1)", jobWhere(1, (job) => job.resources?.worker === 'exited (code 1)')],
          ['the worker terminated', jobWhere(1, (job) => job.resources?.worker === 'terminated')],
          ['the handler stopping', stopped(1)],
          ['the -32800 reply', replied(1, 'error -32800')],
        ]);
      });
    },
  );

  test('the .ts worker loads under the tsx CLI too; a bare .ts worker does not on Node 20', async () => {
    // The other tests start the server with node --import tsx; the README starts it with the tsx CLI.
    const tsxCli = join(import.meta.dirname, '../../node_modules/tsx/dist/cli.mjs');
    const child = spawn(process.execPath, [tsxCli, SERVER, '--port', '0'], {
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const lines: string[] = [];
      createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
      const listening = await waitFor(
        'the tsx CLI server to listen',
        () => lines.join('\n').match(/listening on (\S+)/) ?? undefined,
      );
      const session = await openRawSession(listening[1]!);
      const reading = await startJob(session, 1, 'cpu-worker', 2, 1);
      await reading.done;
      assert.equal((answerTo(reading, 1)?.result?.structuredContent as { status: string }).status, 'completed');
      await session.close();
    } finally {
      child.kill('SIGTERM');
      await exited;
    }

    // Why cpu-worker-entry.mjs exists: a Worker pointed at the .ts file itself, under both commands.
    const probe = join(import.meta.dirname, 'data', 'bare-ts-worker.mjs');
    const workerData = { file: join(import.meta.dirname, 'data', 'sample.txt'), chunks: 1, chunkMs: 0 };
    writeFileSync(
      probe,
      `import { Worker } from 'node:worker_threads';
       const worker = new Worker(new URL('../cpu-worker.ts', import.meta.url), { workerData: ${JSON.stringify(workerData)} });
       worker.on('message', (message) => 'done' in message && console.log('worker finished'));
       worker.on('error', (error) => console.log('worker failed:', error.code));`,
    );
    for (const command of [[tsxCli], ['--import', 'tsx']]) {
      // Not spawnSync: blocking this process for seconds would leave it unaware that the shared
      // server closed an idle keep-alive connection, and the next test's fetch would fail on it.
      // Its own deadline still: a hung worker must not hang the suite.
      const bare = await execFileAsync(process.execPath, [...command, probe], {
        encoding: 'utf8',
        cwd: import.meta.dirname,
        timeout: 20_000,
      }).catch((error: { stdout?: string; stderr?: string }) => ({
        stdout: error.stdout ?? '',
        stderr: error.stderr ?? '',
      }));
      const expected =
        Number(process.versions.node.split('.')[0]) === 20
          ? /worker failed: ERR_UNKNOWN_FILE_EXTENSION/
          : /worker finished/;
      assert.match(bare.stdout, expected, `${command.join(' ')}: ${bare.stdout}${bare.stderr}`);
    }
  });
});

describe('lesson 03: bad input gets a clear answer and the server keeps serving', { timeout: scaled(30_000) }, () => {
  test('tool arguments and client flags', async () => {
    await withServer(async (_server, session) => {
      const tryCall = async (id: number, args: Record<string, unknown>) => {
        const reading = await session.stream({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'process_large_file', arguments: args },
        });
        await reading.done;
        const result = answerTo(reading, id)?.result as { isError: boolean; content: { text: string }[] };
        assert.equal(result.isError, true);
        return result.content[0]!.text;
      };
      assert.match(
        await tryCall(1, { strategy: 'faster' }),
        /Invalid option: expected one of "poll-1s"\|"poll-100ms"\|"abortable"\|"cpu-blocking"\|"cpu-sliced"\|"cpu-worker"/,
      );
      assert.match(await tryCall(2, {}), /Invalid option: expected one of .* at strategy/);
      assert.match(await tryCall(3, { strategy: 'abortable', path: '../../etc/passwd' }), /outside the data folder/);
      assert.match(await tryCall(4, { strategy: 'cpu-worker', chunks: 0 }), /Too small: expected number to be >=1/);
      const ok = await startJob(session, 5, 'abortable', 2, 0);
      await ok.done;
      assert.equal((answerTo(ok, 5)?.result?.structuredContent as { status: string }).status, 'completed');
    });

    const client = startTs(CLIENT, ['--strategy', 'faster']);
    assert.equal(await client.exited, 2);
    assert.match(client.output(), /--strategy must be one of poll-1s, .*, cpu-worker, all; got "faster"/);
  });
});

describe('lesson 03 README shows what the code prints', { timeout: scaled(60_000) }, () => {
  // What changes from run to run, beyond the shared normalisers: where in a poll the cancel landed,
  // how many threads the process has, and the table's column widths.
  const normalisers: Normaliser[] = [
    [/\d+ -> \d+/g, 'N -> N'],
    [/\(\d+ chunks? after the cancel arrived\)/, '(N chunks after the cancel arrived)'],
    [/during chunk \d+/, 'during chunk N'],
    [/(threads:?) \d+ before the worker, \d+ after/, '$1 N before the worker, N after'],
    [/ {2,}/g, '  '],
    [/ all \d+$/, ' all N'],
  ];
  const asDocumented = (lines: string[], url: string) =>
    lines.map((line) => line.replaceAll(url, 'http://127.0.0.1:3103/mcp'));

  test('the default run, in both terminals', async () => {
    const server = await startLessonServer(SERVER);
    try {
      const client = startTs(CLIENT, ['--url', server.url]);
      assert.equal(await client.exited, 0, client.output());
      await server.waitForLine(/session \S+ ended/);
      const serverLines = server.lines.slice(0, lineIndex(server.lines, /session \S+ ended/) + 1);
      checkReadmePair(
        README,
        [
          ['server', asDocumented(serverLines, server.url)],
          ['client', asDocumented(client.lines, server.url)],
        ],
        normalisers,
      );
    } finally {
      await server.stop();
    }
  });
});

describe('lesson 03 exercise, in two terminals', { timeout: scaled(60_000) }, () => {
  const EXERCISE = join(import.meta.dirname, 'exercise-strategies.ts');
  const asGiven = asShipped(EXERCISE);

  test(
    'the client against the unsolved exercise gets the full result after its cancel and exits 1',
    { skip: !asGiven && 'the exercise file is being worked on' },
    async () => {
      const server = await startLessonServer(SERVER, ['--strategies', EXERCISE]);
      try {
        const client = startTs(CLIENT, [
          ...['--url', server.url, '--strategy', 'cpu-sliced', '--chunks', '20', '--cancel-after', '300'],
        ]);
        assert.equal(await client.exited, 1, client.output());
        assert.match(client.output(), /<- the full result, .* the job ran to the end/);
        assert.match(client.output(), /unexpected outcome for cpu-sliced/);
        assert.ok(
          server.proof().some((r) => r.type === 'cancel' && r.matched === 'completed'),
          server.output(),
        );
      } finally {
        await server.stop();
      }
    },
  );
});

describe(
  'lesson 03 in SDK 2.x: the same strategies, handed ctx.mcpReq.signal, stop the same way',
  { timeout: scaled(60_000) },
  () => {
    // v2-check-server.ts runs strategies.ts in a 2.x McpServer (2025-11-25, sessions); a 2.x Client
    // cancels each call by aborting its signal, which sends notifications/cancelled.
    let server: Server;
    let client: Client;
    before(async () => {
      server = await startLessonServer(join(import.meta.dirname, 'v2-check-server.ts'));
      client = new Client({ name: 'lesson-03-test-v2', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      client.onerror = () => {}; // a reply after the abort lands here ("unknown message ID"): expected
    });
    after(async () => {
      await client?.close();
      await server?.stop();
    });

    /** Calls `strategy`, aborts the call once the server has `startedWhen`, and returns the job once it answered. */
    async function abortMidCall(
      strategy: Strategy,
      startedWhen: (r: Proof, id: number) => boolean,
      chunks = 200,
      chunkMs = 20,
    ) {
      const from = server.proof().length;
      const controller = new AbortController();
      const call = client
        .callTool(
          { name: 'process_large_file', arguments: { strategy, chunks, chunkMs } },
          { signal: controller.signal },
        )
        .catch((error: unknown) => error);
      const isJob = (r: Proof) => r.type === 'job' && r.tool === `process_large_file (${strategy})`;
      const { requestId: id } = await server.waitForProof<Proof>(`${strategy} to start`, isJob, undefined, from);
      await server.waitForProof<Proof>(`${strategy} to get going`, (r) => startedWhen(r, id), undefined, from);
      controller.abort('test');
      const rejected = (await call) as SdkError;
      assert.ok(rejected instanceof SdkError, String(rejected));
      assert.deepEqual([rejected.code, rejected.message], [SdkErrorCode.RequestTimeout, 'test']);
      const job = await server.waitForJob(id, (job) => job.reply !== undefined, { from });
      return { id: id as number, job, records: server.proof().slice(from) as Proof[] };
    }
    const twoChunks = (r: Proof, id: number) => jobWhere(id, (job) => job.chunksDone >= 2)(r);

    test('abortable and cpu-sliced: no chunk after the cancel; poll-*: the chunks in hand and more; all answer -32800', async () => {
      for (const strategy of ['abortable', 'cpu-sliced', 'poll-100ms', 'poll-1s'] as const) {
        const { id, job, records } = await abortMidCall(strategy, twoChunks);
        assert.deepEqual([job.state, job.fileHandle === 'open', job.reply], ['cancelled', false, 'error -32800']);
        const after = job.chunksDone - job.chunksDoneWhenCancelArrived!;
        if (strategy.startsWith('poll')) {
          assert.ok(after > 0, `${strategy}: ${after} chunks after the cancel`);
          const poll = records.find(madeBy('poll-saw-abort', id))!;
          assert.deepEqual([poll.pollMs, poll.extra], [strategy === 'poll-1s' ? 1000 : 100, after]);
        } else assert.equal(after, 0, `${strategy}: ${after} chunks after the cancel`);
        if (strategy === 'abortable')
          assertProvedInOrder(records, [
            ['the cancel arriving', cancelArrived(id)],
            ['the wait ending at once', madeBy('wait-ended', id)],
            ['the file closing', fileClosed(id)],
            ['the -32800 reply', replied(id, 'error -32800')],
          ]);
        if (strategy === 'cpu-sliced')
          assert.equal(records.find(madeBy('slice-boundary-stop', id))!.afterChunk, job.chunksDone);
      }
      if (canSeeFileDescriptors) assert.equal(openDescriptorsTo(server.child.pid!, '/data/sample.txt'), 0);
    });

    test(
      'cpu-worker: the worker is terminated mid-loop and its thread is gone',
      { skip: !canSeeFileDescriptors && 'reads /proc (Linux)' },
      async () => {
        const baseline = threadsOf(server.child.pid!);
        const { job } = await abortMidCall('cpu-worker', twoChunks);
        assert.deepEqual([job.state, job.resources?.worker, job.reply], ['cancelled', 'terminated', 'error -32800']);
        assert.ok(job.chunksDone < job.chunksTotal);
        assert.equal(threadsOf(server.child.pid!), baseline);
      },
    );

    test('cpu-blocking: the 2.x call rejects on the abort, but the server runs the loop to the end and reads the cancel afterwards', async () => {
      const { id, job, records } = await abortMidCall('cpu-blocking', (r, id) => madeBy('loop-started', id)(r), 10, 30);
      assert.deepEqual(
        [job.state, job.chunksDone, job.cancelReason, job.reply],
        ['completed', 10, undefined, 'result'],
      );
      const { checks, aborted } = records.find(madeBy('loop-done', id))!;
      assert.deepEqual([checks, aborted], [10, false]);
      await server.waitForProof(
        'the cancel, for a job already completed',
        (r: Proof) => madeBy('cancel', id)(r) && r.matched === 'completed',
      );
    });
  },
);
