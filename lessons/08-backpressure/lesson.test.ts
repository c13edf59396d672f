// Lesson 08, end to end: real server, client and slow-reader processes on ephemeral ports. The memory
// checks read the server's own process.memoryUsage() while a reader stalls; the naive server is the
// negative control that shows the check can fail.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startLessonServer, startTs } from '../shared/processes.ts';
import { checkReadmeOutput, checkReadmePair } from '../shared/readme-output.ts';
import {
  assertProvedInOrder,
  connectRecordingClient,
  jobWhere,
  onlyProof,
  textOf,
  type Proof,
  asShipped,
} from '../shared/testing.ts';
import { logLines } from './log-lines.ts';
import { scaled } from '../shared/wait.ts';

const SERVER = join(import.meta.dirname, 'server.ts');
const CLIENT = join(import.meta.dirname, 'client.ts');
const SLOW_READER = join(import.meta.dirname, 'slow-reader.ts');
const README = join(import.meta.dirname, 'README.md');
const OUTPUTS = join(import.meta.dirname, 'data', 'outputs');
/** The most the server's RSS may grow while 120 MB of output meets a stalled reader. */
const BOUND_BYTES = 120_000_000;
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

/**
 * Runs the slow reader and returns its output lines, the server RSS growth it measured (bytes), what
 * it saw of the server's job while it read nothing, and what came back once it read.
 */
async function stallAgainst(server: Server, expect: 'bounded' | 'unbounded') {
  const reader = startTs(SLOW_READER, ['--url', server.url, '--lines', String(LINES), '--expect', expect]);
  const code = await reader.exited;
  assert.equal(code, 0, reader.output());
  const stalled = onlyProof(reader, 'stalled');
  assert.equal(stalled.boundBytes, BOUND_BYTES);
  assert.deepEqual(
    [onlyProof(reader, 'outcome').observed, onlyProof(reader, 'outcome').expected],
    [stalled.growth < BOUND_BYTES ? 'bounded' : 'unbounded', expect],
  );
  return {
    reader,
    lines: reader.lines,
    growthBytes: stalled.growth,
    stalled,
    cameBack: onlyProof(reader, 'came-back'),
  };
}

/** The slow reader saw the job complete every batch while it read nothing. */
const completedWhileStalled = (stalled: Proof) =>
  assert.deepEqual([stalled.job.state, stalled.job.chunksDone, stalled.job.chunksTotal], ['completed', 1500, 1500]);

describe('lesson 08: a slow reader and the server memory', { timeout: scaled(90_000) }, () => {
  test('--naive: SDK 1.x never waits for the reader, so memory grows with the output (negative control; README)', async () => {
    await withServer(['--naive'], async (server) => {
      const { lines, growthBytes, stalled, cameBack } = await stallAgainst(server, 'unbounded');
      checkReadmeOutput(README, 'slow reader, --naive', asDocumented(lines, server.url), varying);
      // The whole job ran while the reader read nothing: every sendNotification resolved without it.
      completedWhileStalled(stalled);
      assert.ok(growthBytes > BOUND_BYTES, `naive growth ${growthBytes} should exceed ${BOUND_BYTES}`);
      // Nothing was lost, only held: once the reader reads, every line arrives.
      assert.equal(cameBack.liveLines, LINES);
      assert.equal(cameBack.final.result.structuredContent.status, 'completed');
    });
  });

  test('--when-full skip: the job writes all 120 MB at full speed, memory stays under the bound, the file has every line', async () => {
    await withServer(['--when-full', 'skip'], async (server) => {
      const { growthBytes, stalled } = await stallAgainst(server, 'bounded');
      assert.ok(growthBytes < BOUND_BYTES, `growth ${growthBytes} should stay under ${BOUND_BYTES}`);
      completedWhileStalled(stalled);
      const done = onlyProof(server, 'export-done');
      assert.equal(done.waitsForRoom, 0);
      assert.ok(done.liveLinesSkipped > 0, 'the live view left lines out for the stalled reader');
      assert.equal(done.liveLinesSent + done.liveLinesSkipped, LINES);
      // The full output is complete and intact on disk.
      // (The fast-client test checks a whole file's hash; generating 120 MB of lines here would double this test.)
      const file = await countLines(join(OUTPUTS, done.file));
      assert.deepEqual(file, { lines: LINES, last: logLines(LINES - 1, LINES)[0] });
    });
  });

  test('--when-full wait: the job waits for the reader; a cancel ends the blocked write and no line more is written (README)', async () => {
    await withServer([], async (server) => {
      const { lines, growthBytes, stalled, cameBack, reader } = await stallAgainst(server, 'bounded');
      await server.waitForLine(/session \S+ ended/); // the server's README block ends with it
      checkReadmePair(
        README,
        [
          ['server, slow reader', asDocumented(server.lines, server.url)],
          ['slow reader', asDocumented(lines, server.url)],
        ],
        varying,
      );
      assert.ok(growthBytes < BOUND_BYTES, `growth ${growthBytes} should stay under ${BOUND_BYTES}`);
      // The reader saw the job blocked, waiting for room; then, after its cancel, the job's record:
      assert.equal(stalled.job.state, 'running');
      assert.equal(stalled.job.resources['live view'], 'waiting for room (the client reads slowly)');
      const { job } = onlyProof(reader, 'server-report');
      assert.equal(job.state, 'cancelled');
      assert.equal(
        job.chunksDone,
        job.chunksDoneWhenCancelArrived,
        'not one batch was made or written after the cancel arrived',
      );
      assert.deepEqual(
        [job.resources['live view'], job.resources['output file']],
        ['abandoned a write waiting for room', 'deleted (partial)'],
      );
      assert.deepEqual([cameBack.final.error.code, cameBack.final.error.message], [-32800, 'Request cancelled']);
      assert.ok(cameBack.liveLines < LINES, `${cameBack.liveLines} lines live`);
      assert.deepEqual(
        readdirSync(OUTPUTS).filter((name) => name.endsWith('.partial')),
        [],
      );
      // The server's own records: blocked waiting for room when the cancel came, then stopped, abandoning that write.
      assertProvedInOrder(server.proof(), [
        ['the write waiting for room', jobWhere(1, (j) => j.resources?.['live view']?.startsWith('waiting for room'))],
        ['the cancel arriving', jobWhere(1, (j) => j.cancelReason === 'reader stalled')],
        [
          'the handler stopping, abandoning that write',
          jobWhere(
            1,
            (j) =>
              j.state === 'cancelled' &&
              j.stoppedAtMs !== undefined &&
              j.resources?.['live view'] === 'abandoned a write waiting for room',
          ),
        ],
      ]);
    });
  });
});

