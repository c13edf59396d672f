// Lesson 09, end to end: real server and client processes on ephemeral ports. Every claim in the
// README is checked here, on the server's side: its log, its job records, /proc, the filesystem.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startLessonServer, startTs } from '../shared/processes.ts';
import { checkReadmeOutput, checkReadmePair } from '../shared/readme-output.ts';
import { serverRunner, type LessonServer } from '../shared/shared-servers.ts';
import { openRawSession } from '../shared/raw-mcp.ts';
import {
  assertInOrder,
  canSeeFileDescriptors,
  connectRecordingClient,
  lineIndex,
  openDescriptorsTo,
  textOf,
} from '../shared/testing.ts';
import { scaled, waitFor } from '../shared/wait.ts';
import { jobStatusInSession } from './session-over-http.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const README = join(import.meta.dirname, 'README.md');
const SCRATCH = join(import.meta.dirname, 'data', 'scratch');

type Server = LessonServer;

/** The file's shared server with `args`, or one of its own (`{ own: true }`). */
const withServer = serverRunner(SERVER);

const sampleOpen = (server: Server) => openDescriptorsTo(server.child.pid!, '/data/sample.txt');
const scratchFilesOf = (server: Server) => readdirSync(SCRATCH).filter((f) => f.startsWith(`${server.child.pid}-`));
// The README shows the default port a reader will see, not the free port the test used.
const asDocumented = (lines: string[], url: string) =>
  lines.map((line) => line.replaceAll(url, 'http://127.0.0.1:3109/mcp'));
const call = (id: number, chunks: number, chunkDelayMs: number) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'tools/call',
  params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
});

