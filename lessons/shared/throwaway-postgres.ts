// A real PostgreSQL server for a test: a fresh cluster in a temp folder, on a free port on
// 127.0.0.1, gone again after `stop()`. When DATABASE_URL is set, that server is used instead and
// left alone. When neither is available, `skipReason` says why, so the test can skip and say so;
// a server that is there but fails to start throws.
//
//   const pg = await throwawayPostgres();
//   if ('skipReason' in pg) test.skip(pg.skipReason) ... else use pg.url, then await pg.stop()
//
// initdb and postgres refuse to run as root, so as root this runs them as the `postgres` user.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './throwaway-services.ts';
import { waitFor } from './wait.ts';

export type ThrowawayPostgres =
  { url: string; source: 'DATABASE_URL' | 'throwaway cluster'; stop(): Promise<void> } | { skipReason: string };

/** The folder holding initdb and postgres: on PATH, or Debian's /usr/lib/postgresql/<version>/bin. */
function findPostgresBin(): string | undefined {
  const onPath = (process.env.PATH ?? '').split(':').find((dir) => dir && existsSync(join(dir, 'initdb')));
  if (onPath) return onPath;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
}

/** The uid and gid to run PostgreSQL as: ours, or the `postgres` user's when we are root. */
function postgresUser(): { uid: number; gid: number } | string {
  if (process.getuid?.() !== 0) return { uid: userInfo().uid, gid: userInfo().gid };
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const [uid, gid] = [id('-u'), id('-g')];
  if (uid.status !== 0 || gid.status !== 0) return 'running as root, and there is no postgres user to run initdb as';
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

export async function throwawayPostgres(): Promise<ThrowawayPostgres> {
  if (process.env.DATABASE_URL) {
    return { url: process.env.DATABASE_URL, source: 'DATABASE_URL', stop: async () => {} };
  }
  const bin = findPostgresBin();
  if (!bin)
    return {
      skipReason: 'no DATABASE_URL, and no PostgreSQL server binaries (initdb) on PATH or in /usr/lib/postgresql',
    };
  const user = postgresUser();
  if (typeof user === 'string') return { skipReason: user };

  const folder = mkdtempSync(join(tmpdir(), 'throwaway-postgres-'));
  chownSync(folder, user.uid, user.gid);
  const dataDir = join(folder, 'data');
  const initdb = spawnSync(
    join(bin, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'],
    { ...user, encoding: 'utf8' },
  );
  if (initdb.status !== 0) {
    rmSync(folder, { recursive: true, force: true });
    throw new Error(`initdb failed: ${initdb.stderr || initdb.error?.message}`);
  }

  const port = await freePort();
  // fsync off: a test database need not survive a power cut, and it makes commits much cheaper.
  const server: ChildProcess = spawn(
    join(bin, 'postgres'),
    ['-D', dataDir, '-p', String(port), '-k', folder, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    { ...user, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  server.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  // Immediate shutdown if this process exits without calling stop(): postgres must not outlive the test.
  const killOnExit = () => server.kill('SIGQUIT');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    if (running) {
      // "Smart" shutdown first: it lets clients that are disconnecting finish (pg's pool.end()
      // resolves before its sockets have closed). Then "fast": roll back, disconnect everyone.
      server.kill('SIGTERM');
      const fast = setTimeout(() => server.kill('SIGINT'), 2000);
      await exited;
      clearTimeout(fast);
    }
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `postgres to accept connections on port ${port}`,
      () => {
        if (!running) throw new Error(`postgres exited:\n${log}`);
        return log.includes('ready to accept connections');
      },
      { timeoutMs: 15_000 },
    );
  } catch (error) {
    await stop();
    throw error; // the binaries are here, so this is a failure to look at, not a reason to skip
  }
  return { url: `postgresql://postgres@127.0.0.1:${port}/postgres`, source: 'throwaway cluster', stop };
}
