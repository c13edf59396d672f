// Lesson 08, end to end: real server, client and slow-reader processes on ephemeral ports. The memory
// checks read the server's own process.memoryUsage() while a reader stalls; the naive server is the
// negative control that shows the check can fail.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startLessonServer, startTs } from '../shared/processes.ts';
import { checkReadmeOutput, checkReadmePair } from '../shared/readme-output.ts';
import { connectRecordingClient, lineIndex, textOf } from '../shared/testing.ts';
import { logLines } from './log-lines.ts';
import { scaled } from '../shared/wait.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const SLOW_READER = join(import.meta.dirname, 'slow-reader.ts');
const README = join(import.meta.dirname, 'README.md');
const OUTPUTS = join(import.meta.dirname, 'data', 'outputs');
/** The most the server's RSS may grow while 120 MB of output meets a stalled reader. */
const BOUND_BYTES = 64_000_000;
const LINES = 1_500_000;

// The README shows the default port, and what changes from run to run normalised.
const asDocumented = (lines: string[], url: string) =>
  lines.map((line) => line.replaceAll(url, 'http://127.0.0.1:3108/mcp'));
const varying: [RegExp, string][] = [
  [/\d+\.\d MB/g, 'N MB'],
  [/batch \d+\//g, 'batch N/'],
  [/arrived after batch \d+/g, 'arrived after batch N'],
  [/\d+\/1500 batches \(\d+ lines/g, 'N/1500 batches (N lines'],
  [/export-[0-9a-f]{8}-/g, 'export-XXXXXXXX-'],
  [/in \d+ notifications/g, 'in N notifications'],
  [/sha256 [0-9a-f]{12}…/g, 'sha256 …'],
  [/<- \d+ lines live/g, '<- N lines live'],
  [/live view sent \d+ lines/g, 'live view sent N lines'],
  [/waited for room \d+ times/g, 'waited for room N times'],
];

type Server = Awaited<ReturnType<typeof startLessonServer>>;

async function withServer(args: string[], body: (server: Server) => Promise<void>) {
  const server = await startLessonServer(SERVER, args);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

/** The SHA-256 the first `lines` lines of the log must have, computed here, not by the server. */
function expectedSha256(lines: number): string {
  const hash = createHash('sha256');
  for (let from = 0; from < lines; from += 10_000) hash.update(logLines(from, Math.min(from + 10_000, lines)).join(''));
  return hash.digest('hex');
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** How many lines a file has, and its last line (newline included), read as a stream. */
async function countLines(path: string) {
  let lines = 0;
  let tail = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    const text = chunk as string;
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
    tail = (tail + text).slice(-200);
  }
  const last = tail.slice(tail.lastIndexOf('\n', tail.length - 2) + 1);
  return { lines, last };
}

/** Runs the slow reader and returns its output lines and the server RSS growth it measured, in bytes. */
async function stallAgainst(server: Server, expect: 'bounded' | 'unbounded') {
  const reader = startTs(SLOW_READER, ['--url', server.url, '--lines', String(LINES), '--expect', expect]);
  const code = await reader.exited;
  assert.equal(code, 0, reader.output());
  const [, grew] = reader.output().match(/: grew (\d+\.\d) MB \(bound 64\.0 MB\)/)!;
  return { lines: reader.lines, growthBytes: Number(grew) * 1_000_000 };
}

describe('lesson 08: a slow reader and the server memory', { timeout: scaled(90_000) }, () => {
  test('--naive: SDK 1.x never waits for the reader, so memory grows with the output (negative control; README)', async () => {
    await withServer(['--naive'], async (server) => {
      const { lines, growthBytes } = await stallAgainst(server, 'unbounded');
      checkReadmeOutput(README, 'slow reader, --naive', asDocumented(lines, server.url), varying);
      // The whole job ran while the reader read nothing: every sendNotification resolved without it.
      lineIndex(lines, /server job: completed, 1500\/1500 batches/);
      assert.ok(growthBytes > BOUND_BYTES, `naive growth ${growthBytes} should exceed ${BOUND_BYTES}`);
      // Nothing was lost, only held: once the reader reads, every line arrives.
      lineIndex(lines, new RegExp(`<- ${LINES} lines live, then the result`));
    });
  });

  test('--when-full skip: the job writes all 120 MB at full speed, memory stays under the bound, the file has every line', async () => {
    await withServer(['--when-full', 'skip'], async (server) => {
      const { lines, growthBytes } = await stallAgainst(server, 'bounded');
      assert.ok(growthBytes < BOUND_BYTES, `growth ${growthBytes} should stay under ${BOUND_BYTES}`);
      lineIndex(lines, /server job: completed, 1500\/1500 batches/);
      const [, left] = server.output().match(/left out (\d+), waited for room 0 times/)!;
      assert.ok(Number(left) > 0, 'the live view left lines out for the stalled reader');
      // The full output is complete and intact on disk.
      const [, name] = server.output().match(/ in (export-\S+\.log);/)!;
      // (The fast-client test checks a whole file's hash; generating 120 MB of lines here would double this test.)
      const file = await countLines(join(OUTPUTS, name!));
      assert.deepEqual(file, { lines: LINES, last: logLines(LINES - 1, LINES)[0] });
    });
  });

  test('--when-full wait: the job waits for the reader; a cancel ends the blocked write and no line more is written (README)', async () => {
    await withServer([], async (server) => {
      const { lines, growthBytes } = await stallAgainst(server, 'bounded');
      await server.waitForLine(/session \S+ ended/);
      checkReadmePair(
        README,
        [
          ['server, slow reader', asDocumented(server.lines, server.url)],
          ['slow reader', asDocumented(lines, server.url)],
        ],
        varying,
      );
      assert.ok(growthBytes < BOUND_BYTES, `growth ${growthBytes} should stay under ${BOUND_BYTES}`);
      lineIndex(lines, /live view: waiting for room \(the client reads slowly\)/);
      const [, done, atCancel] = lines[lineIndex(lines, /server reports #1: cancelled after batch/)]!.match(
        /cancelled after batch (\d+)\/1500 \(cancel arrived after batch (\d+)\)/,
      )!;
      assert.equal(done, atCancel, 'not one batch was made or written after the cancel arrived');
      lineIndex(lines, /server reports #1: live view: abandoned a write waiting for room/);
      lineIndex(lines, /server reports #1: output file: deleted \(partial\)/);
      lineIndex(lines, /<- \d+ lines live, then error -32800 "Request cancelled"/);
      assert.deepEqual(
        readdirSync(OUTPUTS).filter((name) => name.endsWith('.partial')),
        [],
      );
      lineIndex(
        server.lines,
        /#1 handler stopped after batch \d+\/1500 \(.*\), abandoning a write that was waiting for room/,
      );
    });
  });
});

describe('lesson 08: a fast client', { timeout: scaled(60_000) }, () => {
  test('gets every line live, a capped result with a link, and the full output intact (README)', async () => {
    await withServer([], async (server) => {
      const client = startTs(CLIENT, ['--url', server.url]);
      assert.equal(await client.exited, 0, client.output());
      await server.waitForLine(/session \S+ ended/);
      checkReadmePair(
        README,
        [
          ['server', asDocumented(server.lines, server.url)],
          ['client', asDocumented(client.lines, server.url)],
        ],
        varying,
      );
      const out = client.lines;
      lineIndex(out, /<- live view: 20000 lines in \d+ notifications\/message/);
      lineIndex(out, /<- result: 25 of 20000 lines inline \(the result is capped at 2048 bytes\)/);
      lineIndex(out, /resources\/read backpressure:\/\/outputs\/export-\S+\.log: 20000 lines, sha256 matches/);
      const [, name] = server.output().match(/ in (export-\S+\.log);/)!;
      assert.equal(await sha256OfFile(join(OUTPUTS, name!)), expectedSha256(20_000));
    });
  });

  test('a cancel stops the job and leaves no partial output', async () => {
    await withServer([], async (server) => {
      const client = startTs(CLIENT, ['--url', server.url, '--lines', '2000000', '--cancel-after-lines', '3000']);
      assert.equal(await client.exited, 0, client.output());
      lineIndex(client.lines, /server reports #1: cancelled after batch \d+\/2000; output file deleted \(partial\)/);
      await server.waitForLine(/#1 file handle closed, partial output deleted/);
      assert.deepEqual(readdirSync(OUTPUTS), []);
    });
  });
});

describe('lesson 08: bad input gets a clear answer and the server keeps serving', { timeout: scaled(30_000) }, () => {
  test('tool arguments and resource names', async () => {
    await withServer([], async (server) => {
      const { client, close } = await connectRecordingClient(server.url);
      const toolError = async (args: Record<string, unknown>) => {
        const result = await client.callTool({ name: 'export_log', arguments: args });
        assert.equal(result.isError, true);
        return textOf(result);
      };
      assert.match(await toolError({ lines: 0 }), /Too small: expected number to be >=1 at lines/);
      assert.match(await toolError({ lines: 10, maxResultBytes: 10 }), /expected number to be >=256 at maxResultBytes/);
      assert.match(await toolError({ lines: 'many' }), /expected number, received string at lines/);
      const readError = (uri: string) =>
        assert.rejects(client.readResource({ uri }), (error: Error) => {
          return /./.test(error.message) && (readMessages.push(error.message), true);
        });
      const readMessages: string[] = [];
      await readError('backpressure://outputs/nope.log');
      await readError('backpressure://outputs/..%2F..%2Fserver.ts');
      await readError('backpressure://elsewhere/x');
      assert.match(readMessages[0]!, /no completed output named "nope.log"/);
      assert.match(readMessages[1]!, /is not an export_log output name/);
      assert.match(readMessages[2]!, /Resource backpressure:\/\/elsewhere\/x not found/);
      // Still serving.
      const ok = await client.callTool({ name: 'export_log', arguments: { lines: 3 } });
      assert.equal(ok.isError, undefined);
      assert.equal((ok.structuredContent as { truncated: boolean }).truncated, false);

      // With a progressToken (onprogress), progress goes out only right after a batch of lines, never on its own.
      const arrived: string[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, () => void arrived.push('lines'));
      const progress: number[] = [];
      await client.callTool({ name: 'export_log', arguments: { lines: 5000 } }, undefined, {
        onprogress: ({ progress: linesDone }) => void (arrived.push('progress'), progress.push(linesDone)),
      });
      assert.ok(progress.length > 0 && progress.at(-1) === 5000, JSON.stringify(progress));
      assert.deepEqual(
        arrived,
        progress.flatMap(() => ['lines', 'progress']),
      );
      await close();
    });
  });

  test('a bad flag is named', async () => {
    const server = startTs(SERVER, ['--when-full', 'maybe']);
    assert.equal(await server.exited, 2);
    assert.match(server.output(), /--when-full must be one of wait, skip; got "maybe"/);
  });
});
