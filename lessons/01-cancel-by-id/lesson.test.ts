// Lesson 01, end to end: the real server and client processes on ephemeral ports, plus the wire
// seen with plain fetch. Every claim in this lesson's README is checked here, but the ones it marks
// as read, not run (spec wording, the Python SDK's source).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as spec from '@modelcontextprotocol/sdk/spec.types.js';
import { ErrorCode, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_REQUEST_TIMEOUT_MSEC } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { DEFAULT_SSE_KEEP_ALIVE_MS } from '@modelcontextprotocol/sdk/server/sseKeepAlive.js';
import { SdkErrorCode } from '@modelcontextprotocol/client';
import { canRunInTerminal, startTs, startTsInTerminal } from '../shared/processes.ts';
import { checkReadmeOutput, checkReadmePair } from '../shared/readme-output.ts';
import { openRawSession } from '../shared/raw-mcp.ts';
import { serverRunner, type LessonServer } from '../shared/shared-servers.ts';
import {
  canSeeFileDescriptors,
  connectRecordingClient,
  assertProvedInOrder,
  jobWhere,
  jsonRpcErrorMessage,
  lineIndex,
  onlyProof,
  openDescriptorsTo,
  proofIndex,
  proofOf,
  textOf,
  type Proof,
} from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const SAMPLE = join(import.meta.dirname, 'data', 'sample.txt');
const README = join(import.meta.dirname, 'README.md');

/** The file's shared server with `args`, or one of its own (`{ own: true }`). */
const withServer = serverRunner(SERVER);

const fileDescriptorsOpen = (server: LessonServer) => openDescriptorsTo(server.child.pid!, '/data/sample.txt');

