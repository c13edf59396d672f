// Lesson 04 exercise: layers.ts with its point taken out of two layers. Here the fetch and the child
// process never hear the cancel: the upstream goes on sending and the child goes on running. Fix
// them where the EXERCISE comments are, then check it: `npm run learn -- 04` (the README's Exercise
// says more). The server runs this file with
// `npx tsx lessons/04-signal-into-io/server.ts --layers lessons/04-signal-into-io/exercise-layers.ts`.
//
// The four kinds of I/O a tool handler waits on, each written the same way: every I/O call is
// handed the signal, and the function does not return or throw until what it opened is released.
// Pass `signal: undefined` and the very same code is the wrong way: nothing can stop it early.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from '../shared/jobs.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import type { Database } from './database.ts';

export const SOURCES = ['http', 'child', 'file', 'db'] as const;
export type Source = (typeof SOURCES)[number];

export interface LayerRun {
  job: Job;
  chunks: number;
  chunkDelayMs: number;
  log: Timeline;
  /** Called for every chunk of data the layer receives. */
  onChunk(bytes: number): void;
}

/** Layer 1: stream a response from a slow HTTP upstream. An abort closes the connection. */
export async function fetchFromUpstream(run: LayerRun, url: string, signal?: AbortSignal): Promise<void> {
  // EXERCISE 1: this fetch never hears the cancel: the response is read to its last chunk, and the
  // connection to the upstream stays open until then. Let a cancel close it.
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`the upstream answered HTTP ${response.status}`);
  // An abort errors this loop (and the fetch closes its socket) even while it waits for bytes.
  let lineBytes = 0;
  for await (const chunk of response.body) {
    for (const byte of chunk) {
      lineBytes++;
      if (byte !== 0x0a) continue; // the upstream sends one line per chunk
      run.onChunk(lineBytes);
      lineBytes = 0;
    }
  }
}

const CHILD_SCRIPT = join(import.meta.dirname, 'slow-child.mjs');

/** Layer 2: run a child process and read its output. An abort kills it; we wait until it is reaped. */
export async function runChildProcess(run: LayerRun, signal?: AbortSignal): Promise<void> {
  const { job, log } = run;
  // EXERCISE 2: this child never hears the cancel: it runs to its last line, and every line is read.
  // Kill it on a cancel, and return or throw only once it has exited and been reaped.
  const child = spawn(process.execPath, [CHILD_SCRIPT, String(run.chunks), String(run.chunkDelayMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const name = `child process ${child.pid}`;
  job.resources[name] = 'running';
  log.detail(`#${job.requestId} started ${name}`);
  // 'close' comes after Node has reaped the process (no zombie) and its output has ended.
  const closed = new Promise<number | null>((resolve) =>
    child.once('close', (code, killedBy) => {
      job.resources[name] = killedBy ? `killed (${killedBy}), reaped` : `exited ${code}`;
      (killedBy ? log.highlight : log.detail)(`#${job.requestId} ${name} ${job.resources[name]}`);
      resolve(code);
    }),
  );
  let spawnError: Error | undefined;
  child.on('error', (error) => (spawnError = error));
  for await (const line of createInterface({ input: child.stdout })) run.onChunk(line.length + 1);
  if (spawnError) throw spawnError;
  const code = await closed;
  if (code !== 0) throw new Error(`${name} exited with code ${code}`);
}

/**
 * Layer 3: read a large file through a slow stage (each chunk takes `chunkDelayMs` to process, a
 * stand-in for uploading it). An abort destroys every stream of the pipeline: the file is closed.
 */
export async function readLargeFile(run: LayerRun, path: string, signal?: AbortSignal): Promise<void> {
  const { job, log } = run;
  const { size } = await stat(path);
  const file = createReadStream(path, { highWaterMark: Math.ceil(size / run.chunks) });
  job.fileHandle = 'open';
  file.once('close', () => {
    job.fileHandle = 'closed';
    prove({ type: 'file-closed', requestId: job.requestId, bytesRead: file.bytesRead, size });
    if (file.bytesRead < size) log.highlight(`#${job.requestId} file closed after ${file.bytesRead} of ${size} bytes`);
  });
  const slowly = async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) {
      run.onChunk(chunk.length);
      await sleep(run.chunkDelayMs, undefined, { signal });
    }
  };
  try {
    await pipeline(file, slowly, signal ? { signal } : {});
  } finally {
    if (!file.closed) await once(file, 'close');
  }
}

const SLOW_STATEMENT = `
  SELECT md5(string_agg(md5(n::text), '' ORDER BY n)) AS digest
  FROM pg_sleep($1), generate_series($2::int, $3::int) AS n`;

/**
 * Layer 4: one statement per chunk (each takes `chunkDelayMs`, thanks to pg_sleep, a stand-in for
 * a slow query), the signal checked before each. PostgreSQL also stops the running one on abort;
 * PGlite cannot, so with PGlite a cancel takes effect between statements.
 */
export async function queryDatabase(run: LayerRun, db: Database, signal?: AbortSignal): Promise<void> {
  const { job, log } = run;
  const session = await db.session();
  const name = db.kind === 'PostgreSQL' ? `postgres backend ${session.backendPid}` : 'PGlite statements';
  job.resources[name] = 'running';
  let ran = 0;
  let running = false;
  try {
    for (let i = 0; i < run.chunks; i++) {
      signal?.throwIfAborted();
      running = true;
      const [row] = await session.query<{ digest: string }>(
        SLOW_STATEMENT,
        [run.chunkDelayMs / 1000, i * 1000 + 1, (i + 1) * 1000],
        signal,
      );
      running = false;
      ran++;
      run.onChunk(row?.digest.length ?? 0);
    }
    job.resources[name] = `all ${ran} statements ran`;
  } catch (error) {
    if (!signal?.aborted) throw error;
    // database.ts turns a running statement's SQLSTATE 57014 into the signal's reason; any other error is shown as is.
    job.resources[name] = !running
      ? `stopped between statements: ${ran} of ${run.chunks} ran, none started after the cancel`
      : error === signal.reason
        ? `statement ${ran + 1} cancelled on the server (SQLSTATE 57014)`
        : `statement ${ran + 1} failed after the cancel: ${(error as Error).message}`;
    log.highlight(`#${job.requestId} ${name}: ${job.resources[name]}`);
    throw error;
  } finally {
    session.release();
  }
}
