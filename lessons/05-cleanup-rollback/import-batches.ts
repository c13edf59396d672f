// What lesson 05's process_large_file does inside its one transaction: every batch's rows INSERTed
// and appended to the temp report, the report fsync'd, and the result stored under the key. Any
// throw (a cancel at a step's pause, a bad record) makes db.transaction() roll all of it back.
import type { Sql } from './database.ts';
import { insertBatch, storeResult, type RunResult } from './import-tables.ts';
import { parseRecord } from './input-records.ts';
import { completedResult, fingerprintOf } from './replies.ts';
import type { Run } from './run-steps.ts';

export async function importBatches(tx: Sql, run: Run, tempPath: string): Promise<RunResult> {
  const { job, steps, report, idempotencyKey: key } = run;
  job.resources.transaction = 'open'; // importFile's catch reads it: from here on, a throw is rolled back
  await steps.done('transaction begun');
  await report.open(tempPath);
  await report.write(`report of ${run.path} for idempotency key ${key}\n`);
  for (const [i, batch] of run.batches.entries()) {
    const first = i * run.batchSize + 1;
    // A bad record throws here, after the lock was taken: the same clean-up as a cancel.
    const records = batch.map((text, j) => parseRecord(text, first + j, run.path));
    const label = `batch ${i + 1}/${run.batches.length}`;
    await insertBatch(tx, key, i + 1, records);
    run.rowsInserted += records.length;
    await steps.done(`${label}: rows inserted`, `${records.length} rows`);
    await report.write(records.map((r) => `line ${r.line}: record ${r.id} verified (batch ${i + 1})\n`).join(''));
    job.chunksDone++;
    await steps.done(`${label}: written to the temp file`, report.inPlace ? 'in fact to report.txt itself' : '');
  }
  const outputSha256 = await report.syncAndClose(); // the bytes are on disk before anything says they exist
  await steps.done('temp file synced');

  const result = completedResult(run, outputSha256);
  // Same transaction as the rows: a call that commits has its key, a call that rolls back has none.
  await storeResult(tx, key, fingerprintOf(run), result);
  await steps.done('result stored with its key'); // the last point where a cancel is honoured
  // No checkpoint after this: a cancel that arrives while COMMIT runs is already too late.
  job.resources.step = 'COMMIT sent';
  return result;
}