describe('lesson 01: cancel a running tool call by its id', { timeout: scaled(60_000) }, () => {
  const expectations = {
    error: { cameBack: (r: Proof) => r.error?.code === -32800, stream: 'closed', reply: 'error -32800' },
    result: {
      cameBack: (r: Proof) =>
        r.result?.isError === false && /^Cancelled after \d+ of 20 chunks$/.test(r.result.content[0].text),
      stream: 'closed',
      reply: 'clean-cancel result',
    },
    none: { cameBack: (r: Proof) => r.silent === true, stream: 'open', reply: 'nothing' },
  } as const;

  for (const [policy, expected] of Object.entries(expectations)) {
    test(`--on-cancel ${policy}: the client sees it, and the server stopped within one chunk and freed the file`, async () => {
      await withServer(['--on-cancel', policy], async (server) => {
        const client = startTs(CLIENT, [
          ...['--url', server.url, '--chunks', '20', '--chunk-delay', '100', '--cancel-after', '450'],
          ...['--wait', '1000', '--expect', policy],
        ]);
        await server.waitForJob(1, (job) => job.fileHandle === 'open');
        if (canSeeFileDescriptors)
          await waitFor('the server to open the file', () => fileDescriptorsOpen(server) === 1);

        assert.equal(await client.exited, 0, client.output());
        assert.ok(expected.cameBack(onlyProof(client, 'came-back')), client.output());
        assert.equal(onlyProof(client, 'outcome').observed, policy);

        // The server's own record, read over MCP by the client before it ended the session.
        const { job } = onlyProof(client, 'server-report');
        assert.equal(job.state, 'cancelled');
        assert.equal(job.cancelReason, 'user changed their mind');
        assert.ok(job.chunksDone < job.chunksTotal, 'the job stopped before the end');
        assert.ok(
          job.chunksDone - job.chunksDoneWhenCancelArrived <= 1,
          `stopped within one chunk: ${JSON.stringify(job)}`,
        );
        assert.deepEqual([job.fileHandle, job.responseStream, job.reply], ['closed', expected.stream, expected.reply]);

        // The process really holds no descriptor for the file any more.
        if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 0);

        // The server's records, in order: cancel received, handler stopped, file closed, reply.
        await server.waitForJob(1, (job) => job.responseStream === 'closed');
        await server.waitForProof('the session to end', (r) => r.type === 'session' && r.state === 'ended');
        const records = server.proof();
        assertProvedInOrder(records, [
          ['the cancel arriving', jobWhere(1, (job) => job.cancelReceivedAtMs !== undefined)],
          ['the handler stopping', jobWhere(1, (job) => job.state === 'cancelled')],
          ['the file closing', jobWhere(1, (job) => job.fileHandle === 'closed')],
          ['the reply', jobWhere(1, (job) => job.reply !== undefined)],
        ]);
        const streamClosed = proofIndex(
          records,
          'the stream closing',
          jobWhere(1, (job) => job.responseStream === 'closed'),
        );
        const sessionEnded = proofIndex(
          records,
          'the session ending',
          (r) => r.type === 'session' && r.state === 'ended',
        );
        // With none, the stream is held until the session ends: it closes only after the client's DELETE.
        assert.equal(streamClosed > sessionEnded, policy === 'none', records.map((r) => JSON.stringify(r)).join('\n'));
      });
    });
  }

  test('--no-cancel: the call completes and the hash matches the file', async () => {
    await withServer([], async (server) => {
      const client = startTs(CLIENT, ['--url', server.url, '--no-cancel', '--chunks', '5', '--chunk-delay', '10']);
      assert.equal(await client.exited, 0, client.output());
      const sha256 = createHash('sha256').update(readFileSync(SAMPLE)).digest('hex');
      const { result } = onlyProof(client, 'came-back');
      assert.deepEqual(result.structuredContent, {
        ...{ status: 'completed', chunksDone: 5, chunksTotal: 5, bytesRead: 1048576, sha256 },
      });
      const { job } = onlyProof(client, 'server-report');
      assert.deepEqual(
        [job.state, job.chunksDone, job.fileHandle, job.responseStream],
        ['completed', 5, 'closed', 'closed'],
      );
      assert.equal(job.reply, 'result');
      assert.equal(onlyProof(client, 'outcome').observed, 'completed');
    });
  });

  test('the client exits 1 when the outcome is not the one expected', async () => {
    await withServer(['--on-cancel', 'none'], async (server) => {
      const client = startTs(CLIENT, [
        ...['--url', server.url, '--chunks', '20', '--chunk-delay', '50', '--cancel-after', '100', '--wait', '300'],
      ]);
      assert.equal(await client.exited, 1, client.output());
      assert.deepEqual(
        [onlyProof(client, 'outcome').observed, onlyProof(client, 'outcome').expected],
        ['none', 'error'],
      );
    });
  });

  test('-32800 is not an MCP error code: neither the schema nor the SDK defines one for a cancel', () => {
    // spec.types.js is the MCP schema as the SDK ships it (generated from the spec repo).
    const schemaCodes = (Object.values(spec) as unknown[]).filter(
      (value): value is number => typeof value === 'number',
    );
    assert.ok(schemaCodes.includes(-32602) && !schemaCodes.includes(-32800), String(schemaCodes));
    assert.ok(!(Object.values(ErrorCode) as number[]).includes(-32800));
    assert.equal(ErrorCode.RequestTimeout, -32001);
  });
});

