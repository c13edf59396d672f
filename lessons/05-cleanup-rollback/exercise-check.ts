// The check of lesson 05's exercise (`npm run learn -- 05`): the proofs lesson.test.ts makes after
// a cancel, on the learner's server, said in plain words. One server, in a data folder of its own.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { latestJob, runCheck, within, type Exercise } from '../shared/exercise-kit.ts';
import { openRawSession, type SseReading } from '../shared/raw-mcp.ts';

const root = join(import.meta.dirname, '../..');
const RECORDS = 40; // records.txt: 4 batches of 10
const KEY = 'exercise-cancelled';

type ToolAnswer = { result?: { isError?: boolean; content?: { text?: string }[]; structuredContent?: unknown } };
const textOf = (answer: ToolAnswer | undefined) => answer?.result?.content?.map((c) => c.text ?? '').join(' ') ?? '';

export const exercise: Exercise = {
  lesson: '05',
  title: 'Leave nothing half-done: roll the rows back, keep report.txt whole',
  file: 'lessons/05-cleanup-rollback/exercise-server.ts',
  solution: 'lessons/05-cleanup-rollback/server.ts',
  asks:
    "process_large_file commits each batch's rows on their own and writes report.txt in place, so a cancel " +
    'mid-import leaves half of both. Make the rows and the key all or nothing, and put the report in place ' +
    'only after the commit, leaving no temp dir or lock behind.',
  hints: [
    'db.transaction((tx) => importBatches(tx, run, path)) runs the rows and the key in one transaction: COMMIT when it resolves, ROLLBACK when it throws, and a cancel throws.',
    "Write the report where nobody reads it: mkdtemp(join(paths.temp, `run-${process.pid}-`)) makes a temp dir in the data folder; pass join(tempDir, 'report.txt') to importBatches.",
    'Once the transaction has committed, rename(tempPath, paths.output) replaces report.txt in one step (then fsyncFolder(dataFolder)). Before the commit, report.txt is never touched.',
    "The temp dir must go on every way out: in `finally`, rm(tempDir, { recursive: true, force: true }) and job.resources['temp dir'] = 'removed'. In the catch, when job.resources.transaction is 'open', set it to 'rolled back'.",
  ],
  check: (serverFile) =>
    runCheck(root, async (run) => {
      const data = mkdtempSync(join(tmpdir(), 'learn-05-'));
      run.afterwards(() => rmSync(data, { recursive: true, force: true })); // last: after the server has stopped
      const server = await run.startServer(serverFile, ['--data', data]);
      const session = await openRawSession(server.url);
      run.afterwards(() => session.close());
      const reportSha = () =>
        existsSync(join(data, 'report.txt'))
          ? createHash('sha256')
              .update(readFileSync(join(data, 'report.txt')))
              .digest('hex')
          : 'absent';

      let nextId = 1;
      const callTool = async (name: string, args: Record<string, unknown>) => {
        const id = nextId++;
        const message = { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } } as const;
        return { id, reading: await session.stream(message as JSONRPCMessage) };
      };
      const answerOf = async ({ id, reading }: { id: number; reading: SseReading }, ms: number) => {
        await within(ms, reading.done);
        return reading.messages.find((m) => 'id' in m && m.id === id) as ToolAnswer | undefined;
      };
      const importCall = (key: string, stepDelayMs: number) =>
        callTool('process_large_file', { path: 'records.txt', idempotencyKey: key, batchSize: 10, stepDelayMs });
      const inspect = async () => {
        const answer = await answerOf(await callTool('inspect_side_effects', { idempotencyKey: KEY }), 5000);
        return answer?.result?.structuredContent as { rows?: number; storedResult?: unknown } | undefined;
      };

      // 1. A call that completes: report.txt is then a whole report, the one a cancel must leave as it is.
      const first = await answerOf(await importCall('exercise-first', 0), 15_000);
      run.require(
        'a call with no cancel completes and writes report.txt',
        first?.result?.isError === false && reportSha() !== 'absent',
        first?.result
          ? `the first call answered: ${textOf(first).slice(0, 300)}`
          : `the first call got ${first ? JSON.stringify(first).slice(0, 300) : 'no answer within 15 s'}`,
      );
      const before = reportSha();

      // 2. The same import, cancelled in batch 3 of 4 (its 100 ms pauses give the cancel time to land there).
      const call = await importCall(KEY, 100);
      const inBatch3 = await within(
        10_000,
        server.waitForJob(call.id, (job) => job.resources?.step?.startsWith('batch 3/') === true),
      );
      const last = latestJob(server, call.id);
      run.require(
        'the import runs',
        inBatch3 !== undefined,
        `no record of tools/call #${call.id} reaching batch 3 within 10 s: ` +
          (last ? `its record last said ${last.state}, at step "${last.resources?.step}"` : 'it has no job record'),
      );
      await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: call.id } });
      const ended = await within(
        5000,
        server.waitForJob(call.id, (job) => job.state !== 'running' && job.resources?.lock !== 'held'),
      );
      const landed = latestJob(server, call.id)?.resources?.['cancel arrived after'];
      run.require(
        'the call stops at the cancel',
        ended?.state === 'cancelled',
        !ended
          ? `5 s after the cancel tools/call #${call.id} is still running, or still holds the lock`
          : ended.state === 'completed'
            ? `the import ran to its end after the cancel (which arrived after "${landed}")`
            : `it ended as "${ended.state}": ${textOf(await answerOf(call, 2000)).slice(0, 300)}`,
      );

      // 3. What the cancel left: the database (through the server, which holds it open) and the files.
      const after = await inspect();
      const rows = after?.rows;
      run.expect(
        'leaves none of its rows in the database',
        rows === 0 && after?.storedResult === null,
        rows === undefined
          ? `inspect_side_effects gave no row count: ${JSON.stringify(after)}`
          : rows > 0
            ? `${rows} of the cancelled call's ${RECORDS} rows are still in the database (the cancel arrived after ` +
              `"${landed}"): they were committed before the cancel, and nothing rolled them back`
            : 'its key has a stored result, as if the cancelled call had completed',
      );
      const report = existsSync(join(data, 'report.txt')) ? readFileSync(join(data, 'report.txt'), 'utf8') : '';
      const records = report.split('\n').filter((line) => line.startsWith('line ')).length;
      run.expect(
        'leaves report.txt as it was',
        reportSha() === before,
        report === ''
          ? 'report.txt, the complete report of the call before, is gone or empty'
          : `report.txt is not the report it was: it now starts "${report.split('\n')[0]}" and holds ` +
              `${records} of ${RECORDS} records, half a report of a call that was cancelled`,
      );
      const tempDirs = existsSync(join(data, 'tmp')) ? readdirSync(join(data, 'tmp')) : [];
      run.expect(
        'removes its temp dir',
        tempDirs.length === 0,
        `left in the data folder's tmp/: ${tempDirs.join(', ')}`,
      );
      const lock = join(data, 'process_large_file.lock');
      run.expect(
        'releases the lock',
        !existsSync(lock),
        `process_large_file.lock is still there: ${existsSync(lock) ? readFileSync(lock, 'utf8') : ''}`,
      );

      // 4. A retry with the key of the cancelled call: it stored nothing, so the import runs, once and in full.
      const retry = await answerOf(await importCall(KEY, 0), 15_000);
      const retried = retry?.result?.structuredContent as { replayed?: boolean; outputSha256?: string } | undefined;
      const afterRetry = retry?.result?.isError === false ? await inspect() : undefined;
      const error = textOf(retry);
      run.expect(
        'a retry with the same key runs the import in full',
        retried?.replayed === false && afterRetry?.rows === RECORDS && reportSha() === retried.outputSha256,
        !retry
          ? 'the retry got no answer within 15 s'
          : retry.result?.isError !== false
            ? `the retry failed: ${error.slice(0, 300)}` +
              (/duplicate key/.test(error) ? ' (the rows the cancelled call left are in its way)' : '')
            : retried?.replayed
              ? 'the retry was answered with a stored result: the cancelled call stored its key'
              : afterRetry?.rows !== RECORDS
                ? `after the retry the key has ${afterRetry?.rows} rows, not ${RECORDS}`
                : "report.txt is not the retry's report (its outputSha256)",
      );
    }),
};
