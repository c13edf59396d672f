// How the lesson 03 client shows what it measured: the server's record of each call in a line, and
// the latency of every strategy in one table.
import type { jobReportSchema } from '../shared/jobs.ts';
import type { Timeline } from '../shared/timeline.ts';
import type { z } from 'zod';
import type { Strategy } from './strategies.ts';

export type JobReport = z.infer<z.ZodObject<typeof jobReportSchema>>;

/** One cancelled call, as measured from both sides. */
export interface Measurement {
  strategy: Strategy;
  /** -32800 as expected, or the full result (the cancel came too late to matter). */
  answer: 'cancelled' | 'completed' | 'other';
  /** Cancel sent -> answer received, on this side. */
  clientMs: number;
  /** Cancel read -> handler stopped and cleaned up, on the server's side; absent when it never saw one. */
  serverMs?: number;
  /** Cancel sent -> its HTTP POST answered (202): how long the server took to read it. */
  ackMs: number;
  job?: JobReport;
}

export const ms = (value: number) => `${value.toFixed(1)} ms`;

export function describeJob(job: JobReport | undefined): string {
  if (!job) return 'no record of the call';
  const freed = freedBy(job);
  if (job.state === 'cancelled') {
    return (
      `stopped after chunk ${job.chunksDone}/${job.chunksTotal} (the cancel arrived after chunk ` +
      `${job.chunksDoneWhenCancelArrived}; stopped ${job.cancelToStopMs} ms later)${freed ? `; ${freed}` : ''}`
    );
  }
  return `${job.state}, ${job.chunksDone}/${job.chunksTotal} chunks; ${job.cancelReason === undefined ? 'it never saw a cancel while running' : 'cancel on record'}`;
}

/** What the server says it released: the file handle, a worker thread, and so on. */
function freedBy(job: JobReport): string {
  const parts: string[] = [];
  if (job.fileHandle && job.fileHandle !== 'not opened') parts.push(`file handle ${job.fileHandle}`);
  for (const [name, state] of Object.entries(job.resources ?? {})) parts.push(`${name} ${state}`);
  return parts.join(', ');
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** "12.3 ms" for one run; "median 12.3 ms, max 45.6 ms" for several. */
function summarise(values: number[]): string {
  if (values.length === 0) return '-';
  if (values.length === 1) return ms(values[0]!);
  return `median ${ms(median(values))}, max ${ms(Math.max(...values))}`;
}

export function printTable(measurements: Measurement[], strategies: readonly Strategy[], runs: number, log: Timeline) {
  const rows = strategies.map((strategy) => {
    const mine = measurements.filter((m) => m.strategy === strategy);
    const last = mine.at(-1)?.job;
    const serverValues = mine.flatMap((m) => (m.serverMs === undefined ? [] : [m.serverMs]));
    const completed = mine.some((m) => m.answer === 'completed');
    return [
      strategy,
      summarise(mine.map((m) => m.clientMs)) + (completed ? ' (the result)' : ''),
      serverValues.length ? summarise(serverValues) : 'saw it after the end',
      !last
        ? '-'
        : last.state === 'cancelled'
          ? `${last.chunksDoneWhenCancelArrived} -> ${last.chunksDone}`
          : `all ${last.chunksDone}`,
    ];
  });
  const header = ['strategy', 'cancel -> answer (client)', 'cancel -> stopped (server)', 'chunks at cancel -> stop'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  log.event(runs > 1 ? `cancel latency over ${runs} runs each:` : 'cancel latency:');
  for (const line of [format(header), ...rows.map(format)]) log.event(`  ${line}`);
}
