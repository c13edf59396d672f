// The check of lesson 08's exercise (`npm run learn -- 08`): the slow reader's proofs (slow-reader.ts,
// lesson.test.ts) on the learner's server, said in plain words: it calls export_log, reads nothing,
// watches the server's memory and job, cancels, and only then reads what is left.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { latestJob, runCheck, within, type Exercise } from '../shared/exercise-kit.ts';
import { openRawSession, type RawSession } from '../shared/raw-mcp.ts';

const root = join(import.meta.dirname, '../..');
const LINES = 1_500_000; // about 120 MB of output, as in lesson.test.ts
const BATCHES = LINES / 1000;
const BOUND_BYTES = 120_000_000; // the most the server's RSS may grow while the reader stalls
/** How long the job must make no batch, while it runs, to count as waiting for the reader. */
const STILL_MS = 1000;
const CALL_ID = 1;
const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

/** POSTs tools/call export_log with node:http and pauses the response at once: nothing is read until resume(). */
function stalledCall(url: string, session: RawSession): Promise<IncomingMessage> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: CALL_ID,
    method: 'tools/call',
    params: { name: 'export_log', arguments: { lines: LINES } },
  });
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session.sessionId,
        'mcp-protocol-version': session.protocolVersion,
      },
    });
    req.on('response', (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads the rest of the stream: the lines that arrived live, and the final message for the call. */
async function readToEnd(res: IncomingMessage) {
  let liveLines = 0;
  let final: (JSONRPCMessage & { error?: { code: number; message: string } }) | undefined;
  const parser = createParser({
    onEvent: (event) => {
      const message = JSON.parse(event.data) as JSONRPCMessage & { params?: { data?: { lines?: string[] } } };
      if ('method' in message && message.method === 'notifications/message')
        liveLines += message.params?.data?.lines?.length ?? 0;
      if ('id' in message && message.id === CALL_ID) final = message;
    },
  });
  res.setEncoding('utf8');
  res.resume();
  for await (const chunk of res) parser.feed(chunk as string);
  return { liveLines, final };
}

export const exercise: Exercise = {
  lesson: '08',
  title: 'Wait for a slow reader instead of burying it, and let a cancel end the wait',
  file: 'lessons/08-backpressure/exercise-server.ts',
  solution: 'lessons/08-backpressure/server.ts',
  asks:
    'export_log sends every batch of lines the moment it is made, so against a reader that reads nothing the ' +
    "server holds all 120 MB itself. Send only when the call's response has room, wait for room otherwise, and " +
    'let a cancel end that wait at once.',
  hints: [
    "responseFor(id) is the Node response that carries the call's stream. While response.writableNeedDrain is true its buffer is full: what you send now only queues, in this process.",
    "Wait for the response's 'drain' before the next batch: drainOrAbort(response, extra.signal) from ./live-view.ts waits for it and rejects at once when the call is cancelled (a plain once(response, 'drain') never hears the cancel).",
    "live-view.ts's LiveView does all of it, with a bounded queue: new LiveView({ response: responseFor(id), signal: extra.signal, send: (n) => extra.sendNotification(n), maxQueuedBytes, whenFull, onState: (state) => (job.resources['live view'] = state) }); then `await view.offer(batch, first + batch.length)` per batch and `await view.finish()` after the loop.",
  ],
  check: (serverFile) =>
    runCheck(root, async (run) => {
      const data = mkdtempSync(join(tmpdir(), 'learn-08-'));
      run.afterwards(() => rmSync(data, { recursive: true, force: true })); // last: after the server has stopped
      const server = await run.startServer(serverFile, ['--data', data]);
      const session = await openRawSession(server.url);
      run.afterwards(() => session.close());
      let nextId = 100;
      const rss = async () => {
        const reading = await session.stream({
          jsonrpc: '2.0',
          id: nextId++,
          method: 'tools/call',
          params: { name: 'server_memory', arguments: {} },
        });
        await within(5000, reading.done);
        const reply = reading.messages.at(-1) as { result?: { structuredContent?: { rss?: number } } } | undefined;
        return reply?.result?.structuredContent?.rss;
      };
      const before = await rss();
      run.require('the server reports its memory', before !== undefined, 'server_memory gave no rss');

      // 1. The call, and then nothing read from its stream.
      const res = await stalledCall(server.url, session);
      run.afterwards(() => res.destroy());
      const started = await within(
        5000,
        server.waitForJob(CALL_ID, (job) => job.chunksDone >= 1),
      );
      run.require(
        'the export runs',
        started !== undefined,
        `no record of tools/call #${CALL_ID} making its first batch within 5 s`,
      );

      // 2. Watch the server's memory and job until the job ends, or makes no batch for STILL_MS while it runs.
      let peak = before!;
      let lastDone = -1;
      let stillSince = performance.now();
      const watching = performance.now();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        peak = Math.max(peak, (await rss()) ?? 0);
        const job = latestJob(server, CALL_ID)!;
        if (job.state !== 'running' || performance.now() - watching > 20_000) break;
        if (job.chunksDone !== lastDone) [lastDone, stillSince] = [job.chunksDone, performance.now()];
        else if (performance.now() - stillSince >= STILL_MS) break;
      }
      peak = Math.max(peak, (await rss()) ?? 0); // a job that just completed holds the most now
      const stalled = latestJob(server, CALL_ID)!;
      const growth = peak - before!;
      run.expect(
        "keeps the server's memory under 120 MB while the reader reads nothing",
        growth < BOUND_BYTES,
        `the server's memory (RSS) grew ${mb(growth)} while the reader read nothing, from ${mb(before!)} to ` +
          `${mb(peak)} (the bound is ${mb(BOUND_BYTES)}): everything the reader has not read is held in the server`,
      );
      run.expect(
        'waits for the reader instead of running ahead',
        stalled.state === 'running',
        stalled.state === 'completed'
          ? `while the reader read nothing the job made all ${stalled.chunksDone} of its ${BATCHES} batches and ` +
              'completed: every line was sent at once, and nothing waited for room'
          : stalled.state === 'running'
            ? ''
            : `the job ended as "${stalled.state}" while the reader read nothing`,
      );

      // 3. The cancel, while the job waits for this reader.
      if (stalled.state !== 'running') {
        const ended = stalled.state === 'completed' ? 'completed' : `ended (${stalled.state})`;
        run.require('a cancel ends the wait at once', false, `the job had ${ended} before the cancel: no wait to end`);
      }
      await session.post({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: CALL_ID, reason: 'reader stalled' },
      });
      const stopped = await within(
        1000,
        server.waitForJob(CALL_ID, (job) => job.state !== 'running'),
      );
      const atCancel = latestJob(server, CALL_ID)!;
      const arrived = atCancel.chunksDoneWhenCancelArrived;
      run.expect(
        'a cancel ends the wait at once',
        stopped?.state === 'cancelled' && stopped.chunksDone === arrived,
        !stopped
          ? `1 s after the cancel the job is still running, at batch ${atCancel.chunksDone} of ${BATCHES}: ` +
              (arrived === undefined
                ? 'the cancel never reached its record'
                : 'its wait for the reader does not hear the cancel')
          : stopped.state !== 'cancelled'
            ? `the job ended as "${stopped.state}", not as cancelled`
            : `it made ${stopped.chunksDone - arrived!} more batches after the cancel arrived`,
      );

      // 4. Now the reader reads: what is left of the stream must end with the answer to the cancel.
      const rest = await within(10_000, readToEnd(res));
      const error = rest?.final?.error;
      run.expect(
        'answers the cancel once the reader reads',
        error?.code === -32800,
        !rest
          ? 'the stream did not end within 10 s of the reader reading again'
          : rest.final
            ? `the stream ended with ${error ? `error ${error.code} "${error.message}"` : 'the result'}, after ${rest.liveLines} lines live`
            : `the stream ended with no answer to tools/call #${CALL_ID}, after ${rest.liveLines} lines live`,
      );
      const outputs = join(data, 'outputs');
      const partial = existsSync(outputs) ? readdirSync(outputs).filter((name) => name.endsWith('.partial')) : [];
      run.expect(
        'deletes its partial output',
        partial.length === 0,
        `left in the outputs folder: ${partial.join(', ')}`,
      );
    }),
};
