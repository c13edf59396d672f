// The check of lesson 12's exercise (`npm run learn -- 12`): the proofs lesson.test.ts makes of a
// 2026-07-28 cancel, on the learner's server, said in plain words. The check speaks plain HTTP, as
// a 2026-07-28 client does, and cancels the way that era does: it closes the call's response stream.
import { join } from 'node:path';
import { canSeeFileDescriptors, openDescriptorsTo } from '../shared/testing.ts';
import { moreChunks, latestJob, runCheck, within, type Exercise } from '../shared/exercise-kit.ts';

const root = join(import.meta.dirname, '../..');
const CHUNKS = 30;
const CHUNK_DELAY_MS = 100;

/** A 2026-07-28 request: no session; its version and client info ride in `_meta` (what SDK 2.x sends). */
function post2026(url: string, id: number, args: Record<string, unknown>, signal?: AbortSignal) {
  const _meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'exercise-check', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  return fetch(url, {
    method: 'POST',
    signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'process_large_file',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'process_large_file', arguments: args, _meta },
    }),
  });
}

export const exercise: Exercise = {
  lesson: '12',
  title: 'In 2026-07-28, stop when the client closes the stream',
  file: 'lessons/12-two-eras/exercise-server.ts',
  solution: 'lessons/12-two-eras/server.ts',
  asks:
    'process_large_file stops only for a notifications/cancelled, which no 2026-07-28 client sends: when the ' +
    "client closes the call's response stream, it reads on. Make it stop within one chunk of the close and free its file.",
  hints: [
    "In 2026-07-28 the cancel is the client closing the call's response stream. The SDK turns that close into the abort of one signal: ctx.mcpReq.signal, the handler's own.",
    'The handler already waits with sleep(chunkDelayMs, undefined, { signal }) and closes its file in `finally`: hand it ctx.mcpReq.signal instead of the controller that only a notifications/cancelled aborts.',
    'Nothing to reply: the stream is gone, and the spec says the server MUST NOT send anything more for the request. The by-id map and its notifications/cancelled route can go.',
  ],
  check: (serverFile) =>
    runCheck(root, async (run) => {
      const server = await run.startServer(serverFile);
      const connection = new AbortController(); // aborting the fetch closes the call's response stream
      const call = { path: 'sample.txt', chunks: CHUNKS, chunkDelayMs: CHUNK_DELAY_MS };
      const reading = post2026(server.url, 1, call, connection.signal).catch(() => undefined);
      run.afterwards(() => connection.abort());
      const started = await within(
        3000,
        server.waitForJob(1, (job) => job.chunksDone >= 2),
      );
      run.require(
        'the call runs',
        started !== undefined,
        'no record of tools/call #1 reaching chunk 2 within 3 s: keep startJob and job.chunksDone++ in the handler, the check reads them',
      );

      connection.abort(); // no notifications/cancelled: in 2026-07-28 the close is the cancel
      const closedAt = performance.now();
      await reading;
      const closed = await within(
        2000,
        server.waitForJob(1, (job) => job.chunksDoneWhenCancelArrived !== undefined),
      );
      run.require(
        'the server sees the stream close',
        closed !== undefined,
        'the record of #1 never noted its response stream closing (startJob notes it: keep it in the handler)',
      );
      const atClose = closed!.chunksDoneWhenCancelArrived!;

      // Two chunk delays and a margin: a handler that stops within one chunk has stopped by then.
      const ended = await within(
        CHUNK_DELAY_MS * 2 + 800,
        server.waitForJob(1, (job) => job.state !== 'running'),
      );
      const now = latestJob(server, 1)!;
      const after = now.chunksDone - atClose;
      run.expect(
        'stops within one chunk of the stream closing',
        ended?.state === 'cancelled' && after <= 1,
        !ended
          ? `1 s after the client closed the response stream the handler is still running: it read ${moreChunks(after)} after the close`
          : ended.state === 'completed'
            ? `the handler read all ${CHUNKS} chunks, ${after} of them after the client closed the stream`
            : ended.state === 'cancelled'
              ? `the handler read ${moreChunks(after)} after the client closed the stream before it stopped`
              : `the handler ended as "${ended.state}", not as stopped by the close (a rejection while signal.aborted is a stop)`,
      );

      const fileClosed = await within(
        500,
        server.waitForJob(1, (job) => job.fileHandle === 'closed'),
      );
      // Counted by the kernel, not by the job record: /proc/<pid>/fd lists what the process holds.
      const sinceClose = `${((performance.now() - closedAt) / 1000).toFixed(1)} s`;
      const descriptors = canSeeFileDescriptors
        ? openDescriptorsTo(server.child.pid!, '12-two-eras/data/sample.txt')
        : 0;
      run.expect(
        'closes its file',
        descriptors === 0 && fileClosed !== undefined,
        descriptors > 0
          ? `a descriptor for data/sample.txt is still open ${sinceClose} after the close (${descriptors} in /proc/${server.child.pid}/fd)`
          : `the job record says the file handle is "${latestJob(server, 1)!.fileHandle}" (set job.fileHandle = 'closed' once it is closed)`,
      );

      const next = await within(
        3000,
        post2026(server.url, 2, { path: 'sample.txt', chunks: 2, chunkDelayMs: 0 }).then((response) => response.json()),
      );
      const result = (next as { result?: { isError?: boolean; content?: { text?: string }[] } } | undefined)?.result;
      run.expect(
        'keeps serving: the next call completes',
        result !== undefined && !result.isError && /^Processed sample\.txt/.test(result.content?.[0]?.text ?? ''),
        `a short call after the close got ${next ? JSON.stringify(next).slice(0, 200) : 'no answer within 3 s'}`,
      );
    }),
};
