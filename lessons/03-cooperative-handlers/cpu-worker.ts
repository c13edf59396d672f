// The body of the cpu-worker strategy's thread: the same never-yielding loop as cpu-blocking, but
// off the main thread, so the server keeps reading requests and can terminate this thread.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { crunch, splitIntoChunks, type WorkerInput, type WorkerMessage } from './cpu-work.ts';

const { file, chunks, chunkMs } = workerData as WorkerInput;
const post = (message: WorkerMessage) => parentPort!.postMessage(message);

const hash = createHash('sha256');
const pieces = splitIntoChunks(readFileSync(file), chunks);
for (let i = 0; i < pieces.length; i++) {
  crunch(hash, pieces[i]!, chunkMs);
  // postMessage does not need this thread to yield: the main thread receives it while we keep going.
  post({ chunksDone: i + 1 });
}
post({ done: true, digest: hash.digest('hex') });
