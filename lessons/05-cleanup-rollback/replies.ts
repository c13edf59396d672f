// What lesson 05's process_large_file answers: a result, built from a run, or the stored result of
// its idempotency key (replayed, running nothing), sent even when a cancel came too late to matter.
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { sendResultAfterLateCancel } from '../01-cancel-by-id/cancellation.ts';
import type { Timeline } from '../shared/timeline.ts';
import type { RunResult } from './import-tables.ts';
import { otherArguments } from './refusals.ts';
import type { Run } from './run-steps.ts';

export type Replayed = RunResult & { replayed: true };

const textResult = (text: string, result: RunResult, replayed: boolean) => ({
  content: [{ type: 'text' as const, text }],
  structuredContent: { ...result, replayed },
  isError: false,
});

const summary = (r: RunResult) =>
  `${r.rows} records from ${r.input} in ${r.batches} batches; ${r.output} sha256 ${r.outputSha256}`;

/** The result a run that completed returns, and stores with its key. */
export const completedResult = (run: Run, outputSha256: string): RunResult => ({
  status: 'completed',
  idempotencyKey: run.idempotencyKey,
  input: run.path,
  rows: run.lines.length,
  batches: run.batches.length,
  output: 'report.txt',
  outputSha256,
  completedAt: new Date().toISOString(),
});

/** What a key's stored result must match: the arguments that change the work (`stepDelayMs` changes nothing). */
export const fingerprintOf = (run: Run) => JSON.stringify({ path: run.path, batchSize: run.batchSize });

/** The stored result of the run's key, to return instead of running; refused when the arguments differ. */
export function replay(stored: { fingerprint: string; result: RunResult }, run: Run, log: Timeline): Replayed {
  const key = run.idempotencyKey;
  if (stored.fingerprint !== fingerprintOf(run)) throw otherArguments(key, stored.fingerprint);
  run.job.resources['idempotency key'] = 'found: stored result replayed, nothing run';
  log.highlight(`#${run.id} key ${key} already completed: replaying its stored result, running nothing`);
  return { ...stored.result, replayed: true };
}

/** Answers a call whose work completed: with its result, or the stored one it replayed. */
export async function reply(
  result: RunResult | Replayed,
  run: Pick<Run, 'id' | 'job' | 'extra'>,
  transport: StreamableHTTPServerTransport,
  log: Timeline,
): Promise<CallToolResult> {
  return 'replayed' in result ? replyStored(result, run, transport, log) : replyImported(result, run, transport, log);
}

/**
 * Answers with the result of a run that completed. A cancel that arrived after COMMIT came too late:
 * the work is done and recorded, so the honest answer is still the result. SDK 1.x drops whatever a
 * cancelled handler returns, so the server sends it itself.
 */
async function replyImported(
  result: RunResult,
  { id, job, extra }: Pick<Run, 'id' | 'job' | 'extra'>,
  transport: StreamableHTTPServerTransport,
  log: Timeline,
): Promise<CallToolResult> {
  const toolResult = textResult(`Imported ${summary(result)}`, result, false);
  if (extra.signal.aborted) {
    log.highlight(`#${id} the cancel came after the commit: too late to undo; replying with the result`);
    await transport.send({ jsonrpc: '2.0', id, result: toolResult });
    job.reply = 'result (sent by the server: the cancel came after the commit)';
  } else {
    job.reply = 'result';
    log.ok(`#${id} completed: replying with the result`);
  }
  return toolResult;
}

/** Answers with a stored result: nothing ran, so a cancel that came meanwhile changes nothing either. */
async function replyStored(
  result: Replayed,
  run: Pick<Run, 'id' | 'job' | 'extra'>,
  transport: StreamableHTTPServerTransport,
  log: Timeline,
): Promise<CallToolResult> {
  const { replayed, ...stored } = result;
  const key = stored.idempotencyKey;
  const storedResult = textResult(`Stored result of key ${key}, not run again: ${summary(stored)}`, stored, replayed);
  if (await sendResultAfterLateCancel(transport, run.extra, run.job, storedResult, log)) return storedResult;
  run.job.reply = 'stored result';
  log.ok(`#${run.id} replied with the stored result of key ${key}`);
  return storedResult;
}
