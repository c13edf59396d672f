// Lesson 05 server: a `process_large_file` that imports a file in batches, with side effects of
// every kind (a lock, a temp dir, database rows, an output file, an idempotency key), and leaves
// nothing half-done when it is cancelled (the order of a run is above the tool, below).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolResult,
  JSONRPCMessage,
  RequestId,
  ServerNotification,
  ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { answerCancelled, noteCancel, sendResultAfterLateCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { intFlag, parseFlags } from '../shared/cli.ts';
import { ensureSampleFile, resolveInDataFolder } from '../shared/data-folder.ts';
import { JobBook, registerJobStatusTool, type Job } from '../shared/jobs.ts';
import { exitCannotServe } from '../shared/listen.ts';
import { serveMcpOverHttp, type McpSession, type NewSession } from '../shared/mcp-http.ts';
import { shutDownGracefully } from '../09-disconnects-and-shutdown/shutdown.ts';
import { createTimeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';
import { openPglite, openPostgres, type Database, type Sql } from './database.ts';
import { acquireLock, isRunning, LockHeldError, readLockOwner, releaseLock } from './lock-file.ts';

const log = createTimeline('server');

function createServer({ transport, jobs }: NewSession) {
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
    (args, extra) => runTool(args, extra, jobs, transport),
  );

  registerJobStatusTool(server, jobs);
  registerInspectTool(server);
  return server;
}

// ---------------------------------------------------------------------------------------------
// Flags, helpers and start-up.

export const DEFAULT_PORT = 3105;

const HELP = `
Lesson 05 server: process_large_file imports a file in batches and cleans up or rolls back
everything when cancelled: lock, temp dir, transaction, output file, idempotency key.

Usage: npx tsx lessons/05-cleanup-rollback/server.ts [options]

  --port N           port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --data DIR         the data folder: input files, report.txt, the lock file, temp dirs, and the
                     embedded database (default: lessons/05-cleanup-rollback/data)
  --write-in-place   a broken writer: writes report.txt directly instead of a temp file renamed
                     over it, so a cancel leaves half a report behind
  -h, --help         show this help

Database: PGlite (embedded PostgreSQL) in DIR/pglite, or the PostgreSQL server named by
$DATABASE_URL when it is set (e.g. postgresql://postgres@127.0.0.1:5432/postgres).
`;

const flags = parseFlags(
  { port: { type: 'string' }, data: { type: 'string' }, 'write-in-place': { type: 'boolean' } },
  HELP,
);
const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
const writeInPlace = flags['write-in-place'] ?? false;

const repoRoot = join(import.meta.dirname, '../..');
const dataFolder = flags.data ?? join(import.meta.dirname, 'data');
const dataLabel = relative(repoRoot, dataFolder).startsWith('..') ? dataFolder : relative(repoRoot, dataFolder);
const paths = {
  lock: join(dataFolder, 'process_large_file.lock'),
  temp: join(dataFolder, 'tmp'), // next to report.txt: rename is atomic only within one file system
  output: join(dataFolder, 'report.txt'),
  pglite: join(dataFolder, 'pglite'),
};
const show = (path: string) => `${dataLabel}/${relative(dataFolder, path)}`;

// ---------------------------------------------------------------------------------------------
// The input: text lines "record 0000025 <sha256 of "25">". Processing a record checks its digest.

const RECORDS = 40;
ensureSampleFile(dataFolder, 'records.txt', RECORDS * 80); // 80 bytes per line
ensureBrokenFile();
mkdirSync(paths.temp, { recursive: true });

/** broken.txt: records.txt with a bad digest on line 26, so a run fails in batch 3, after the lock was taken. */
function ensureBrokenFile() {
  const path = join(dataFolder, 'broken.txt');
  if (existsSync(path)) return;
  const lines = readFileSync(join(dataFolder, 'records.txt'), 'utf8').split('\n');
  lines[25] = lines[25]!.replace(/[0-9a-f]{64}$/, '0'.repeat(64));
  writeFileSync(path, lines.join('\n'));
}

interface ParsedRecord {
  line: number;
  id: number;
}

function parseRecord(text: string, line: number, file: string): ParsedRecord {
  const match = /^record (\d{7}) ([0-9a-f]{64})$/.exec(text);
  if (!match) throw new Error(`line ${line} of ${file} is not a record: ${JSON.stringify(text.slice(0, 40))}`);
  const id = Number(match[1]);
  if (createHash('sha256').update(String(id)).digest('hex') !== match[2]) {
    throw new Error(`line ${line} of ${file}: record ${match[1]} fails its checksum`);
  }
  return { line, id };
}

// ---------------------------------------------------------------------------------------------
// The database: the rows each call imports, and each completed call's key with its result.

const databaseUrl = process.env.DATABASE_URL;

async function openDatabase(): Promise<Database> {
  const db = databaseUrl ? await openPostgres(databaseUrl) : await openPglite(paths.pglite, show(paths.pglite), log);
  // A schema of its own keeps the lesson's tables apart from anything else in a shared database.
  await db.query('CREATE SCHEMA IF NOT EXISTS lesson05');
  await db.query(`CREATE TABLE IF NOT EXISTS lesson05.imported_records (
    idempotency_key text NOT NULL,
    line integer NOT NULL,
    batch integer NOT NULL,
    record_id integer NOT NULL,
    PRIMARY KEY (idempotency_key, line))`);
  await db.query(`CREATE TABLE IF NOT EXISTS lesson05.idempotency_keys (
    key text PRIMARY KEY,
    fingerprint text NOT NULL,
    result jsonb NOT NULL,
    completed_at timestamptz NOT NULL DEFAULT now())`);
  return db;
}

async function insertBatch(tx: Sql, key: string, batch: number, records: ParsedRecord[]) {
  const values = records.map((_, i) => `($1, $${i * 3 + 2}, $${i * 3 + 3}, $${i * 3 + 4})`).join(', ');
  const params = records.flatMap((r) => [r.line, batch, r.id]);
  await tx.query(`INSERT INTO lesson05.imported_records (idempotency_key, line, batch, record_id) VALUES ${values}`, [
    key,
    ...params,
  ]);
}

const resultSchema = {
  status: z.literal('completed'),
  idempotencyKey: z.string(),
  input: z.string(),
  rows: z.number(),
  batches: z.number(),
  output: z.string(),
  outputSha256: z.string().describe('of the report this call wrote'),
  completedAt: z.string(),
  replayed: z.boolean().describe('true when this is the stored result of an earlier call with the same key'),
};
type RunResult = Omit<z.infer<z.ZodObject<typeof resultSchema>>, 'replayed'>;

async function findStoredResult(db: Sql, key: string) {
  const [row] = await db.query<{ fingerprint: string; result: RunResult }>(
    'SELECT fingerprint, result FROM lesson05.idempotency_keys WHERE key = $1',
    [key],
  );
  return row;
}

// ---------------------------------------------------------------------------------------------
// The tool's work: runTool, called by process_large_file above.

class CallRefused extends Error {
  override name = 'CallRefused';
}

interface Args {
  path: string;
  idempotencyKey: string;
  batchSize: number;
  stepDelayMs: number;
}
type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const textResult = (text: string, result: RunResult, replayed: boolean) => ({
  content: [{ type: 'text' as const, text }],
  structuredContent: { ...result, replayed },
  isError: false,
});

async function runTool(
  args: Args,
  extra: Extra,
  jobs: JobBook,
  transport: StreamableHTTPServerTransport,
): Promise<CallToolResult> {
  const { path, idempotencyKey: key, batchSize } = args;
  const id = extra.requestId;
  const file = resolveInDataFolder(dataFolder, path, dataLabel); // a clear error for ../../etc/passwd
  // The job is on the books before the first await, so a cancel that comes at once finds it.
  const job = jobs.start(id, { tool: 'process_large_file', file: path, chunksTotal: 0 });

  let result: RunResult | undefined;
  try {
    const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
    const batches = Array.from({ length: Math.ceil(lines.length / batchSize) }, (_, i) =>
      lines.slice(i * batchSize, (i + 1) * batchSize),
    );
    job.chunksTotal = batches.length;
    log.event(`tools/call #${id}: process_large_file ${path}, key ${key}, ${batches.length} batches of ${batchSize}`);
    extra.signal.throwIfAborted(); // a cancel that arrived while the file was read
    result = await importFile({ ...args, id, job, lines, batches, signal: extra.signal, extra });
  } catch (error) {
    if (!extra.signal.aborted) {
      job.state = 'failed';
      log.fail(`#${id} failed: ${(error as Error).message}`);
      throw error; // McpServer turns it into a tool error result, with this message
    }
    job.state = 'cancelled';
    if (job.cancel) {
      await answerCancelled(transport, job, log, { step: job.resources.step ?? 'none', rolledBack: true });
    } else {
      job.reply = `nothing (${stopReason(extra.signal)})`;
    }
    throw error; // SDK 1.x drops whatever a cancelled handler returns or throws
  }

  job.state = 'completed';
  if ('replayed' in result) {
    const { replayed, ...stored } = result as RunResult & { replayed: true };
    const storedResult = textResult(`Stored result of key ${key}, not run again: ${summary(stored)}`, stored, replayed);
    if (await sendResultAfterLateCancel(transport, extra, job, storedResult, log)) return storedResult;
    job.reply = 'stored result';
    log.ok(`#${id} replied with the stored result of key ${key}`);
    return storedResult;
  }
  const toolResult = textResult(`Imported ${summary(result)}`, result, false);
  if (extra.signal.aborted) {
    // The cancel arrived after COMMIT. The work is done and recorded, so the honest answer is the
    // result. SDK 1.x drops whatever a cancelled handler returns, so send it ourselves.
    log.highlight(`#${id} the cancel came after the commit: too late to undo; replying with the result`);
    await transport.send({ jsonrpc: '2.0', id, result: toolResult });
    job.reply = 'result (sent by the server: the cancel came after the commit)';
  } else {
    job.reply = 'result';
    log.ok(`#${id} completed: replying with the result`);
  }
  return toolResult;
}

const summary = (r: RunResult) =>
  `${r.rows} records from ${r.input} in ${r.batches} batches; ${r.output} sha256 ${r.outputSha256}`;

interface Run extends Args {
  id: RequestId;
  job: Job;
  lines: string[];
  batches: string[][];
  signal: AbortSignal;
  extra: Extra;
}

/** The work, with every side effect made safe. Resolves with the result, or the stored one (`replayed`). */
async function importFile(run: Run): Promise<RunResult | (RunResult & { replayed: true })> {
  const { id, job, signal, idempotencyKey: key } = run;
  const fingerprint = JSON.stringify({ path: run.path, batchSize: run.batchSize });
  const steps = stepper(run);
  let rowsInserted = 0;
  signal.throwIfAborted(); // cancelled before it started: nothing to undo

  try {
    await acquireLock(paths.lock, {
      pid: process.pid,
      requestId: id,
      idempotencyKey: key,
      since: new Date().toISOString(),
    });
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    throw new CallRefused(lockRefusal(key, error));
  }
  job.resources.lock = 'held';
  let tempDir: string | undefined;
  let tempFile: FileHandle | undefined;
  try {
    await steps.done('lock taken', show(paths.lock));
    // Looked up under the lock: a call with this key that is still running cannot be half-seen.
    const stored = await findStoredResult(db, key);
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        throw new CallRefused(
          `idempotency key "${key}" was first used with other arguments (${stored.fingerprint}); ` +
            'use a new key for a different request',
        );
      }
      job.resources['idempotency key'] = 'found: stored result replayed, nothing run';
      log.highlight(`#${id} key ${key} already completed: replaying its stored result, running nothing`);
      return { ...stored.result, replayed: true };
    }

    // The pid in the name tells a later start-up whose leftover it is, should this process crash.
    tempDir = await mkdtemp(join(paths.temp, `run-${process.pid}-`));
    job.resources['temp dir'] = 'created';
    await steps.done('temp dir created', show(tempDir));

    const tempPath = writeInPlace ? paths.output : join(tempDir, 'report.txt');
    const result = await db.transaction(async (tx) => {
      job.resources.transaction = 'open';
      await steps.done('transaction begun');
      tempFile = await open(tempPath, writeInPlace ? 'w' : 'wx');
      job.fileHandle = 'open';
      if (writeInPlace) job.resources.output = 'being overwritten in place';
      const hash = createHash('sha256');
      const write = async (text: string) => {
        hash.update(text);
        await tempFile!.write(text);
      };
      await write(`report of ${run.path} for idempotency key ${key}\n`);

      for (const [i, batch] of run.batches.entries()) {
        const first = i * run.batchSize + 1;
        // A bad record throws here, after the lock was taken: the same clean-up as a cancel.
        const records = batch.map((text, j) => parseRecord(text, first + j, run.path));
        const label = `batch ${i + 1}/${run.batches.length}`;
        await insertBatch(tx, key, i + 1, records);
        rowsInserted += records.length;
        await steps.done(`${label}: rows inserted`, `${records.length} rows`);
        await write(records.map((r) => `line ${r.line}: record ${r.id} verified (batch ${i + 1})\n`).join(''));
        job.chunksDone++;
        await steps.done(`${label}: written to the temp file`, writeInPlace ? 'in fact to report.txt itself' : '');
      }
      await tempFile.sync(); // the bytes are on disk before anything says they exist
      await tempFile.close();
      job.fileHandle = 'closed';
      await steps.done('temp file synced');

      const result: RunResult = {
        status: 'completed',
        idempotencyKey: key,
        input: run.path,
        rows: run.lines.length,
        batches: run.batches.length,
        output: 'report.txt',
        outputSha256: hash.digest('hex'),
        completedAt: new Date().toISOString(),
      };
      // Same transaction as the rows: a call that commits has its key, a call that rolls back has none.
      await tx.query('INSERT INTO lesson05.idempotency_keys (key, fingerprint, result) VALUES ($1, $2, $3::jsonb)', [
        key,
        fingerprint,
        JSON.stringify(result),
      ]);
      await steps.done('result stored with its key'); // the last point where a cancel is honoured
      // No checkpoint after this: a cancel that arrives while COMMIT runs is already too late.
      job.resources.step = 'COMMIT sent';
      return result;
    }); // COMMIT
    job.resources.transaction = 'committed';

    // The point of no return. From here the signal is ignored: the database says this call
    // happened, so the output must follow. Only a crash could stop it now.
    await steps.done('committed', `${result.rows} rows and the result, under key ${key}`, { cancellable: false });
    if (!writeInPlace) {
      await rename(tempPath, paths.output); // atomic: readers see the old report or the new one
      await fsyncFolder(dataFolder); // and make the rename itself survive a power cut
    }
    job.resources.output = 'replaced';
    const how = writeInPlace ? 'written in place' : 'atomic rename of the synced temp file';
    await steps.done('report.txt replaced', how, { cancellable: false, pause: false });
    return result;
  } catch (error) {
    if (signal.aborted) {
      job.stoppedAt = performance.now();
      const why = job.cancel
        ? `${(job.stoppedAt - job.cancel.receivedAt).toFixed(1)} ms after the cancel`
        : typeof signal.reason === 'string'
          ? signal.reason
          : stopReason(signal);
      log.highlight(`#${id} stopped after "${job.resources.step ?? 'nothing'}" (${why})`);
    }
    if (job.resources.transaction === 'open') {
      // db.transaction() has already sent ROLLBACK by the time its error reaches here.
      job.resources.transaction = 'rolled back';
      log.highlight(
        `#${id} transaction rolled back: the ${rowsInserted} rows it inserted are gone, and no key was stored`,
      );
    }
    throw error;
  } finally {
    // Every way out: completed, cancelled, failed, refused. In reverse order of taking.
    if (job.fileHandle === 'open') {
      await tempFile?.close();
      job.fileHandle = 'closed';
      log.highlight(`#${id} temp file closed`);
    }
    if (writeInPlace && job.resources.output === 'being overwritten in place') {
      job.resources.output = 'left half-written';
      log.warn(`#${id} --write-in-place: report.txt is left half-written`);
    }
    if (tempDir) {
      await rm(tempDir, { recursive: true, force: true });
      job.resources['temp dir'] = 'removed';
      log.highlight(`#${id} temp dir removed`);
    }
    await releaseLock(paths.lock);
    job.resources.lock = 'released';
    if (!job.resources.output) job.resources.output = 'untouched';
    log.highlight(`#${id} lock released`);
  }
}

