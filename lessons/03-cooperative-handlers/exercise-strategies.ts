// Lesson 03 exercise: strategies.ts with its point taken out. Here cpu-sliced never gives the thread
// back, and cpu-worker waits for its worker without the signal and never stops it: a cancel stops
// neither. Fix them where the EXERCISE comments are, then check it: `npm run learn -- 03` (the
// README's Exercise says more). The server runs this file with
// `npx tsx lessons/03-cooperative-handlers/server.ts --strategies lessons/03-cooperative-handlers/exercise-strategies.ts`.
//
// Six ways to write the same job, process_large_file, and how each one reacts to a cancel.
//
// Each strategy gets the request's AbortSignal (`extra.signal`, aborted by the SDK when
// `notifications/cancelled` names this request) and returns the job's digest, or throws once it
// has stopped. Every one releases what it holds in `finally`, so "stopped" means "cleaned up".
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Job } from '../shared/jobs.ts';
import { prove } from '../shared/proof.ts';
import { crunch, splitIntoChunks, type WorkerInput, type WorkerMessage } from './cpu-work.ts';

export const STRATEGIES = ['poll-1s', 'poll-100ms', 'abortable', 'cpu-blocking', 'cpu-sliced', 'cpu-worker'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const STRATEGY_DESCRIPTIONS: Record<Strategy, string> = {
  'poll-1s': 'I/O chunks; looks at signal.aborted once a second (the tutorial pattern)',
  'poll-100ms': 'I/O chunks; looks at signal.aborted every 100 ms',
  abortable: 'I/O chunks; waits with setTimeout({ signal }) and calls signal.throwIfAborted() after each read',
  'cpu-blocking': 'CPU chunks in a loop that never yields (its signal.throwIfAborted() never throws)',
  'cpu-sliced': 'CPU chunks; yields to the event loop (setImmediate) after each, then signal.throwIfAborted()',
  'cpu-worker': 'CPU chunks in a worker thread; once(worker, "exit", { signal }), terminate() on a cancel',
};

export interface Work {
  /** Absolute path of a file inside the data folder. */
  file: string;
  chunks: number;
  /** How long each chunk's work takes: a wait for the I/O strategies, busy CPU for the cpu-* ones. */
  chunkMs: number;
  job: Job;
  signal: AbortSignal;
  /** Writes a line about this job to the server's timeline. */
  note: (message: string) => void;
}

export const run: Record<Strategy, (work: Work) => Promise<string>> = {
  'poll-1s': (work) => pollEvery(1000, work),
  'poll-100ms': (work) => pollEvery(100, work),
  abortable,
  'cpu-blocking': cpuBlocking,
  'cpu-sliced': cpuSliced,
  'cpu-worker': cpuWorker,
};

/** Opens the file for the I/O strategies, records the handle on the job, and reads chunk `i` of it. */
async function openInChunks(work: Work) {
  const { size } = await stat(work.file);
  const handle = await open(work.file, 'r');
  work.job.fileHandle = 'open';
  const chunkSize = Math.ceil(size / work.chunks);
  const buffer = Buffer.alloc(chunkSize);
  return {
    handle,
    read: async (i: number) => buffer.subarray(0, (await handle.read(buffer, 0, chunkSize, i * chunkSize)).bytesRead),
  };
}

async function closeFile(handle: FileHandle, work: Work) {
  await handle.close();
  work.job.fileHandle = 'closed';
  if (work.signal.aborted) work.note('file handle closed');
}

/**
 * The pattern most tutorials show: do a piece of work the signal cannot interrupt, and now and then
 * look at `signal.aborted`. A cancel waits for the next look: up to `pollMs`, plus the chunk in hand.
 */
async function pollEvery(pollMs: number, work: Work): Promise<string> {
  const { job, signal } = work;
  const { handle, read } = await openInChunks(work);
  const hash = createHash('sha256');
  let lastLook = performance.now();
  try {
    for (let i = 0; i < work.chunks; i++) {
      hash.update(await read(i));
      await sleep(work.chunkMs); // no signal: this wait runs its full length, cancelled or not
      job.chunksDone++;
      if (performance.now() - lastLook >= pollMs) {
        lastLook = performance.now();
        if (signal.aborted) {
          const extra = job.chunksDone - (job.cancel?.chunksDoneThen ?? job.chunksDone);
          const chunksAfter = `${extra} ${extra === 1 ? 'chunk' : 'chunks'} after the cancel arrived`;
          prove({ type: 'poll-saw-abort', requestId: job.requestId, pollMs, afterChunk: job.chunksDone, extra });
          work.note(`the ${pollMs} ms poll saw signal.aborted after chunk ${job.chunksDone} (${chunksAfter})`);
          signal.throwIfAborted();
        }
      }
    }
    return hash.digest('hex');
  } finally {
    await closeFile(handle, work);
  }
}

/**
 * Waits on the signal itself. `setTimeout` from node:timers/promises takes `{ signal }` and rejects
 * the moment it aborts; a file read takes no signal, so `throwIfAborted()` looks right after it.
 */
async function abortable(work: Work): Promise<string> {
  const { job, signal } = work;
  const { handle, read } = await openInChunks(work);
  const hash = createHash('sha256');
  try {
    for (let i = 0; i < work.chunks; i++) {
      const bytes = await read(i);
      signal.throwIfAborted();
      hash.update(bytes);
      await sleep(work.chunkMs, undefined, { signal });
      job.chunksDone++;
    }
    return hash.digest('hex');
  } catch (error) {
    if (signal.aborted) {
      prove({ type: 'wait-ended', requestId: job.requestId, duringChunk: job.chunksDone + 1 });
      work.note(`the wait ended at once, during chunk ${job.chunksDone + 1}`);
    }
    throw error;
  } finally {
    await closeFile(handle, work);
  }
}

/**
 * A loop that never yields. It even looks at the signal after every chunk, and that never helps:
 * the cancel is an HTTP request this thread cannot read until the loop gives the thread back.
 */
async function cpuBlocking(work: Work): Promise<string> {
  const { job, signal } = work;
  const pieces = splitIntoChunks(await readFile(work.file), work.chunks);
  const hash = createHash('sha256');
  prove({ type: 'loop-started', requestId: job.requestId, chunks: work.chunks });
  work.note(`starting a loop that never yields: ${work.chunks} chunks × ${work.chunkMs} ms of CPU`);
  for (const piece of pieces) {
    crunch(hash, piece, work.chunkMs);
    job.chunksDone++;
    signal.throwIfAborted(); // never throws here: nothing can abort the signal mid-loop
  }
  prove({ type: 'loop-done', requestId: job.requestId, checks: job.chunksDone, aborted: signal.aborted });
  work.note(`loop done: signal.aborted was false at all ${job.chunksDone} checks`);
  return hash.digest('hex');
}

/** The same CPU work, in slices: after each, give the event loop a turn, then look at the signal. */
async function cpuSliced(work: Work): Promise<string> {
  const { job, signal } = work;
  const pieces = splitIntoChunks(await readFile(work.file), work.chunks);
  const hash = createHash('sha256');
  for (const piece of pieces) {
    crunch(hash, piece, work.chunkMs);
    job.chunksDone++;
    // EXERCISE 1: this look never sees a cancel. The loop never gives the thread back, so the cancel's
    // HTTP request waits unread until the loop ends. Let the event loop read it between slices.
    signal.throwIfAborted();
  }
  return hash.digest('hex');
}

/**
 * Node 22 and later start libuv's thread pool (4 threads, kept for good) on its first use, which
 * may fall inside a worker's run: use it once now, so that a count before a worker and after it
 * counts the worker's own thread alone.
 */
const threadPoolStarted = stat(import.meta.filename);

/** Threads of this process right now, from /proc (Linux); undefined elsewhere. */
export function threadCount(): number | undefined {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    return undefined;
  }
}