describe('lesson 01 on the wire (plain HTTP, no SDK client)', { timeout: scaled(60_000) }, () => {
  const call = (id: number, chunks: number, chunkDelayMs: number): JSONRPCMessage => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
  });
  const cancel = (requestId: number | string) => ({
    jsonrpc: '2.0',
    method: 'notifications/cancelled',
    params: { requestId, reason: 'test' },
  });
  const responseTo = (messages: JSONRPCMessage[], id: number) => messages.find((m) => 'id' in m && m.id === id);

  test('--on-cancel error: -32800 arrives on the call stream, which then ends', async () => {
    await withServer([], async (server) => {
      const session = await openRawSession(server.url);
      const reading = await session.stream(call(7, 100, 50));
      await server.waitForJob(7, (job) => job.chunksDone >= 2);
      assert.equal((await session.post(cancel(7))).status, 202);
      await reading.done;
      // How many chunks fit before the cancel depends on timing: take the count the server recorded.
      const { chunksDone: stoppedAfter } = await server.waitForJob(7, (job) => job.state === 'cancelled');
      assert.deepEqual(responseTo(reading.messages, 7), {
        jsonrpc: '2.0',
        id: 7,
        error: {
          code: -32800,
          message: 'Request cancelled',
          data: { reason: 'test', chunksDone: Number(stoppedAfter), chunksTotal: 100 },
        },
      });
      await session.close();
    });
  });

  test('--on-cancel none: no reply, and each cancelled call holds its stream and keep-alive timer until the session ends', async () => {
    await withServer(['--on-cancel', 'none', '--keep-alive-ms', '50'], async (server) => {
      const session = await openRawSession(server.url);
      const readings = [];
      for (const id of [7, 8]) {
        const reading = await session.stream(call(id, 100, 50));
        await server.waitForJob(id, (job) => job.chunksDone >= 2);
        await session.post(cancel(id));
        await server.waitForJob(id, (job) => job.reply === 'nothing');
        readings.push({ id, reading, keepAlivesAtCancel: reading.comments.length });
      }
      for (const { id, reading, keepAlivesAtCancel } of readings) {
        // The SDK keeps writing ": keepalive" on the stream of a request it will never answer.
        await waitFor(
          `three more keep-alives on #${id}'s held stream`,
          () => reading.comments.length >= keepAlivesAtCancel + 3,
        );
        assert.equal(reading.comments.at(-1), 'keepalive');
        assert.equal(reading.ended, false);
        assert.equal(responseTo(reading.messages, id), undefined);
      }

      assert.equal(DEFAULT_SSE_KEEP_ALIVE_MS, 15_000, 'the keep-alive interval without --keep-alive-ms');
      await session.close(); // DELETE frees them
      for (const { id, reading } of readings) {
        await waitFor(`#${id}'s held stream to end`, () => reading.ended);
        assert.equal(responseTo(reading.messages, id), undefined);
      }
    });
  });

  test('ending the session (DELETE) mid-call stops the handler and frees the file', async () => {
    await withServer([], async (server) => {
      const session = await openRawSession(server.url);
      const reading = await session.stream(call(7, 100, 50));
      await server.waitForJob(7, (job) => job.chunksDone >= 2);
      if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 1);
      assert.equal((await session.close()).status, 200);
      const job = await server.waitForJob(7, (job) => job.reply !== undefined);
      assert.deepEqual(
        [job.state, job.cancelReason, job.reply],
        ['cancelled', undefined, 'nothing (the session ended)'],
      );
      if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 0);
      await waitFor('the call stream to end', () => reading.ended);
    });
  });

  test('a handler that ignores its signal runs to the end, and the SDK drops its result', async () => {
    await withServer(['--ignore-signal'], async (server) => {
      // Things to try: the client, as the README gives it, ends green with --expect none. It runs
      // in a session of its own while the wire is checked below.
      const reader = startTs(CLIENT, ['--url', server.url, '--expect', 'none']);
      const client = await connectRecordingClient(server.url);
      const session = await openRawSession(server.url);
      const reading = await session.stream(call(7, 6, 50));
      await server.waitForJob(7, (job) => job.chunksDone >= 1);
      await session.post(cancel(7));
      await server.waitForJob(7, (job) => job.reply !== undefined);
      // Reading the job from a second session fails: jobs belong to the session that ran them.
      const other = await client.client.callTool({ name: 'get_job_status', arguments: { requestId: 7 } });
      assert.equal(other.isError, true);
      const status = await session.stream({
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/call',
        params: { name: 'get_job_status', arguments: { requestId: 7 } },
      });
      await status.done;
      const job = (
        responseTo(status.messages, 8) as unknown as { result: { structuredContent: Record<string, unknown> } }
      ).result.structuredContent;
      assert.equal(job.state, 'completed');
      assert.equal(job.chunksDone, 6);
      assert.match(String(job.reply), /SDK dropped the result/);
      assert.equal(responseTo(reading.messages, 7), undefined);
      assert.equal(reading.ended, false);
      await session.close();
      await client.close();

      assert.equal(await reader.exited, 0, reader.output());
      assert.equal(onlyProof(reader, 'came-back').silent, true);
      assert.match(onlyProof(reader, 'server-report').job.state, /^(running|completed)$/); // the cancel stopped nothing
      assert.equal(onlyProof(reader, 'outcome').observed, 'none');
    });
  });
});

