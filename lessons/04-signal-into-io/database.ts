// The database of the `db` layer: PGlite (PostgreSQL compiled to WASM, embedded, in memory) by
// default, or a real PostgreSQL server when DATABASE_URL is set. The same SQL runs on both; what
// a cancel can do differs, and each `query` says so:
//
// - PostgreSQL: a running statement can be stopped on the server. On abort, `query` asks another
//   connection to run `pg_cancel_backend(pid)`; the statement ends with SQLSTATE 57014.
// - PGlite: its query API takes no signal, and a statement runs on this very thread: while it
//   runs, the event loop does nothing, so not even the cancel can be read. The only pattern is
//   short statements, a turn of the event loop after each, and the signal checked between them.
import { setImmediate as nextTurnOfEventLoop } from 'node:timers/promises';
import pg from 'pg';
import { startPglite } from '../shared/pglite-start.ts';
import type { Timeline } from '../shared/timeline.ts';

/** How the lesson's connections name themselves in PostgreSQL's pg_stat_activity. */
export const APPLICATION_NAME = 'lesson-04-signal-into-io';
/** PostgreSQL's SQLSTATE for "canceling statement due to user request". */
export const QUERY_CANCELED = '57014';

export interface DatabaseSession {
  /** The PostgreSQL server process running this session's statements; undefined for PGlite. */
  readonly backendPid?: number;
  /** Runs one statement. An abort stops it on a PostgreSQL server; PGlite cannot stop a running statement. */
  query<Row>(sql: string, params: unknown[], signal?: AbortSignal): Promise<Row[]>;
  release(): void;
}

export interface Database {
  readonly kind: 'PGlite' | 'PostgreSQL';
  /** For the log: which database, without credentials. */
  readonly label: string;
  session(): Promise<DatabaseSession>;
  close(): Promise<void>;
}

export async function openDatabase(url: string | undefined, log: Timeline): Promise<Database> {
  return url ? openPostgres(url) : openPGlite(log);
}

async function openPGlite(log: Timeline): Promise<Database> {
  // A new PGlite runs initdb: seconds, the first time (startPglite keeps a copy of its files for later starts).
  const started = performance.now();
  log.event('starting PGlite (embedded PostgreSQL, in memory; the very first start takes a few seconds)…');
  const db = await startPglite();
  log.detail(`PGlite ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const session: DatabaseSession = {
    async query<Row>(sql: string, params: unknown[], signal?: AbortSignal) {
      signal?.throwIfAborted();
      const { rows } = await db.query<Row>(sql, params);
      // The statement ran on this thread. Without a turn of the event loop here, a loop of
      // statements never lets Node read the socket that carries the cancel.
      await nextTurnOfEventLoop();
      return rows;
    },
    release() {},
  };
  return {
    kind: 'PGlite',
    label: 'PGlite (embedded, in memory)',
    session: async () => session,
    close: () => db.close(),
  };
}

async function openPostgres(url: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, application_name: APPLICATION_NAME, max: 10 });
  await pool.query('SELECT 1'); // fail now, with the driver's message, if the URL is wrong
  const { host, pathname } = new URL(url);
  return {
    kind: 'PostgreSQL',
    label: `PostgreSQL at ${host}${pathname} (DATABASE_URL)`,
    async session() {
      const client = await pool.connect();
      const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [
        { pid: number },
      ];
      return {
        backendPid: pid,
        async query<Row>(sql: string, params: unknown[], signal?: AbortSignal) {
          signal?.throwIfAborted();
          // The connection running the statement is busy: the cancel goes over another one.
          let cancelSent: Promise<unknown> | undefined;
          const cancelOnServer = () => {
            cancelSent = pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => {
              // The statement ended meanwhile, or the server is gone: nothing left to cancel.
            });
          };
          signal?.addEventListener('abort', cancelOnServer, { once: true });
          try {
            return (await client.query(sql, params)).rows as Row[];
          } catch (error) {
            if (signal?.aborted && (error as { code?: string }).code === QUERY_CANCELED) throw signal.reason;
            throw error;
          } finally {
            signal?.removeEventListener('abort', cancelOnServer);
            // pg_cancel_backend cancels whatever that backend runs when the request lands. Keep the
            // connection until it has landed, so a late cancel cannot hit the next statement on it
            // (ours, or another call's once the connection is back in the pool).
            await cancelSent;
          }
        },
        release: () => client.release(),
      };
    },
    close: () => pool.end(),
  };
}
