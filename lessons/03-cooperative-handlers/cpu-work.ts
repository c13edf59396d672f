// The CPU-bound part of process_large_file, shared by the main thread and the worker thread.
import type { Hash } from 'node:crypto';

/**
 * Stands in for real CPU-bound work (parsing, compressing, running a model): hashes `chunk` over
 * and over for `ms` milliseconds. It never awaits, so while it runs nothing else in this thread
 * runs: no timer, no incoming HTTP request, no abort listener.
 */
export function crunch(hash: Hash, chunk: Buffer, ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) hash.update(chunk);
}

/** The file split into `chunks` nearly equal pieces (the last may be shorter). */
export function splitIntoChunks(data: Buffer, chunks: number): Buffer[] {
  const size = Math.ceil(data.length / chunks);
  return Array.from({ length: chunks }, (_, i) => data.subarray(i * size, (i + 1) * size));
}

/** What the worker thread posts to the main thread. */
export type WorkerMessage = { chunksDone: number } | { done: true; digest: string };

/** What the main thread hands the worker thread. */
export interface WorkerInput {
  file: string;
  chunks: number;
  chunkMs: number;
}
