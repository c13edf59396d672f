// Starting PGlite without paying for initdb every time.
//
// A new PGlite database runs initdb inside WebAssembly: about 3 s of CPU on a 2-core machine. Loading
// the files of a database that initdb has just made takes about 0.5 s. So the first new database
// is dumped (`dumpDataDir`) into node_modules/.cache, and every later new database, in memory or in
// a folder (unpacked there by tar), starts from that dump. A folder that already holds a database
// is opened as it is.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
    const blob = () => new Blob([readFileSync(dump)]);
    if (folder === undefined || folder.startsWith('memory://')) return PGlite.create(folder, { loadDataDir: blob() });
    if (existsSync(folder) && readdirSync(folder).length > 0) return PGlite.create(folder, { loadDataDir: blob() });
    // Into a folder, tar unpacks the dump for a third of the CPU PGlite takes to write each file
    // through its WebAssembly file system. Aside first, then renamed: a start that dies half-way
    // leaves no half database behind to be opened next time.
    const aside = `${folder}.${process.pid}.partial`;
    mkdirSync(aside, { recursive: true });
    execFileSync('tar', ['-xf', dump, '-C', aside], { stdio: 'pipe' }); // stderr only says it drops the leading /
    renameSync(aside, folder);
    return PGlite.create(folder);
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

/** Makes the dump now if there is none yet (the test command does, before its files start PGlite at once). */
export async function ensurePgliteDump(): Promise<void> {
  if (!existsSync(dump)) await (await startPglite()).close();
}