// Node 20's tsx cannot load a .ts file as a worker by itself: cpu-worker-entry.mjs explains.
const WORKER_ENTRY = new URL('./cpu-worker-entry.mjs', import.meta.url);

/**
 * The same never-yielding loop, in a worker thread. The main thread stays free to read the cancel,
 * waits for the worker with `once(worker, 'exit', { signal })`, and on a cancel terminates it:
 * `terminate()` stops JavaScript mid-loop and resolves once the thread has exited.
 */
async function cpuWorker(work: Work): Promise<string> {
  const { job, signal } = work;
  await threadPoolStarted;
  const threadsBefore = threadCount();
  const input: WorkerInput = { file: work.file, chunks: work.chunks, chunkMs: work.chunkMs };
  const worker = new Worker(WORKER_ENTRY, { workerData: input });
  job.resources.worker = 'running';
  let exitCode: number | undefined;
  worker.once('exit', (code) => {
    exitCode = code;
    job.resources.worker = `exited (code ${code})`;
  });
  let digest: string | undefined;
  worker.on('message', (message: WorkerMessage) => {
    if ('done' in message) digest = message.digest;
    else job.chunksDone = message.chunksDone;
  });
  // EXERCISE 2: this wait does not hear a cancel, and nothing stops the worker: it does every chunk
  // after a cancel, in a thread that outlives the call. Let a cancel end the wait, and terminate the
  // worker (and wait for its 'exit') on every way out; say so in job.resources.worker.
  await once(worker, 'exit');
  if (digest === undefined) throw new Error(`the worker exited with code ${exitCode} before it finished`);
  return digest;
}
