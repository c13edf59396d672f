// The check of lesson 13's exercise (`npm run learn -- 13`): the learner's server spawned over stdio
// by SDK 1.x's own client, a call started, and then the host going away the way the SDK's
// `close()` does it: stdin ended, SIGTERM 2 s later, SIGKILL 2 s after that (client/stdio.js). The
// server's proof records (written to a file of the check's own) say what its handler did meanwhile.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { moreChunks, runCheck, within, type Exercise } from '../shared/exercise-kit.ts';
import type { JobRecord, ProofRecord } from '../shared/proof.ts';
import { waitFor } from '../shared/wait.ts';
import { serverCommand } from './stdio-side.ts';

const root = join(import.meta.dirname, '../..');
const CHUNKS = 30;
const CHUNK_DELAY_MS = 100;

export const exercise: Exercise = {
  lesson: '13',
  title: 'When the host closes stdin, stop before it kills you',
  file: 'lessons/13-stdio/exercise-server.ts',
  solution: 'lessons/13-stdio/server.ts',
  asks:
    "SDK 1.x does not watch stdin's end, so when the host goes away the call reads on, and the host's close() " +
    'sends SIGTERM 2 s later, before its `finally` has run. Make a closed stdin stop the running calls, close ' +
    'their files, and let the process exit by itself.',
  hints: [
    "The 'end' listener on process.stdin is where the host's going away is heard. It only logs; it has to stop the calls.",
    "Closing the McpServer (server.close()) aborts every running handler's extra.signal (SDK 1.x, shared/protocol.js `_onclose`). The handler already stops for that signal and closes its file in `finally`.",
    'Once the handler has finished, nothing holds the process open: it exits with code 0 before the host sends SIGTERM.',
  ],
  check: (serverFile) =>
    runCheck(root, async (run) => {
      const folder = mkdtempSync(join(tmpdir(), 'exercise-13-'));
      run.afterwards(() => rmSync(folder, { recursive: true, force: true }));
      const proofFile = join(folder, 'proof.jsonl');
      const proof = (): ProofRecord[] => {
        try {
          return readFileSync(proofFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as ProofRecord);
        } catch {
          return []; // nothing written yet
        }
      };
      const lastJob = () =>
        proof()
          .filter((r): r is JobRecord => r.type === 'job')
          .at(-1);

      const command = serverCommand(serverFile, []);
      const transport = new StdioClientTransport({ ...command, env: { ...command.env, LESSON_PROOF_FILE: proofFile } });
      (transport.stderr as Readable | null)?.resume(); // the server's timeline: read and dropped
      const client = new Client({ name: 'exercise-check', version: '1.0.0' });
      const connected = await within(
        20_000,
        client.connect(transport).then(() => true),
      );
      run.afterwards(() => client.close());
      run.require(
        'the server starts over stdio',
        connected === true,
        `the SDK client could not connect to ${serverFile} over stdio within 20 s`,
      );

      const args = { path: 'sample.txt', chunks: CHUNKS, chunkDelayMs: CHUNK_DELAY_MS };
      void client
        .callTool({ name: 'process_large_file', arguments: args }, undefined, { timeout: 120_000 })
        .catch(() => undefined); // the host goes away: the call rejects, "Connection closed"
      const started = await within(
        3000,
        waitFor('chunk 2', () => ((lastJob()?.chunksDone ?? 0) >= 2 ? true : undefined), { timeoutMs: 3000 }),
      );
      run.require(
        'the call runs',
        started === true,
        'no record of the call reaching chunk 2 within 3 s: keep trackJob and job.chunkDone() in the handler, the check reads them',
      );

      // The host goes away as the SDK's close() does it; close() returns once the process has gone.
      const atClose = lastJob()!.chunksDone;
      const closing = performance.now();
      await client.close();
      const tookS = ((performance.now() - closing) / 1000).toFixed(1);
      const job = lastJob()!;
      const exit = proof().find((r) => r.type === 'server-exit') as { code?: number } | undefined;
      const after = job.chunksDone - atClose;

      run.expect(
        'stops within one chunk of stdin closing',
        job.state === 'cancelled' && after <= 1,
        job.state === 'running'
          ? `after stdin closed the handler read ${moreChunks(after)}, and was still running when the host killed the process (${tookS} s later)`
          : job.state === 'completed'
            ? `the handler read all ${CHUNKS} chunks, ${after} of them after stdin closed`
            : job.state === 'cancelled'
              ? `the handler read ${moreChunks(after)} after stdin closed before it stopped`
              : `the handler ended as "${job.state}", not as stopped (a rejection while extra.signal is aborted is a stop)`,
      );
      run.expect(
        'closes its file',
        job.fileHandle === 'closed',
        `the process ended with the file handle "${job.fileHandle}": its \`finally\` never ran`,
      );
      run.expect(
        'exits by itself before the host sends SIGTERM',
        exit !== undefined && exit.code === 0,
        exit
          ? `it exited with code ${String(exit.code)}`
          : `the host's close() had to signal it: it was still running ${tookS} s after stdin closed (SIGTERM comes at 2 s)`,
      );
    }),
};
