// Faults, on the real lesson servers: a client killed mid-call, a server stopped mid-call (SIGTERM),
// a session ended mid-call, and a storm of cancels that name nothing while a real call is served.
// Each is proven on the server's side: its log, its job records, /proc, the filesystem.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { jobStatusInSession } from '../../lessons/09-disconnects-and-shutdown/session-over-http.ts';
import { readProofRecords, startLessonServer, startTs } from '../../lessons/shared/processes.ts';
import { openRawSession } from '../../lessons/shared/raw-mcp.ts';
import { openDescriptorsTo } from '../../lessons/shared/testing.ts';
import { scaled, waitFor } from '../../lessons/shared/wait.ts';

readProofRecords(false); // its checks read the wire and the log, not the servers' proof records

const root = join(import.meta.dirname, '../..');
const lesson = (name: string, file = 'server.ts') => join(root, 'lessons', name, file);
const scratch = mkdtempSync(join(tmpdir(), 'reliability-faults-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

type Server = Awaited<ReturnType<typeof startLessonServer>>;

const toolCall = (id: number, name: string, args: Record<string, unknown>) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** Every process descended from `pid`, from /proc (children, grandchildren, ...). */
function descendantsOf(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may hold spaces: the parent pid is the 2nd field after it.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited while we looked
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parentOf) {
      if (ppid !== parent) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); // a zombie has exited
  } catch {
    return false;
  }
};

/** Every file under `folder`, as paths relative to it. */
/** Every file and folder under `folder`, as paths relative to it (an empty temp dir left behind counts). */
const entriesUnder = (folder: string): string[] =>
  readdirSync(folder, { recursive: true, withFileTypes: true })
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .sort();

