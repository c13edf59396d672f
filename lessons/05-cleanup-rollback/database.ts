// One tiny interface over two PostgreSQLs, so the lesson runs the same SQL against both:
//
// - PGlite (`@electric-sql/pglite`), PostgreSQL compiled to WebAssembly, embedded in the server
//   process and kept in a folder: nothing to install or start. The default.
// - A real PostgreSQL server through `pg`, when `DATABASE_URL` is set.
//
// `transaction(work)` commits when `work` resolves and rolls back when it throws: a cancelled
// handler throws, so whatever it wrote is undone.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startPglite } from '../shared/pglite-start.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';

export interface Sql {
  query<Row extends object>(text: string, params?: unknown[]): Promise<Row[]>;
}

export interface Database extends Sql {
  /** What it is, for log lines: "PGlite in lessons/05-cleanup-rollback/data/pglite" or "PostgreSQL at 127.0.0.1:5432". */
  readonly label: string;
  /** Runs `work` in one transaction: COMMIT when it resolves, ROLLBACK when it throws (and the error is rethrown). */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * PGlite in `folder` (created on first use, which is slower than opening it later). One process at
 * a time may open it. A new one starts from a copy of a new database's files (see startPglite), so only
 * the very first takes seconds. With `log`, says what is starting and how long it took: seconds, otherwise silent.
 */
export async function openPglite(folder: string, label = folder, log?: Timeline): Promise<Database> {
  const started = performance.now();
  const exists = existsSync(join(folder, 'PG_VERSION'));
  if (exists) log?.event(`opening PGlite (embedded PostgreSQL) in ${label}…`);
  else log?.event(`creating PGlite (embedded PostgreSQL) in ${label}; the very first start takes a few seconds…`);
  prove({ type: 'database', state: exists ? 'opening PGlite' : 'creating PGlite', label });
  const db = await startPglite(folder);
  log?.detail(`PGlite ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return {
    label: `PGlite in ${label}`,
    query: async <Row extends object>(text: string, params?: unknown[]) => (await db.query<Row>(text, params)).rows,
    // PGlite has one connection. Its transaction() holds it for the whole transaction, and every
    // query outside waits until the transaction ends, so no one reads uncommitted rows (the test shows it).
    transaction: (work) =>
      db.transaction((tx) =>
        work({
          query: async <Row extends object>(text: string, params?: unknown[]) =>
            (await tx.query<Row>(text, params)).rows,
        }),
      ),
    close: () => db.close(),
  };
}

/** A PostgreSQL server, e.g. `postgresql://user:password@127.0.0.1:5432/db`. */
export async function openPostgres(url: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  await pool.query('SELECT 1'); // fail now, with the server's message, rather than on the first tool call
  const { hostname, port } = new URL(url);
  return {
    label: `PostgreSQL at ${hostname}:${port || 5432}`,
    query: async <Row extends object>(text: string, params?: unknown[]) =>
      (await pool.query<Row & pg.QueryResultRow>(text, params)).rows,
    async transaction(work) {
      // A transaction needs one connection from BEGIN to COMMIT: take it out of the pool.
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work({
          query: async <Row extends object>(text: string, params?: unknown[]) =>
            (await client.query<Row & pg.QueryResultRow>(text, params)).rows,
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      } finally {
        client.release(broken); // a connection that could not roll back is destroyed, not reused
      }
    },
    close: () => pool.end(),
  };
}
