// Lesson 05 server's flags, read when server.ts imports this: its help text, the values, and the
// paths in the data folder that every part of the server shares.
import { join, relative } from 'node:path';
import { intFlag, parseFlags } from '../shared/cli.ts';

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
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const writeInPlace = flags['write-in-place'] ?? false;
export const databaseUrl = process.env.DATABASE_URL;

const repoRoot = join(import.meta.dirname, '../..');
export const dataFolder = flags.data ?? join(import.meta.dirname, 'data');
export const dataLabel = relative(repoRoot, dataFolder).startsWith('..') ? dataFolder : relative(repoRoot, dataFolder);
export const paths = {
  lock: join(dataFolder, 'process_large_file.lock'),
  temp: join(dataFolder, 'tmp'), // next to report.txt: rename is atomic only within one file system
  output: join(dataFolder, 'report.txt'),
  pglite: join(dataFolder, 'pglite'),
};
/** A path in the data folder, for log lines: "lessons/05-cleanup-rollback/data/report.txt". */
export const show = (path: string) => `${dataLabel}/${relative(dataFolder, path)}`;
