// Lesson 05 exercise: server.ts with its point taken out. Its `process_large_file` commits each batch's
// rows on their own and writes report.txt itself: a cancel mid-import leaves half of both. Fix it where
// the EXERCISE comments are, then check it: `npm run learn -- 05` (the README's Exercise says more).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { answerCancelled, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { resolveInDataFolder } from '../shared/data-folder.ts';
import { registerJobStatusTool } from '../shared/jobs.ts';
import type { NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import type { Database } from './database.ts';
import { importBatches } from './import-batches.ts';
import { findStoredResult, resultSchema, type RunResult } from './import-tables.ts';
import { registerInspectTool } from './inspect-tool.ts';
import { releaseLock } from './lock-file.ts';
import { takeLock } from './refusals.ts';
import { replay, reply, type Replayed } from './replies.ts';
import { noteStop, readRun, type Run } from './run-steps.ts';
import { dataFolder, dataLabel, paths, show, writeInPlace } from './server-flags.ts';
import { serveWithDatabase } from './server-start.ts';
import { fsyncFolder } from './temp-report.ts';

const log = createTimeline('server');

function createServer({ transport, jobs }: NewSession, db: Database) {
  const server = new McpServer({ name: 'lesson-05-cleanup-rollback', version: '1.0.0' });

  // The order of a run, and where a cancel can stop it:
  //
  //   lock -> look the key up -> temp dir -> BEGIN -> per batch: INSERT rows, write to the temp file
  //   -> fsync the temp file -> store the key with the result -> COMMIT -> rename over report.txt
  //
  // Everything up to COMMIT is undone by a cancel: ROLLBACK, and `finally` removes the temp dir and
  // releases the lock. COMMIT is the point of no return: the database is the source of truth, and a
  // cancel that arrives after it is too late, so the rename still happens and the result is sent.
  server.registerTool(
    'process_large_file',
    {
      title: 'Import a file in batches',
      description:
        'Imports the records of a file in the lesson data folder into the database, `batchSize` rows per ' +
        'batch, in one transaction, and writes report.txt. Pass an `idempotencyKey`: a retry with the key of a ' +
        'completed call returns its stored result and does nothing again. Try path "records.txt".',
      inputSchema: {
        path: z.string().min(1).default('records.txt').describe('a file inside the lesson data folder'),
        idempotencyKey: z
          .string()
          .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'use 1 to 100 letters, digits, or . _ : -')
          .describe('names this request: a retry with the same key never does the work twice'),
        batchSize: z.number().int().min(1).max(1000).default(10).describe('records per batch'),
        stepDelayMs: z
          .number()
          .int()
          .min(0)
          .max(10_000)
          .default(100)
          .describe('pause after each step, so a run lasts long enough to cancel at any step'),
      },
      outputSchema: resultSchema,
    },
    async (args, extra) => {
      const id = extra.requestId;
      const file = resolveInDataFolder(dataFolder, args.path, dataLabel); // a clear error for ../../etc/passwd
      // The job is on the books before the first await, so a cancel that comes at once finds it.
      const job = jobs.start(id, { tool: 'process_large_file', file: args.path, chunksTotal: 0 });
      let result: RunResult | Replayed;
      try {
        const run = await readRun(file, args, extra, job, log); // its lines in batches, its steps, its report
        result = await importFile(run, db);
      } catch (error) {
        if (!extra.signal.aborted) {
          job.state = 'failed';
          log.fail(`#${id} failed: ${(error as Error).message}`);
          throw error; // McpServer turns it into a tool error result, with this message
        }
        job.state = 'cancelled';
        if (!job.cancel) job.reply = `nothing (${stopReason(extra.signal)})`;
        else await answerCancelled(transport, job, log, { step: job.resources.step ?? 'none', rolledBack: true });
        throw error; // SDK 1.x drops whatever a cancelled handler returns or throws
      }
      job.state = 'completed';
      return reply(result, { id, job, extra }, transport, log); // the result, even after a too-late cancel
    },
  );
  registerJobStatusTool(server, jobs);
  registerInspectTool(server, db);
  return server;
}

/** The work. Resolves with the result, or the stored one (`replayed`). */
async function importFile(run: Run, db: Database): Promise<RunResult | Replayed> {
  const { id, job, signal, steps, report, idempotencyKey: key } = run;
  signal.throwIfAborted(); // cancelled before it started (while the file was read): nothing to undo
  await takeLock(paths.lock, show(paths.lock), { requestId: id, idempotencyKey: key }); // or refuses the call
  job.resources.lock = 'held';
  try {
    await steps.done('lock taken', show(paths.lock));
    // Looked up under the lock: a call with this key that is still running cannot be half-seen.
    const stored = await findStoredResult(db, key);
    if (stored) return replay(stored, run, log); // refused if the arguments differ

    // EXERCISE 1: no transaction: each INSERT commits on its own, so a cancel leaves the batches done so far.
    // EXERCISE 2: report.txt itself is written, batch by batch, so a cancel leaves half of it. Write a temp
    // file in a temp dir of the data folder (paths.temp) instead, and put it in place once all is committed.
    const result = await importBatches(db, run, paths.output);
    job.resources.transaction = 'committed';
    // The point of no return. From here the signal is ignored: the database says this call
    // happened, so the output must follow. Only a crash could stop it now.
    await steps.done('committed', `${result.rows} rows and the result, under key ${key}`, { cancellable: false });
    job.resources.output = 'replaced';
    await steps.done('report.txt replaced', 'written in place', { cancellable: false, pause: false });
    return result;
  } catch (error) {
    noteStop(run, log); // when a signal stopped it: after which step, how soon after the cancel
    throw error;
  } finally {
    // Every way out: completed, cancelled, failed, refused. In reverse order of taking.
    // EXERCISE 3: whatever you add (a temp dir) is undone here too, on every way out.
    await report.closeIfOpen();
    await releaseLock(paths.lock);
    job.resources.lock = 'released';
    if (!job.resources.output) job.resources.output = 'untouched';
    log.highlight(`#${id} lock released`);
  }
}

await serveWithDatabase(createServer, log);