describe('lesson 08 exercise, in two terminals', { timeout: scaled(60_000) }, () => {
  const EXERCISE = join(import.meta.dirname, 'exercise-server.ts');
  const asGiven = asShipped(EXERCISE);

  test(
    'the slow reader against the unsolved exercise: the job completes while it reads nothing, memory grows past the bound, exit 1',
    { skip: !asGiven && 'the exercise file is being worked on' },
    async () => {
      const data = mkdtempSync(join(tmpdir(), 'lesson08-exercise-'));
      const server = await startLessonServer(EXERCISE, ['--data', data]);
      try {
        const reader = startTs(SLOW_READER, ['--url', server.url, '--lines', String(LINES)]);
        assert.equal(await reader.exited, 1, reader.output());
        const stalled = onlyProof(reader, 'stalled');
        completedWhileStalled(stalled);
        assert.ok(stalled.growth > BOUND_BYTES, `growth ${stalled.growth} should exceed ${BOUND_BYTES}`);
        assert.equal(stalled.job.resources?.['live view'], undefined, 'no live view: every batch sent at once');
        assert.equal(onlyProof(reader, 'came-back').liveLines, LINES);
        assert.match(reader.output(), /server job: completed, 1500\/1500 batches .*; live view: none$/m);
        assert.match(reader.output(), /memory grew past the bound; expected bounded$/m);
      } finally {
        await server.stop();
        rmSync(data, { recursive: true, force: true });
      }
    },
  );
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
      const { liveLines, liveMessages, result } = onlyProof(client, 'came-back');
      assert.equal(liveLines, 20_000);
      assert.ok(liveMessages > 0);
      const inline = result.structuredContent;
      assert.deepEqual([inline.linesInResult, inline.lines, inline.truncated], [25, 20_000, true]);
      const text = result.content.find((c: { type: string }) => c.type === 'text').text;
      const [shown] = text.split('\n[truncated: ');
      assert.equal(shown.split('\n').length - 1, 25);
      assert.ok(Buffer.byteLength(shown) <= 2048, 'the output the result carries is capped at 2048 bytes');
      const read = onlyProof(client, 'read');
      const done = onlyProof(server, 'export-done');
      assert.equal(read.uri, `backpressure://outputs/${done.file}`);
      assert.deepEqual([read.lines, read.sha256, read.intact], [20_000, done.sha256, true]);
      assert.equal(await sha256OfFile(join(OUTPUTS, done.file)), expectedSha256(20_000));
    });
  });

  test('a cancel stops the job and leaves no partial output', async () => {
    await withServer([], async (server) => {
      const client = startTs(CLIENT, ['--url', server.url, '--lines', '2000000', '--cancel-after-lines', '3000']);
      assert.equal(await client.exited, 0, client.output());
      const { requestId, job } = onlyProof(client, 'server-report');
      assert.deepEqual(
        [requestId, job.state, job.chunksTotal, job.resources['output file']],
        [1, 'cancelled', 2000, 'deleted (partial)'],
      );
      assert.ok(job.chunksDone < 2000);
      await server.waitForJob(
        1,
        (j) => j.fileHandle === 'closed' && j.resources?.['output file'] === 'deleted (partial)',
      );
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
