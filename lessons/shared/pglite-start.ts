// Starting PGlite without paying for initdb every time.
//
// A new PGlite database runs initdb inside WebAssembly: about 3 s of CPU on a 2-core machine. Loading
// the files of a database that initdb has just made takes about 0.5 s. So the first new database
// is dumped (`dumpDataDir`) into node_modules/.cache, and every later new database, in memory or in
// a folder, starts from that dump. A folder that already holds a database is opened as it is.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

const modules = join(import.meta.dirname, '../../node_modules');
const { version } = JSON.parse(readFileSync(join(modules, '@electric-sql/pglite/package.json'), 'utf8')) as {
  version: string;
};
// One dump per PGlite version: another version's files may not load.
const dump = join(modules, '.cache/mcp-cancellation-lessons', `pglite-${version}.tar`);

/** A ready PGlite: in memory without `folder`, else in `folder` (created on first use). */
export async function startPglite(folder?: string): Promise<PGlite> {
  const fresh = folder === undefined || !existsSync(join(folder, 'PG_VERSION'));
  if (fresh && existsSync(dump)) {
    return PGlite.create(folder, { loadDataDir: new Blob([readFileSync(dump)]) });
  }
  const db = await PGlite.create(folder);
  if (fresh) {
    // Written aside and renamed into place, so a process starting meanwhile never loads half a dump.
    mkdirSync(dirname(dump), { recursive: true });
    const partial = `${dump}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.from(await (await db.dumpDataDir('none')).arrayBuffer()));
    renameSync(partial, dump);
  }
  return db;
}
