// Lesson 05's tables: the rows each call imports, and each completed call's key with its result.
// The SQL is the same for PGlite and PostgreSQL (database.ts).
import { z } from 'zod';
import type { Timeline } from '../shared/timeline.ts';
import { openPglite, openPostgres, type Database, type Sql } from './database.ts';
import type { ParsedRecord } from './input-records.ts';
import { databaseUrl, paths, show } from './server-flags.ts';

export async function openDatabase(log: Timeline): Promise<Database> {
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

export async function insertBatch(tx: Sql, key: string, batch: number, records: ParsedRecord[]) {
  const values = records.map((_, i) => `($1, $${i * 3 + 2}, $${i * 3 + 3}, $${i * 3 + 4})`).join(', ');
  const params = records.flatMap((r) => [r.line, batch, r.id]);
  await tx.query(`INSERT INTO lesson05.imported_records (idempotency_key, line, batch, record_id) VALUES ${values}`, [
    key,
    ...params,
  ]);
}

/** The tool's output schema: what a completed call returns, and a retry with its key gets back. */
export const resultSchema = {
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
export type RunResult = Omit<z.infer<z.ZodObject<typeof resultSchema>>, 'replayed'>;

export async function findStoredResult(db: Sql, key: string) {
  const [row] = await db.query<{ fingerprint: string; result: RunResult }>(
    'SELECT fingerprint, result FROM lesson05.idempotency_keys WHERE key = $1',
    [key],
  );
  return row;
}

export async function storeResult(tx: Sql, key: string, fingerprint: string, result: RunResult) {
  await tx.query('INSERT INTO lesson05.idempotency_keys (key, fingerprint, result) VALUES ($1, $2, $3::jsonb)', [
    key,
    fingerprint,
    JSON.stringify(result),
  ]);
}

/** How many rows `key` has in the database (committed ones: others can't be seen). */
export async function countRows(db: Sql, key: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM lesson05.imported_records WHERE idempotency_key = $1',
    [key],
  );
  return row!.n;
}