/** Why a call could not take the lock, in words the caller can act on. */
function lockRefusal(key: string, error: LockHeldError): string {
  const owner = error.owner;
  if (owner?.idempotencyKey === key) {
    return (
      `idempotency key "${key}" belongs to a call that is still running (request ${JSON.stringify(owner.requestId)}, ` +
      `since ${owner.since}); it was not run twice. Retry when that call has ended: you get its stored result ` +
      'if it completed, or a fresh run if it was cancelled'
    );
  }
  return (
    `busy: another process_large_file call holds the lock (${owner ? `request ${JSON.stringify(owner.requestId)}, key "${owner.idempotencyKey}"` : show(paths.lock)}); ` +
    'one call at a time. Try again when it ends'
  );
}

/**
 * Marks the steps of a run: the server log, the job record, a progress notification when the caller
 * asked for progress, and a pause (`stepDelayMs`) that a cancel cuts short by throwing, up to COMMIT.
 */
function stepper({ id, job, extra, signal, stepDelayMs, batches }: Run) {
  const total = 3 + 2 * batches.length + 4;
  let progress = 0;
  return {
    async done(step: string, detail = '', { cancellable = true, pause = true } = {}) {
      job.resources.step = step;
      log.detail(`#${id} ${step}${detail && ` (${detail})`}`);
      const token = extra._meta?.progressToken;
      if (token !== undefined) {
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: ++progress, total, message: step },
        });
      }
      if (!pause) return;
      if (cancellable)
        await sleep(stepDelayMs, undefined, { signal }); // rejects at once on a cancel
      else await sleep(stepDelayMs); // past the commit, a cancel changes nothing
    },
  };
}