describe('lesson 01: bad input gets a clear answer and the server keeps serving', { timeout: scaled(60_000) }, () => {
  test('tool arguments', async () => {
    await withServer([], async (server) => {
      const { client, close } = await connectRecordingClient(server.url);
      const tryCall = async (args: Record<string, unknown>, name = 'process_large_file') => {
        const result = await client.callTool({ name, arguments: args });
        assert.equal(result.isError, true);
        return textOf(result);
      };
      assert.match(
        await tryCall({ path: '../../etc/passwd' }),
        /path "..\/..\/etc\/passwd" is outside the data folder/,
      );
      assert.match(
        await tryCall({ path: '/etc/passwd' }),
        /is outside the data folder; name a file inside lessons\/01-cancel-by-id\/data/,
      );
      assert.match(await tryCall({ path: 'nope.txt' }), /no such file: "nope.txt"/);
      // The zod message reaches the client.
      assert.match(
        await tryCall({ path: 'sample.txt', chunks: -5 }),
        /Input validation error: .*Too small: expected number to be >=1 at chunks/,
      );
      assert.match(await tryCall({ path: 42 }), /Invalid input: expected string, received number at path/);
      assert.match(await tryCall({}, 'no_such_tool'), /Tool no_such_tool not found/);
      assert.match(await tryCall({ requestId: 99 }, 'get_job_status'), /No job with request id 99 in this session/);
      // Nothing went wrong on the server: the next good call completes.
      const ok = await client.callTool({
        name: 'process_large_file',
        arguments: { path: 'sample.txt', chunks: 2, chunkDelayMs: 0 },
      });
      assert.equal(ok.isError, false);
      assert.match(textOf(ok), /Processed sample.txt: 2 chunks/);
      await close();
    });
  });

  test('cancels that match nothing are ignored, with a note in the server log', async () => {
    await withServer([], async (server) => {
      const session = await openRawSession(server.url);
      assert.equal(
        (await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 999 } })).status,
        202,
      );
      await server.waitForProof(
        'the cancel for 999',
        (r) => r.type === 'cancel' && r.requestId === 999 && r.matched === 'nothing',
      );

      // Too late: the call already completed. Nothing to cancel; the cancel is ignored.
      const done = await session.stream({
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: 2, chunkDelayMs: 0 } },
      });
      await done.done;
      assert.match(JSON.stringify(done.messages), /Processed sample.txt: 2 chunks/);
      assert.equal(
        (await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5 } })).status,
        202,
      );
      await server.waitForProof(
        'the late cancel',
        (r) => r.type === 'cancel' && r.requestId === 5 && r.matched === 'completed',
      );

      // "1" is not 1: the SDK matches ids by JSON type, so this cancel stops nothing.
      const reading = await session.stream({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: 100, chunkDelayMs: 50 } },
      });
      await server.waitForJob(1, (job) => job.chunksDone >= 1);
      assert.equal(
        (await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: '1' } })).status,
        202,
      );
      await server.waitForProof(
        'the cancel for "1"',
        (r) => r.type === 'cancel' && r.requestId === '1' && r.matched === 'an id of the other JSON type',
      );
      // The job goes on past the wrong-type cancel.
      const then = proofOf(server, 'job').filter(jobWhere(1)).at(-1)!;
      await server.waitForJob(1, (job) => job.state === 'running' && job.chunksDone >= then.chunksDone + 2);
      assert.equal(reading.ended, false);

      // The right id, with the right type, stops it.
      await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } });
      await reading.done;
      assert.equal((reading.messages.at(-1) as { error?: { code: number } }).error?.code, -32800);
      await session.close();
    });
  });

  test('HTTP-level mistakes', async () => {
    await withServer([], async (server) => {
      const session = await openRawSession(server.url);
      const malformed = await session.post('{"jsonrpc": "2.0", "id": 1, ');
      assert.equal(malformed.status, 400);
      assert.match(await jsonRpcErrorMessage(malformed), /^Parse error: the body is not valid JSON/);

      const noSession = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      assert.equal(noSession.status, 400);
      assert.match(await jsonRpcErrorMessage(noSession), /no Mcp-Session-Id header\. Send initialize first/);

      const unknown = await session.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': 'nope' });
      assert.equal(unknown.status, 404);
      assert.match(await jsonRpcErrorMessage(unknown), /Session not found: nope/);

      const tooBig = await session.post({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: { pad: 'x'.repeat(2_000_000) },
      });
      assert.equal(tooBig.status, 413);

      // Still serving, same session.
      const list = await session.stream({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      await list.done;
      const tools = (list.messages[0] as unknown as { result: { tools: { name: string }[] } }).result.tools.map(
        (t) => t.name,
      );
      assert.deepEqual(tools.sort(), ['get_job_status', 'process_large_file']);
      await session.close();
    });
  });
});

