// The job records of a stateless replica, for its proof and its `get_job_status`: lesson 01's job
// book, one per caller instead of one per session (request ids are unique only per caller), and
// the response stream of every request, open or closed.
import type { ServerResponse } from 'node:http';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { JobBook, type Job } from '../shared/jobs.ts';
import type { ResponseStreamRecord } from '../shared/mcp-http.ts';

const books = new Map<string, { jobs: JobBook; streams: Map<RequestId, ResponseStreamRecord> }>();

function bookOf(caller: string) {
  let book = books.get(caller);
  if (!book) {
    const streams = new Map<RequestId, ResponseStreamRecord>();
    // The proof's `session` field names the caller: it is what scopes a request id here.
    book = {
      jobs: new JobBook(
        () => streams,
        () => caller,
      ),
      streams,
    };
    books.set(caller, book);
  }
  return book;
}

/** The jobs of one caller. */
export const jobsOf = (caller: string) => bookOf(caller).jobs;

/** Records when the response carrying request `requestId`'s reply opens and closes. */
export function recordResponseStream(caller: string, requestId: RequestId, res: ServerResponse) {
  const { jobs, streams } = bookOf(caller);
  const record: ResponseStreamRecord = { openedAt: performance.now() };
  streams.set(requestId, record);
  res.on('close', () => {
    record.closedAt = performance.now();
    const job = jobs.get(requestId);
    if (job) jobs.prove(job);
  });
}

/** Jobs whose handler has not finished its clean-up: a shutdown waits for them. */
export function unfinishedJobs(): number {
  let count = 0;
  for (const { jobs } of books.values())
    for (const id of jobs.ids()) {
      const job = jobs.get(id)!;
      if (job.state === 'running' || job.fileHandle === 'open') count++;
    }
  return count;
}

/** Records on the job when a cancel reached it through the bus (`signal` aborts), for its report. */
export function noteCancelWhenAborted(job: Job, signal: AbortSignal) {
  signal.addEventListener('abort', () => {
    job.cancel = { receivedAt: performance.now(), reason: String(signal.reason), chunksDoneThen: job.chunksDone };
  });
}