describe('lesson 09: a client disconnect is not a cancel (2025-11-25)', { timeout: scaled(60_000) }, () => {
  test('the client closes its transport: the handler runs on to the last chunk (README: server, client)', async () => {
    await withServer(
      [],
      async (server) => {
        const client = startTs(CLIENT, ['--url', server.url]); // the README's default run
        assert.equal(await client.exited, 0, client.output());
        lineIndex(client.lines, /closed the transport after 1000 ms: no notifications\/cancelled was sent/);
        lineIndex(
          client.lines,
          /server reports #1 \(asked over HTTP in the same session\): ran on to completion: 12\/12/,
        );
        lineIndex(client.lines, /response stream closed before the reply, file handle closed, scratch file removed/);
        // The server saw the stream close, logged no cancel, and read on.
        const closed = lineIndex(server.lines, /#1 response stream closed before the reply: the handler runs on/);
        lineIndex(server.lines, /#1 chunk \d+\/12/, closed + 1);
        lineIndex(server.lines, /#1 completed all 12 chunks, though its client had disconnected/, closed);
        assert.equal(server.lines.filter((l) => /notifications\/cancelled/.test(l)).length, 0);
        // The result had nowhere to go: the SDK says so.
        lineIndex(server.lines, /SDK: Failed to send response: Error: No connection established for request ID: 1/);
        if (canSeeFileDescriptors) assert.equal(sampleOpen(server), 0);
        assert.deepEqual(scratchFilesOf(server), []);

        await server.waitForLine(/session \S+ ended/);
        const serverLines = server.lines.slice(0, lineIndex(server.lines, /session \S+ ended/) + 1);
        checkReadmePair(README, [
          ['server', asDocumented(serverLines, server.url)],
          ['client', asDocumented(client.lines, server.url)],
        ]);
      },
      { own: true },
    );
  });

  test('the client process is killed (SIGKILL): the handler runs on to the last chunk', async () => {
    await withServer([], async (server) => {
      const client = startTs(CLIENT, [
        '--url',
        server.url,
        '--scenario',
        'wait',
        '--chunks',
        '8',
        '--chunk-delay',
        '100',
      ]);
      const [, sessionId] = await client.waitForLine(/session (\S+), protocol/);
      await server.waitForLine(/#1 chunk 2\/8/);
      client.child.kill('SIGKILL');
      assert.equal(await client.exited, 128);
      await server.waitForLine(/#1 response stream closed before the reply: the handler runs on/);
      // Same session, plain HTTP: the job is still running after its client died...
      const during = await jobStatusInSession(server.url, sessionId!, 1);
      assert.equal(during.state, 'running');
      // ...and completes.
      const job = await waitFor('the job to end and clean up', async () => {
        const report = await jobStatusInSession(server.url, sessionId!, 1);
        return report.state !== 'running' && report.resources?.['scratch file'] === 'removed' && report;
      });
      assert.equal(job.state, 'completed');
      assert.equal(job.chunksDone, 8);
      assert.equal(job.resources?.['response stream'], 'closed before the reply');
      assert.equal(job.fileHandle, 'closed');
      assert.equal(job.resources?.['scratch file'], 'removed');
      assert.deepEqual(scratchFilesOf(server), []);
    });
  });

  test('DELETE of the session stops the handler and frees its file', async () => {
    await withServer([], async (server) => {
      const session = await openRawSession(server.url);
      const reading = await session.stream(call(7, 100, 50));
      await server.waitForLine(/#7 chunk 2\/100/);
      if (canSeeFileDescriptors) assert.equal(sampleOpen(server), 1);
      assert.equal(scratchFilesOf(server).length, 1);
      assert.equal((await session.close()).status, 200);
      // "the session ended" is the server's label; the SDK's own reason is a bare AbortError.
      const [, name, message] = await server.waitForLine(
        /#7 handler stopped after chunk \d+\/100 \(the session ended; extra\.signal\.reason: (\w+) "([^"]*)"\)/,
      );
      assert.deepEqual([name, message], ['AbortError', 'This operation was aborted']);
      await server.waitForLine(/#7 file handle closed, scratch file removed/);
      if (canSeeFileDescriptors) assert.equal(sampleOpen(server), 0);
      assert.deepEqual(scratchFilesOf(server), []);
      await waitFor('the call stream to end', () => reading.ended);
    });
  });
});

describe('lesson 09: --disconnect-means-cancel (opt-in)', { timeout: scaled(60_000) }, () => {
  test('the client closes its transport: the handler stops and cleans up', async () => {
    await withServer(['--disconnect-means-cancel'], async (server) => {
      const client = startTs(CLIENT, [
        ...['--url', server.url, '--chunks', '40', '--chunk-delay', '100', '--disconnect-after', '300'],
        ...['--expect', 'stopped'],
      ]);
      assert.equal(await client.exited, 0, client.output());
      const [, done] = client.lines[lineIndex(client.lines, /server reports #1 .*: cancelled after chunk/)]!.match(
        /cancelled after chunk (\d+)\/40 \(client disconnected\)/,
      )!;
      assert.ok(Number(done) < 40);
      assertInOrder(server.lines, [
        /#1 response stream closed before the reply: stopping the handler/,
        /#1 handler stopped after chunk \d+\/40 \(client disconnected\)/,
        /#1 file handle closed, scratch file removed/,
      ]);
      if (canSeeFileDescriptors) assert.equal(sampleOpen(server), 0);
      assert.deepEqual(scratchFilesOf(server), []);
    });
  });

  test('the client process is killed: the handler stops', async () => {
    await withServer(['--disconnect-means-cancel'], async (server) => {
      const client = startTs(CLIENT, [
        '--url',
        server.url,
        '--scenario',
        'wait',
        '--chunks',
        '40',
        '--chunk-delay',
        '100',
      ]);
      const [, sessionId] = await client.waitForLine(/session (\S+), protocol/);
      await server.waitForLine(/#1 chunk 2\/40/);
      client.child.kill('SIGKILL');
      await server.waitForLine(/#1 file handle closed, scratch file removed/);
      const job = await jobStatusInSession(server.url, sessionId!, 1);
      assert.equal(job.state, 'cancelled');
      assert.equal(job.cancelReason, 'client disconnected');
      assert.ok(job.chunksDone < 40);
      // Within a chunk of the disconnect: at most the chunk being read when it came.
      assert.ok(job.chunksDone - job.chunksDoneWhenCancelArrived! <= 1, JSON.stringify(job));
      assert.equal(job.resources?.['scratch file'], 'removed');
    });
  });
});

describe('lesson 09: the SDK 1.x leak, counted after N cancels, and the fixes', { timeout: scaled(60_000) }, () => {
  const CANCELS = 20; // the README's two runs
  const FEWER = 10; // the same proof, per cancel, for the other two ways
  const countsAfter = (lines: string[]) => {
    const line = lines[lineIndex(lines, /server holds, after:/)]!;
    const [, streams, sdkStreams, mappings, tcp] = line.match(
      /(\d+) open response streams, (\d+) SDK streams with a keep-alive timer, (\d+) request-to-stream entries, (\d+) TCP/,
    )!;
    return { streams: Number(streams), sdkStreams: Number(sdkStreams), mappings: Number(mappings), tcp: Number(tcp) };
  };
  const runLeak = async (server: Server, expect: 'held' | 'released', cancels = CANCELS) => {
    const client = startTs(CLIENT, [
      '--url',
      server.url,
      '--scenario',
      'leak',
      '--cancels',
      String(cancels),
      '--expect',
      expect,
    ]);
    assert.equal(await client.exited, 0, client.output());
    // Each call was cancelled by the SDK (AbortSignal -> notifications/cancelled), and its handler stopped.
    const cancelled = /notifications\/cancelled for #\d+ \(reason: "user changed their mind"\)/;
    assert.equal(server.lines.filter((l) => cancelled.test(l)).length, cancels);
    const stopped = /#\d+ handler stopped after chunk \d+\/12 \(cancelled by the client: "user changed their mind"\)/;
    assert.equal(server.lines.filter((l) => stopped.test(l)).length, cancels);
    return { client, counts: countsAfter(client.lines) };
  };
  const showInReadme = (client: { lines: string[] }, way: string) =>
    checkReadmeOutput(
      README,
      `client, leak, --on-cancel ${way}`,
      client.lines.slice(lineIndex(client.lines, /server holds, before/)),
      [[/\d+ TCP connections/, 'N TCP connections']],
    );

  test('--on-cancel none (what SDK 1.x does by itself): one stream, timer and socket held per cancel (README)', async () => {
    await withServer(['--on-cancel', 'none'], async (server) => {
      const { client, counts } = await runLeak(server, 'held');
      showInReadme(client, 'none');
      assert.equal(counts.streams, CANCELS);
      assert.equal(counts.sdkStreams, CANCELS);
      assert.equal(counts.mappings, CANCELS);
      if (canSeeFileDescriptors) assert.ok(counts.tcp >= CANCELS, `TCP connections: ${counts.tcp}`);
    });
  });

  test('--on-cancel error (answerCancelled, -32800): everything released (README)', async () => {
    await withServer(['--on-cancel', 'error'], async (server) => {
      const { client, counts } = await runLeak(server, 'released');
      showInReadme(client, 'error');
      assert.equal(counts.streams, 0);
      assert.equal(counts.sdkStreams, 0);
      assert.equal(counts.mappings, 0);
      if (canSeeFileDescriptors) assert.ok(counts.tcp < CANCELS, `TCP connections: ${counts.tcp}`);
      lineIndex(client.lines, new RegExp(`ignored ${CANCELS} replies to calls already given up`));
    });
  });

  test('--on-cancel close-stream (transport.closeSSEStream): released, but one request entry left per cancel', async () => {
    await withServer(['--on-cancel', 'close-stream'], async (server) => {
      const { client, counts } = await runLeak(server, 'released', FEWER);
      assert.equal(counts.streams, 0);
      assert.equal(counts.sdkStreams, 0);
      assert.equal(counts.mappings, FEWER, 'the SDK keeps each closed request in _requestToStreamMapping');
      if (canSeeFileDescriptors) assert.ok(counts.tcp < FEWER, `TCP connections: ${counts.tcp}`);
      assert.equal(client.lines.filter((l) => /ignored \d+ replies/.test(l)).length, 0, 'nothing was sent');
    });
  });

  test('--on-cancel extra-close-stream: without an event store it is undefined, so nothing is released', async () => {
    await withServer(['--on-cancel', 'extra-close-stream'], async (server) => {
      const { counts } = await runLeak(server, 'held', FEWER);
      assert.equal(counts.streams, FEWER);
      assert.equal(counts.sdkStreams, FEWER);
      assert.equal(counts.mappings, FEWER);
      if (canSeeFileDescriptors) assert.ok(counts.tcp >= FEWER, `TCP connections: ${counts.tcp}`);
      assert.equal(server.lines.filter((l) => /extra\.closeSSEStream is undefined/.test(l)).length, FEWER);
    });
  });

  test('a held stream keeps its keep-alive timer writing until the session ends', async () => {
    await withServer(['--on-cancel', 'none', '--keep-alive-ms', '50'], async (server) => {
      const session = await openRawSession(server.url);
      const reading = await session.stream(call(3, 100, 50));
      await server.waitForLine(/#3 chunk 1\/100/);
      await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3 } });
      await server.waitForLine(/#3 file handle closed/);
      const then = reading.comments.length;
      await waitFor('three more keep-alives on the held stream', () => reading.comments.length >= then + 3);
      assert.equal(reading.comments.at(-1), 'keepalive');
      assert.equal(reading.ended, false);
      assert.equal(reading.messages.length, 0, 'nothing was sent for #3');
      await session.close();
      await waitFor('the held stream to end with the session', () => reading.ended);
    });
  });
});

describe('lesson 09: graceful shutdown', { timeout: scaled(60_000) }, () => {
  test('SIGTERM mid-call: the handler stops and cleans up before the process exits 0 (README)', async () => {
    const server = await startLessonServer(SERVER, []);
    try {
      const client = startTs(CLIENT, ['--url', server.url, '--scenario', 'wait', '--expect', 'shutdown']);
      await server.waitForLine(/#1 chunk 3\/12/);
      if (canSeeFileDescriptors) assert.equal(sampleOpen(server), 1);
      assert.equal(scratchFilesOf(server).length, 1);
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, server.output());
      assertInOrder(server.lines, [
        /SIGTERM: stopping 1 running call\(s\), waiting for their clean-up/,
        /#1 handler stopped after chunk \d+\/12 \(server shutting down\)/,
        /#1 file handle closed, scratch file removed/,
        /1 call\(s\) cleaned up, sessions closed, 0 scratch file\(s\) left: exiting \(code 0\)/,
      ]);
      assert.deepEqual(scratchFilesOf(server), []);
      // The caller heard why, instead of waiting for its own timeout.
      assert.equal(await client.exited, 0, client.output());
      lineIndex(client.lines, /<- tool error: Stopped after \d+ of 12 chunks: server shutting down/);
      checkReadmeOutput(README, 'server, SIGTERM', server.lines.slice(lineIndex(server.lines, /tools\/call #1/)));
    } finally {
      await server.stop();
    }
  });
});

describe('lesson 09: bad input gets a clear answer and the server keeps serving', { timeout: scaled(30_000) }, () => {
  test('tool arguments and unknown jobs', async () => {
    await withServer([], async (server) => {
      const { client, close } = await connectRecordingClient(server.url);
      const outside = await client.callTool({ name: 'process_large_file', arguments: { path: '../../etc/passwd' } });
      assert.equal(outside.isError, true);
      assert.match(textOf(outside), /outside the data folder/);
      const unknown = await client.callTool({ name: 'get_job_status', arguments: { requestId: 42 } });
      assert.match(textOf(unknown), /No job with request id 42 in this session/);
      const counts = await client.callTool({ name: 'count_held_resources', arguments: {} });
      assert.equal(counts.isError, undefined);
      await close();
    });
  });

  test('bad flag values are named', async () => {
    const server = startTs(SERVER, ['--on-cancel', 'maybe']);
    const client = startTs(CLIENT, ['--scenario', 'nope']);
    assert.equal(await server.exited, 2);
    assert.match(server.output(), /--on-cancel must be one of error, close-stream, extra-close-stream, none/);
    assert.equal(await client.exited, 2);
    assert.match(client.output(), /--scenario must be one of disconnect, wait, leak/);
  });
});