async function fsyncFolder(folder: string) {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The proof, read from the file system and the database rather than from the job's own record.

function registerInspectTool(server: McpServer) {
  server.registerTool(
    'inspect_side_effects',
    {
      title: 'Inspect side effects',
      description:
        'Reads the state a process_large_file call can leave behind, from the file system and the database: ' +
        'the lock file, temp dirs, report.txt, and, for an idempotency key, its rows and stored result.',
      inputSchema: { idempotencyKey: z.string().optional().describe('also count the rows and result of this key') },
      outputSchema: {
        lockFile: z.string().describe('"absent", or who holds it'),
        tempDirs: z.array(z.string()).describe('folders left in the temp area'),
        report: z.object({ exists: z.boolean(), sha256: z.string().optional(), firstLine: z.string().optional() }),
        rows: z
          .number()
          .optional()
          .describe("rows in the database under the key (committed ones: others can't be seen)"),
        storedResult: z.record(z.string(), z.unknown()).nullable().optional(),
      },
    },
    async ({ idempotencyKey }) => {
      const owner = await readLockOwner(paths.lock);
      const report = existsSync(paths.output) ? await readFile(paths.output) : undefined;
      const state = {
        lockFile: existsSync(paths.lock) ? `held by ${JSON.stringify(owner ?? 'unknown')}` : 'absent',
        tempDirs: await readdir(paths.temp),
        report: report
          ? {
              exists: true,
              sha256: createHash('sha256').update(report).digest('hex'),
              firstLine: report.toString('utf8').split('\n')[0],
            }
          : { exists: false },
        ...(idempotencyKey !== undefined && {
          rows: (
            await db.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM lesson05.imported_records WHERE idempotency_key = $1',
              [idempotencyKey],
            )
          )[0]!.n,
          storedResult: (await findStoredResult(db, idempotencyKey))?.result ?? null,
        }),
      };
      return { content: [{ type: 'text', text: JSON.stringify(state, null, 2) }], structuredContent: state };
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Start-up and shutdown.

/**
 * A crash (SIGKILL, power cut) runs no `finally`: it can leave the lock file and a temp dir. The
 * database needs nothing: PostgreSQL discards a transaction that never committed. At start-up,
 * remove what a process that no longer runs left behind. (A pid can be reused after a reboot; a
 * production lock would also record the boot id or use an advisory lock in the database.)
 */
async function removeCrashLeftovers() {
  const owner = await readLockOwner(paths.lock);
  if (owner && owner.pid !== process.pid && !isRunning(owner.pid)) {
    await unlink(paths.lock);
    log.warn(
      `removed a stale lock left by pid ${owner.pid}, which is no longer running (request ${JSON.stringify(owner.requestId)}, key ${owner.idempotencyKey})`,
    );
  } else if (existsSync(paths.lock)) {
    log.warn(
      `${show(paths.lock)} is held by ${owner ? `pid ${owner.pid}, which is running` : 'an unknown process'}: left alone`,
    );
  }
  for (const name of await readdir(paths.temp)) {
    const pid = Number(/^run-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !isRunning(pid)) {
      await rm(join(paths.temp, name), { recursive: true, force: true });
      log.warn(`removed ${show(join(paths.temp, name))}, left by pid ${pid}, which is no longer running`);
    }
  }
}

/** Records, on the job a cancel names, which step the job had reached when the cancel arrived. */
function noteCancelStep(session: McpSession, message: JSONRPCMessage) {
  const jobs = session.jobs;
  noteCancel(jobs, message, log);
  if (!('method' in message) || message.method !== 'notifications/cancelled') return;
  const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
  // Only an id noteCancel could match: the params are the client's, of any shape and depth.
  const job = typeof requestId === 'string' || typeof requestId === 'number' ? jobs.get(requestId) : undefined;
  if (job?.cancel && !job.resources['cancel arrived after']) {
    job.resources['cancel arrived after'] = job.resources.step ?? 'nothing (not started)';
  }
}

function noteStreamClosed(session: McpSession, requestId: RequestId) {
  const job = session.jobs.get(requestId);
  if (job?.state === 'cancelled') log.highlight(`#${JSON.stringify(requestId)} response stream closed`);
}

await removeCrashLeftovers();
const databaseOpen = deferred<void>();
const running = await serveMcpOverHttp({
  port,
  timeline: log,
  createServer,
  onClientMessage: noteCancelStep,
  onResponseStreamClosed: noteStreamClosed,
  servesAfter: databaseOpen.promise, // a client that comes early waits for the database
}).catch((error: Error) => exitCannotServe(log, error));
// Opened once per server, after the port is ours: creating or opening PGlite takes a while,
// and two processes must never open the same PGlite folder.
const db = await openDatabase().catch(async (error: Error) => {
  log.fail(`cannot open the database: ${error.message}`);
  await running.close();
  process.exit(1);
});
databaseOpen.resolve();

// Ctrl-C or SIGTERM: lesson 09's shutdown waits for the handlers' `finally` blocks (rollback, temp
// dir, lock) before it closes the sessions; then the database closes. Exiting straight away would
// skip them, and leave the lock file behind.
shutDownGracefully({
  log,
  stopAll: (reason) => running.stopHandlers(reason), // aborts each handler's extra.signal
  stillBusy: () => running.handlersRunning(),
  close: () => running.close(),
  afterClose: async () => {
    await db.close();
    return 'database closed';
  },
});

log.ok(`listening on ${running.url}  (database: ${db.label}; data folder: ${dataLabel})`);
if (writeInPlace) log.warn('--write-in-place: report.txt is written directly, so a cancel leaves half of it');