describe('faults mid-call', { timeout: scaled(90_000) }, () => {
  test('client SIGKILL (lesson 01): the call runs to its end, as 2025-11-25 asks, frees its file, and the server serves on', async () => {
    const server = await startLessonServer(lesson('01-cancel-by-id'));
    try {
      const client = startTs(lesson('01-cancel-by-id', 'client.ts'), [
        ...['--url', server.url, '--no-cancel', '--chunks', '20', '--chunk-delay', '50'],
      ]);
      const [, sessionId] = await server.waitForLine(/session (\S+) started/);
      await server.waitForLine(/#1 chunk 2\/20/);
      client.child.kill('SIGKILL');
      await client.exited;

      // No cancel was sent and none is inferred: the handler reads on to the last chunk.
      // The job says `completed` a moment before its `finally` closes the file: wait for all three.
      const report = await waitFor('the call to finish and let go of its file and stream', async () => {
        const job = await jobStatusInSession(server.url, sessionId!, 1);
        return job.state !== 'running' && job.fileHandle !== 'open' && job.responseStream !== 'open' && job;
      });
      assert.equal(report.state, 'completed');
      assert.equal(report.cancelReceivedAtMs, undefined);
      assert.deepEqual([report.fileHandle, report.responseStream], ['closed', 'closed']);
      assert.equal(openDescriptorsTo(server.child.pid!, '/data/sample.txt'), 0);

      const next = await openRawSession(server.url);
      const list = await next.stream({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      await list.done;
      assert.match(JSON.stringify(list.messages), /process_large_file/);
    } finally {
      await server.stop();
    }
  });

  test('session DELETE (lesson 01): that call stops and frees its file; a call in another session completes', async () => {
    const server = await startLessonServer(lesson('01-cancel-by-id'));
    try {
      const [doomed, bystander] = [await openRawSession(server.url), await openRawSession(server.url)];
      const args = { path: 'sample.txt', chunks: 20, chunkDelayMs: 50 };
      const ended = await doomed.stream(toolCall(1, 'process_large_file', args));
      const going = await bystander.stream(toolCall(1, 'process_large_file', args));
      await waitFor('both calls to read', () => server.lines.filter((l) => /#1 chunk 1\/20/.test(l)).length === 2);

      assert.equal((await doomed.close()).status, 200);
      await server.waitForLine(/#1 handler stopped after chunk \d+\/20 \(the session ended\)/);
      await ended.done; // the transport closed the call's stream with the session
      await going.done;
      const result = going.messages.at(-1) as { result?: { structuredContent?: { status: string; sha256: string } } };
      const sample = readFileSync(lesson('01-cancel-by-id', 'data/sample.txt'));
      assert.deepEqual(result.result?.structuredContent?.status, 'completed');
      assert.equal(result.result?.structuredContent?.sha256, createHash('sha256').update(sample).digest('hex'));
      assert.equal(openDescriptorsTo(server.child.pid!, '/data/sample.txt'), 0);
      assert.equal(
        (await fetch(server.url, { method: 'DELETE', headers: { 'mcp-session-id': doomed.sessionId } })).status,
        404,
      );
    } finally {
      await server.stop();
    }
  });

  test("1,000 cancels naming nothing while a real call runs (lesson 06): the call completes within the server's own deadline, and every cancel is ignored", async () => {
    // "On time" is the server's to judge: with --deadline-ms it stops any call that runs longer.
    const server = await startLessonServer(lesson('06-timeouts'), ['--deadline-ms', '10000']);
    try {
      const [caller, stormer] = [await openRawSession(server.url), await openRawSession(server.url)];
      const call = await caller.stream(
        toolCall(1, 'process_large_file', { path: 'sample.txt', chunks: 40, chunkDelayMs: 50 }),
      );
      await server.waitForLine(/#1 chunk 1\/40/);
      const lanes = Array.from({ length: 4 }, async (_, lane) => {
        const statuses: number[] = [];
        for (let i = lane; i < 1000; i += 4) {
          // Half on the caller's session (ids it never used), half on another session.
          const session = i % 2 ? caller : stormer;
          const response = await session.post({
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: 10_000 + i, reason: 'storm' },
          });
          statuses.push(response.status);
        }
        return statuses;
      });
      const statuses = (await Promise.all(lanes)).flat();
      assert.deepEqual(new Set(statuses), new Set([202]));
      assert.equal(statuses.length, 1000);

      await call.done;
      const last = call.messages.at(-1) as { result?: { isError?: boolean; structuredContent?: { status?: string } } };
      assert.ok(!last.result?.isError, JSON.stringify(last));
      assert.equal(last.result?.structuredContent?.status, 'completed');
      const ignored = () =>
        server.lines.filter((l) => /notifications\/cancelled for 1\d{4} matches no request/.test(l));
      await waitFor('the server to log all 1,000 cancels', () => ignored().length === 1000).catch(() =>
        assert.fail(`${ignored().length} of 1,000 cancels logged as matching nothing`),
      );
      assert.ok(!server.lines.some((l) => /#1 .*(deadline|stopped)/.test(l)), server.output());
    } finally {
      await server.stop();
    }
  });
});

/** For each lesson server: a call that runs long enough to be in flight when SIGTERM arrives. */
const inFlight: {
  lesson: string;
  args?: string[];
  tool: string;
  call: Record<string, unknown>;
  /** For a task-augmented call (lesson 11): its `task` params. */
  task?: { ttl: number };
  started: RegExp;
}[] = [
  {
    lesson: '01-cancel-by-id',
    tool: 'process_large_file',
    call: { path: 'sample.txt', chunks: 100, chunkDelayMs: 100 },
    started: /#1 chunk 1\//,
  },
  {
    lesson: '02-abort-signal',
    tool: 'process_large_file',
    call: { path: 'sample.txt', chunks: 100, chunkDelayMs: 100 },
    started: /#1 chunk 1\//,
  },
  {
    lesson: '03-cooperative-handlers',
    tool: 'process_large_file',
    call: { strategy: 'abortable', chunks: 100, chunkMs: 100 },
    started: /tools\/call #1: process_large_file, strategy abortable/,
  },
  {
    lesson: '04-signal-into-io',
    tool: 'process_large_file',
    call: { source: 'child', chunks: 100, chunkDelayMs: 100 },
    started: /#1 child chunk 1\//,
  },
  {
    lesson: '05-cleanup-rollback',
    args: ['--data', join(scratch, 'lesson05')],
    tool: 'process_large_file',
    call: { idempotencyKey: 'sigterm', stepDelayMs: 200 },
    started: /temp dir created/,
  },
  {
    lesson: '06-timeouts',
    tool: 'process_large_file',
    call: { path: 'sample.txt', chunks: 100, chunkDelayMs: 100 },
    started: /#1 chunk 1\//,
  },
  {
    lesson: '07-progress',
    tool: 'process_large_file',
    call: { path: 'sample.txt', chunks: 100, chunkDelayMs: 100 },
    started: /#1 chunk 1\//,
  },
  {
    lesson: '08-backpressure',
    args: ['--data', join(scratch, 'lesson08')],
    tool: 'export_log',
    call: { lines: 5_000_000 },
    started: /tools\/call #1: export_log/,
  },
  {
    lesson: '09-disconnects-and-shutdown',
    args: ['--data', join(scratch, 'lesson09')],
    tool: 'process_large_file',
    call: { path: 'sample.txt', chunks: 100, chunkDelayMs: 100 },
    started: /#1 chunk 1\//,
  },
  {
    lesson: '10-races-and-ids',
    tool: 'process_large_file',
    call: { path: 'sample.txt', chunks: 100, chunkDelayMs: 100 },
    started: /#1 chunk 1\//,
  },
  {
    lesson: '11-tasks',
    tool: 'process_large_file',
    call: { path: 'sample.txt', chunks: 100, chunkDelayMs: 100 },
    task: { ttl: 60_000 },
    started: /task \S+ chunk 1\//,
  },
];

describe(
  'server SIGTERM mid-call: the call is stopped and cleaned up, and the process exits 0',
  { timeout: scaled(120_000) },
  () => {
    for (const { lesson: name, args = [], tool, call, task, started } of inFlight) {
      test(`lesson ${name.slice(0, 2)}: no child process and no new file left behind`, async (t) => {
        const server: Server = await startLessonServer(lesson(name), args);
        const data = args[0] === '--data' ? args[1]! : lesson(name, 'data');
        const filesBefore = entriesUnder(data);
        const session = await openRawSession(server.url);
        const message = toolCall(1, tool, call);
        const reading = await session.stream(task ? { ...message, params: { ...message.params, task } } : message);
        await server.waitForLine(started);
        const children = descendantsOf(server.child.pid!);

        const sentAt = performance.now();
        server.child.kill('SIGTERM');
        const code = await server.exited;
        t.diagnostic(`exited ${code} ${(performance.now() - sentAt).toFixed(0)} ms after SIGTERM`);
        await reading.done; // its stream ended with the process

        assert.equal(code, 0, server.output());
        // The server says it stopped the call and waited for its clean-up (lesson 09's shutdown, in every lesson).
        assert.match(server.output(), /SIGTERM: stopping 1 running call\(s\), waiting for their clean-up/);
        assert.match(server.output(), /1 call\(s\) cleaned up, sessions closed.*: exiting \(code 0\)/);
        // The handler says why it stopped: the shutdown's reason, not "the session ended".
        assert.match(server.output(), /server shutting down/);
        assert.doesNotMatch(server.output(), /the session ended/);
        assert.ok(!server.lines.some((line) => /still running after|HTTP error/.test(line)), server.output());
        // The shared wiring stops a handler with the SDK's own controller, so the SDK sends nothing for
        // it. Lesson 08's handler answers any stop with -32800 itself; lesson 09's shutdown uses its own
        // controller, and its caller hears why; lesson 11's tools/call was answered (with the task) at once.
        const replies = reading.messages.filter((message) => 'id' in message && message.id === 1);
        assert.equal(replies.length, /^(08|09|11)/.test(name) ? 1 : 0, JSON.stringify(reading.messages).slice(-300));
        assert.deepEqual(children.filter(isRunning), [], 'every child process is gone');
        // The database's own files (lesson 05's PGlite) are the database's business; the rest must match.
        const ours = (entries: string[]) =>
          entries.filter((entry) => entry !== 'pglite' && !entry.startsWith('pglite/'));
        assert.deepEqual(ours(entriesUnder(data)), ours(filesBefore), 'no file added or removed in the data folder');
      });
    }

    test('lesson 11 --unwired, where nothing can stop a task: the shutdown waits its 800 ms, says so, and exits 1', async () => {
      const server = await startLessonServer(lesson('11-tasks'), ['--unwired']);
      const session = await openRawSession(server.url);
      const call = toolCall(1, 'process_large_file', { path: 'sample.txt', chunks: 100, chunkDelayMs: 100 });
      await session.stream({ ...call, params: { ...call.params, task: { ttl: 60_000 } } });
      await server.waitForLine(/task \S+ chunk 1\//);
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 1, server.output());
      assert.match(server.output(), /SIGTERM: stopping 1 running call\(s\), waiting for their clean-up/);
      assert.match(server.output(), /1 call\(s\) still running after 800 ms; sessions closed: exiting \(code 1\)/);
    });
  },
);

// A server killed while its lesson's client runs (what a reader does with Ctrl-C in the other
// terminal): the client says so in a line and exits 1, never with a stack trace. These clients
// find out on their next request, which comes on a timer; those of 03, 06, 07 and 10 may be
// waiting on a pending call, which SDK 1.x fails only at its 60 s timeout (lesson 02 shows how to
// notice sooner), so they are not run here.
describe(
  'server SIGKILL while its client runs: the client says so in a line, and exits 1',
  { timeout: scaled(90_000) },
  () => {
    const clients: [string, string[]][] = [
      ['01-cancel-by-id', []],
      ['04-signal-into-io', []],
      ['09-disconnects-and-shutdown', ['--data', join(scratch, 'lesson09-lost')]],
      ['11-tasks', []],
      ['12-two-eras', []],
    ];
    for (const [name, serverArgs] of clients) {
      test(`lesson ${name.slice(0, 2)}`, async () => {
        const server = await startLessonServer(lesson(name), serverArgs);
        try {
          const client = startTs(lesson(name, 'client.ts'), ['--url', server.url]);
          await client.waitForLine(/-> tools\/call/);
          server.child.kill('SIGKILL');
          assert.equal(await client.exited, 1, client.output());
          assert.match(client.output(), /lost the server at http:\/\/127\.0\.0\.1:\d+\/mcp: fetch failed/);
          assert.match(
            client.output(),
            new RegExp(`did it stop\\? Start it again: npx tsx lessons/${name}/server\\.ts`),
          );
          assert.ok(!client.lines.some((line) => /^\s+at /.test(line)), `a stack trace:\n${client.output()}`);
        } finally {
          await server.stop();
        }
      });
    }
  },
);
