// A real Redis and a real HAProxy for a lesson or a test, each a throwaway like the PostgreSQL in
// throwaway-postgres.ts: started from Debian's packages on a free port on 127.0.0.1, with nothing
// written to disk that outlives `stop()`, and killed if this process exits first.
//
//   const redis = await startRedis();        // redis.url: redis://127.0.0.1:PORT
//   const haproxy = await startHaproxy((port) => configText);
//
// When a program is not installed, `missingServices()` says which, and how to install it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.ts';

export type Program = 'haproxy' | 'redis-server';

const installed = (program: Program) => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;

/** Which of `programs` are not installed, and the one command that installs them; undefined when all are. */
export function missingServices(programs: Program[]): string | undefined {
  const missing = programs.filter((program) => !installed(program));
  if (!missing.length) return undefined;
  return `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed. On Debian or Ubuntu: sudo apt-get install -y ${missing.join(' ')}`;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const canListenOn = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** True once something accepts TCP connections on 127.0.0.1:port. */
const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

export interface Service {
  port: number;
  child: ChildProcess;
  /** What it has written to stdout and stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts `command`, waits until it accepts connections on `port`, and returns it; throws with its output if it exits first. */
async function startService(name: string, command: string, args: string[], port: number, folder: string) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: folder });
  let output = '';
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => (output += chunk));
  let running = true;
  const exited = new Promise<void>((resolve) => child.once('exit', () => ((running = false), resolve())));
  // It must not outlive the lesson or the test, nor its folder.
  const killOnExit = () => {
    child.kill('SIGKILL');
    rmSync(folder, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (running) {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    await waitFor(`${name} to accept connections on port ${port}`, async () => {
      if (!running) throw new Error(`${name} exited before it was ready:\n${output.trim()}`);
      return accepts(port);
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, child, log: () => output, stop } satisfies Service;
}

/** A Redis on a free port: no persistence, no config file, gone after stop(). */
export async function startRedis(): Promise<Service & { url: string }> {
  const port = await freePort();
  const folder = mkdtempSync(join(tmpdir(), 'throwaway-redis-'));
  // --save "" and --appendonly no: nothing is written to disk; the bus needs no data to survive.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', folder];
  const redis = await startService('redis-server', 'redis-server', args, port, folder);
  return { ...redis, url: `redis://127.0.0.1:${port}` };
}

/**
 * An HAProxy with the config `configFor(port)` writes, listening on `port` (free, unless given),
 * run in the foreground (-db) so it is this process's child and stops with it.
 */
export async function startHaproxy(
  configFor: (port: number) => string,
  port?: number,
): Promise<Service & { config: string; folder: string }> {
  if (port !== undefined && !(await canListenOn(port)))
    throw new Error(`port ${port} on 127.0.0.1 is in use: stop what holds it, or pass --port N (0 picks a free port)`);
  const listen = port || (await freePort());
  const folder = mkdtempSync(join(tmpdir(), 'throwaway-haproxy-'));
  const config = configFor(listen);
  writeFileSync(join(folder, 'haproxy.cfg'), config);
  const haproxy = await startService('haproxy', 'haproxy', ['-db', '-f', 'haproxy.cfg'], listen, folder);
  return { ...haproxy, config, folder };
}