describe('lesson 01: mistakes when starting it', { timeout: scaled(30_000) }, () => {
  test('a port already in use is named, with what to do', async () => {
    await withServer([], async (server) => {
      const port = new URL(server.url).port;
      const second = startTs(SERVER, ['--port', port]);
      assert.equal(await second.exited, 1);
      assert.match(
        second.output(),
        new RegExp(`port ${port} on 127.0.0.1 is in use: stop what holds it, or pass --port N`),
      );
    });
  });

  test('a bad flag value is named', async () => {
    const server = startTs(SERVER, ['--on-cancel', 'maybe']);
    assert.equal(await server.exited, 2);
    assert.match(server.output(), /--on-cancel must be one of error, result, none; got "maybe"/);
  });

  test('a flag given to the wrong side says whose it is and how to pass it; an unknown one says so in a line', async () => {
    const [client, server, unknown] = [
      startTs(CLIENT, ['--on-cancel', 'none']),
      startTs(SERVER, ['--cancel-after', '100']),
      startTs(CLIENT, ['--bogus']),
    ];
    assert.equal(await client.exited, 2);
    assert.deepEqual(client.lines, [
      '--on-cancel is a flag of the server, not of this client. Give it to the server:',
      '  npx tsx lessons/01-cancel-by-id/server.ts --on-cancel none',
      'or run both in one terminal: npm run lesson -- 01 --server --on-cancel none',
    ]);
    assert.equal(await server.exited, 2);
    assert.deepEqual(server.lines, [
      '--cancel-after is a flag of the client, not of this server. Give it to the client:',
      '  npx tsx lessons/01-cancel-by-id/client.ts --cancel-after 100',
      'or run both in one terminal: npm run lesson -- 01 --cancel-after 100',
    ]);
    assert.equal(await unknown.exited, 2);
    assert.deepEqual(unknown.lines, ["unknown flag --bogus; run with --help to see this client's flags"]);
  });

  // Commands in the READMEs name files from the repository root; from inside a lesson folder the
  // path is looked for under that folder, so it appears twice in the error.
  test('from inside the lesson folder: a root-relative path fails with the path doubled, npm run lesson works', async () => {
    const lessonFolder = import.meta.dirname;
    const run = (command: string, args: string[]) => {
      const child = spawn(command, args, {
        cwd: lessonFolder,
        detached: true,
        env: { ...process.env, FORCE_COLOR: '0' },
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      return { exited, output: () => output, kill: () => process.kill(-child.pid!, 'SIGKILL') };
    };
    const wrong = run('npx', ['tsx', 'lessons/01-cancel-by-id/server.ts']);
    // A thing to try from the README, run the one-terminal way: npm runs scripts from the package root.
    const right = run('npm', ['run', 'lesson', '--', '01', '--path', '../../etc/passwd', '--expect', 'tool-error']);
    try {
      assert.equal(await wrong.exited, 1);
      assert.match(wrong.output(), /ERR_MODULE_NOT_FOUND/);
      assert.ok(
        wrong.output().includes(join('lessons', '01-cancel-by-id', 'lessons', '01-cancel-by-id', 'server.ts')),
        wrong.output(),
      );
      assert.equal(await right.exited, 0, right.output());
      assert.match(right.output(), /client <- tool error: .*path "\.\.\/\.\.\/etc\/passwd" is outside the data folder/);
      assert.match(right.output(), /client observed: tool-error, as expected/);
    } finally {
      for (const started of [wrong, right]) {
        try {
          started.kill();
        } catch {
          // already gone
        }
      }
    }
  });

  test('the client says when no server is listening', async () => {
    await withServer(
      [],
      async (server) => {
        const url = server.url;
        await server.stop();
        const client = startTs(CLIENT, ['--url', url]);
        assert.equal(await client.exited, 1);
        assert.match(client.output(), /cannot connect to .*: fetch failed\n.*is the server running\?/);
      },
      { own: true },
    );
  });
});

describe(
  'what SDK 1.x does when the client cancels by hand and nothing is replied',
  { timeout: scaled(30_000) },
  () => {
    test('callTool waits for its own timeout, rejects with -32001, and sends a second cancel', async () => {
      await withServer(['--on-cancel', 'none'], async (server) => {
        const { client, sent, close } = await connectRecordingClient(server.url);
        const call = client.callTool(
          { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: 100, chunkDelayMs: 50 } },
          undefined,
          { timeout: 1000 },
        );
        const callMessage = await waitFor('the call to leave', () =>
          sent.find((m) => 'method' in m && m.method === 'tools/call'),
        );
        const id = (callMessage as { id: number }).id;
        // The SDK numbers a connection's requests from 0: initialize was 0, so this call is 1.
        const requests = sent.filter((m) => 'id' in m && 'method' in m) as { id: number; method: string }[];
        assert.deepEqual(
          requests.map((m) => [m.method, m.id]),
          [
            ['initialize', 0],
            ['tools/call', 1],
          ],
        );
        await server.waitForJob(id, (job) => job.chunksDone >= 1);
        await client.notification({ method: 'notifications/cancelled', params: { requestId: id, reason: 'by hand' } });
        await assert.rejects(call, (error: { code?: number }) => error.code === ErrorCode.RequestTimeout);
        const cancels = sent.filter((m) => 'method' in m && m.method === 'notifications/cancelled');
        assert.equal(cancels.length, 2, 'ours, then the SDK timeout sends its own');
        assert.equal(DEFAULT_REQUEST_TIMEOUT_MSEC, 60_000, 'the timeout callTool uses when given none');
        assert.deepEqual((cancels[1] as unknown as { params: { requestId: unknown } }).params.requestId, id);
        await close();
      });
    });
  },
);

describe('lesson 01 README shows what the code prints', { timeout: scaled(60_000) }, () => {
  // The README shows the default port a reader will see, not the free port the test used.
  const asDocumented = (lines: string[], url: string) =>
    lines.map((line) => line.replaceAll(url, 'http://127.0.0.1:3101/mcp'));

  test('the default run, in both terminals', async () => {
    await withServer(
      [],
      async (server) => {
        const client = startTs(CLIENT, ['--url', server.url]);
        assert.equal(await client.exited, 0, client.output());
        await server.waitForLine(/session \S+ ended/);
        const serverLines = server.lines.slice(0, lineIndex(server.lines, /session \S+ ended/) + 1);
        // The README says the clock puts the two terminals in order: they must be one run's.
        checkReadmePair(
          README,
          [
            ['server', asDocumented(serverLines, server.url)],
            ['client', asDocumented(client.lines, server.url)],
          ],
          [],
          {
            order: [
              ['server', /session \S+ started/, 'client', /session \S+, protocol/],
              ['client', /-> notifications\/cancelled/, 'server', /notifications\/cancelled for #1/],
              ['server', /#1 replying: error/, 'client', /<- error -32800/],
            ],
          },
        );
      },
      { own: true },
    );
  });

  test('the client with --on-cancel none', async () => {
    await withServer(['--on-cancel', 'none'], async (server) => {
      const client = startTs(CLIENT, ['--url', server.url, '--expect', 'none']);
      assert.equal(await client.exited, 0, client.output());
      const from = lineIndex(client.lines, /-> notifications\/cancelled/);
      checkReadmeOutput(README, 'client, --on-cancel none', asDocumented(client.lines.slice(from), server.url));
    });
  });
});

describe('lesson 01 in a terminal', { timeout: scaled(30_000) }, () => {
  // The wall-clock time a timeline line was written, as a Date on the day of `near`.
  const clockOf = (line: string, near: number) => {
    const [, h, m, sec, ms] = /(\d\d):(\d\d):(\d\d)\.(\d{3}) \+/.exec(line)!.map(Number);
    const at = new Date(near).setHours(h!, m!, sec!, ms!);
    return at - near < -12 * 3_600_000 ? at + 24 * 3_600_000 : at; // past midnight
  };

  test(
    'in a terminal the client waits for a key (80% of the job, or --cancel-after), and c or Esc cancels at once',
    { skip: !canRunInTerminal && 'needs script(1) from util-linux for a pseudo-terminal' },
    async (t) => {
      await withServer([], async (server) => {
        // Without --cancel-after the delay is 80% of the job (20 chunks x 250 ms); the flag still sets it.
        for (const [key, name, flags, delay] of [
          ['c', 'c', [], 4000],
          ['\x1b', 'Esc', ['--cancel-after', '60000'], 60000],
        ] as const) {
          // script(1) gives the client a real terminal, so it reads keys (a pipe would cancel at 1200 ms).
          const terminal = startTsInTerminal(CLIENT, ['--url', server.url, ...flags]);
          try {
            await waitFor('the key prompt', () => terminal.output().includes('press c or Esc to cancel now'));
            const pressedAt = Date.now();
            terminal.press(key);
            assert.equal(await terminal.exited, 0, terminal.output());
            const lines = terminal.output().split(/\r?\n/);
            lineIndex(lines, new RegExp(`press c or Esc to cancel now, or wait ${delay} ms$`));
            const cancel = lines[lineIndex(lines, /-> notifications\/cancelled \{ requestId: 1, /)]!;
            assert.match(cancel, new RegExp(`\\(on a key press: ${name}\\)$`));
            // readline would hold a lone Esc 500 ms to see if an escape sequence follows; raw bytes do not.
            const keyToCancelMs = clockOf(cancel, pressedAt) - pressedAt;
            assert.ok(keyToCancelMs < 300, `${name}: the cancel went out ${keyToCancelMs} ms after the key`);
            t.diagnostic(`${name}: the cancel went out ${keyToCancelMs} ms after the key press`);
            lineIndex(lines, /observed: error, as expected/);
          } finally {
            terminal.kill();
          }
        }
      });
    },
  );
});

describe('lesson 01 in SDK 2.x: the same cancel, the same cost, the same answer', { timeout: scaled(60_000) }, () => {
  const SERVER_V2 = join(import.meta.dirname, 'server-v2.ts');
  const CLIENT_V2 = join(import.meta.dirname, 'client-v2.ts');
  const withServerV2 = serverRunner(SERVER_V2);
  const fast = ['--chunks', '20', '--chunk-delay', '100', '--cancel-after', '450', '--wait', '1000'];
  const call = (id: number, chunks: number, chunkDelayMs: number): JSONRPCMessage => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
  });
  const cancel = (requestId: number) => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId } });

  test('aborting the 2.x call sends the cancel and rejects at once (SdkError REQUEST_TIMEOUT); the server stops within one chunk, frees the file, and its -32800 ends the stream but is dropped by the client', async () => {
    await withServerV2([], async (server) => {
      const client = startTs(CLIENT_V2, ['--url', server.url, ...fast]);
      await server.waitForJob(1, (job) => job.fileHandle === 'open');
      if (canSeeFileDescriptors) await waitFor('the server to open the file', () => fileDescriptorsOpen(server) === 1);
      assert.equal(await client.exited, 0, client.output());

      const rejected = onlyProof(client, 'rejected');
      assert.equal(rejected.code, SdkErrorCode.RequestTimeout); // "REQUEST_TIMEOUT", though nothing timed out
      assert.equal(rejected.message, 'user changed their mind');
      lineIndex(client.lines, /-> notifications\/cancelled \{"requestId":1,"reason":"user changed their mind"\}/);
      // The -32800 did arrive, after the rejection: only client.onerror saw it ("unknown message ID").
      assert.equal(onlyProof(client, 'came-back').late.error.code, -32800);
      assert.equal(onlyProof(client, 'outcome').observed, 'error');

      const { job } = onlyProof(client, 'server-report');
      assert.equal(job.state, 'cancelled');
      assert.equal(job.cancelReason, 'user changed their mind');
      assert.ok(
        job.chunksDone - job.chunksDoneWhenCancelArrived <= 1,
        `stopped within one chunk: ${JSON.stringify(job)}`,
      );
      assert.deepEqual([job.fileHandle, job.responseStream, job.reply], ['closed', 'closed', 'error -32800']);
      if (canSeeFileDescriptors) assert.equal(fileDescriptorsOpen(server), 0);
    });
  });

  test('--on-cancel result: the clean-cancel result goes out the same way, and the 2.x client drops it too', async () => {
    await withServerV2(['--on-cancel', 'result'], async (server) => {
      const client = startTs(CLIENT_V2, ['--url', server.url, ...fast, '--expect', 'result']);
      assert.equal(await client.exited, 0, client.output());
      assert.equal(onlyProof(client, 'rejected').code, SdkErrorCode.RequestTimeout);
      const { late } = onlyProof(client, 'came-back');
      assert.match(late.result.content[0].text, /^Cancelled after \d+ of 20 chunks$/);
      const { job } = onlyProof(client, 'server-report');
      assert.deepEqual([job.state, job.responseStream, job.reply], ['cancelled', 'closed', 'clean-cancel result']);
    });
  });

  test('--on-cancel none: 2.4.0 holds each cancelled call stream open, with keep-alives, until the session ends', async () => {
    await withServerV2(['--on-cancel', 'none', '--keep-alive-ms', '50'], async (server) => {
      const session = await openRawSession(server.url);
      const readings = [];
      for (const id of [7, 8]) {
        const reading = await session.stream(call(id, 100, 50));
        await server.waitForJob(id, (job) => job.chunksDone >= 2);
        await session.post(cancel(id));
        // The handler returned its "Cancelled after N of 100 chunks" result: the SDK dropped it.
        await server.waitForJob(id, (job) => job.reply === 'nothing' && job.fileHandle === 'closed');
        readings.push({ id, reading, keepAlivesAtCancel: reading.comments.length });
      }
      for (const { id, reading, keepAlivesAtCancel } of readings) {
        await waitFor(`three more keep-alives on #${id}`, () => reading.comments.length >= keepAlivesAtCancel + 3);
        assert.equal(reading.ended, false);
        assert.deepEqual(reading.messages, []);
      }
      // The server's side: both HTTP responses still open (their 'close' has not fired), both jobs over.
      const open = proofOf(server, 'job')
        .filter((r) => [7, 8].includes(r.requestId))
        .slice(-2);
      assert.deepEqual(
        open.map((r) => [r.state, r.responseStream]),
        [
          ['cancelled', 'open'],
          ['cancelled', 'open'],
        ],
      );
      await session.close();
      for (const { id, reading } of readings) await waitFor(`#${id}'s held stream to end`, () => reading.ended);
      for (const id of [7, 8]) await server.waitForJob(id, (job) => job.responseStream === 'closed');
    });
  });

  test('a handler that ignores its signal runs to the end, and 2.4.0 drops its result too', async () => {
    await withServerV2(['--ignore-signal', '--keep-alive-ms', '50'], async (server) => {
      const session = await openRawSession(server.url);
      const reading = await session.stream(call(7, 6, 50));
      await server.waitForJob(7, (job) => job.chunksDone >= 1);
      await session.post(cancel(7));
      const job = await server.waitForJob(7, (job) => job.reply !== undefined);
      assert.deepEqual([job.state, job.chunksDone], ['completed', 6]);
      assert.match(String(job.reply), /SDK dropped the result/);
      const keepAlives = reading.comments.length;
      await waitFor('keep-alives after the dropped result', () => reading.comments.length >= keepAlives + 2);
      assert.deepEqual([reading.messages, reading.ended], [[], false]);
      await session.close();
    });
  });

  test('the README shows a real run of server-v2.ts and client-v2.ts', async () => {
    const asDocumented = (lines: string[], url: string) =>
      lines.map((line) => line.replaceAll(url, 'http://127.0.0.1:3101/mcp'));
    await withServerV2(
      [],
      async (server) => {
        const client = startTs(CLIENT_V2, ['--url', server.url]);
        assert.equal(await client.exited, 0, client.output());
        await server.waitForLine(/session \S+ ended/);
        const serverLines = server.lines.slice(0, lineIndex(server.lines, /session \S+ ended/) + 1);
        checkReadmePair(
          README,
          [
            ['server, SDK 2.x', asDocumented(serverLines, server.url)],
            ['client, SDK 2.x', asDocumented(client.lines, server.url)],
          ],
          [],
          {
            order: [
              ['server, SDK 2.x', /session \S+ started/, 'client, SDK 2.x', /session \S+, protocol/],
              ['client, SDK 2.x', /-> notifications\/cancelled/, 'server, SDK 2.x', /notifications\/cancelled for #1/],
              ['server, SDK 2.x', /#1 replying: error/, 'client, SDK 2.x', /<- then error -32800/],
            ],
          },
        );
      },
      { own: true },
    );
  });
});
