// A graceful shutdown for an MCP server: on SIGINT/SIGTERM stop the running calls, WAIT for their clean-up (their `finally` blocks), and only then close the sessions and exit.
//
// Exiting right after closing the transports (what a plain `await server.close(); process.exit(0)`
// does) aborts the handlers but does not wait for them: a `finally` that awaits a file close or
// a delete is cut off, and its file handle, scratch file or lock outlives the process's intent.
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningMcpServer } from '../shared/mcp-http.ts';
import type { Timeline } from '../shared/timeline.ts';

export interface GracefulShutdown {
  running: RunningMcpServer;
  log: Timeline;
  /** How long running calls get to clean up before the process exits anyway (exit code 1). */
  deadlineMs: number;
  /** The handlers still running; each promise settles after the handler's `finally`. */
  runningCalls: Set<Promise<unknown>>;
  /** Aborts the running calls; returns how many it aborted. */
  stopAll(): number;
  /** How many of the stopped calls' response streams are still open (their reply not yet out). */
  repliesPending(): number;
  /** A folder that must be empty once every call has cleaned up. */
  scratchFolder: string;
}

export function shutDownGracefully(options: GracefulShutdown) {
  const { running, log, deadlineMs, runningCalls } = options;
  let started = false;
  const stop = async (signal: string) => {
    if (started) return; // a second Ctrl-C while waiting changes nothing
    started = true;
    const stopped = options.stopAll();
    log.highlight(`${signal}: stopping ${stopped} running call(s), waiting for their clean-up`);

    const calls = [...runningCalls];
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs)));
    const cleanedUp = async () => {
      await Promise.allSettled(calls);
      // Each stopped handler returned "stopped: server shutting down"; let the SDK write it out
      // before the streams are closed under it.
      while (options.repliesPending() > 0) await sleep(10);
      return 'done' as const;
    };
    const outcome = await Promise.race([cleanedUp(), deadline]);
    clearTimeout(timer);

    // Closing the sessions ends the remaining streams and connections, and aborts anything left.
    await running.close();
    const left = readdirSync(options.scratchFolder);
    if (outcome === 'deadline') {
      log.fail(`${runningCalls.size} call(s) still running after ${deadlineMs} ms; exiting anyway (code 1)`);
      process.exit(1);
    }
    log.ok(
      `${calls.length} call(s) cleaned up, ${left.length} scratch file(s) left, sessions closed: exiting (code 0)`,
    );
    process.exit(0);
  };
  process.once('SIGINT', (signal) => void stop(signal));
  process.once('SIGTERM', (signal) => void stop(signal));
}
