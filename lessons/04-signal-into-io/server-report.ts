// What the lesson 04 client reads of the server's own record of a call (get_job_status), and what
// the record says is still held: the proof of a cancel is on the server's side.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';

/** What get_job_status reports (lessons/shared/jobs.ts). */
export interface JobReport {
  state: string;
  chunksDone: number;
  chunksTotal: number;
  cancelToStopMs?: number;
  fileHandle: string;
  resources?: Record<string, string>;
  reply?: string;
}

/** Resources the job still holds: an open file, a running process or statement, an open response. */
export const held = (job: JobReport) =>
  [
    ...(job.fileHandle === 'open' ? ['file handle'] : []),
    ...Object.entries(job.resources ?? {})
      .filter(([, state]) => state === 'open' || state === 'running')
      .map(([name]) => name),
  ] as string[];

async function jobStatus(client: Client, id: RequestId): Promise<JobReport | undefined> {
  const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
  return status.structuredContent as JobReport | undefined;
}

/** Asks until nothing is held any more, or `waitMs` has passed. */
export async function settledStatus(client: Client, id: RequestId, waitMs: number): Promise<JobReport | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const job = await jobStatus(client, id);
    if (!job || held(job).length === 0 || Date.now() >= deadline) return job;
    await sleep(250);
  }
}
