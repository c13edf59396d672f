// Lesson 09 exercise: shutdown.ts with its point taken out. This shutdown stops the running calls
// and exits straight after closing the sessions: it waits for no clean-up, and it exits 0 whatever
// is still running. Fix it where the EXERCISE comments are, then check it: `npm run learn -- 09`
// (the README's Exercise says more). The lesson's server runs this file with
// `npx tsx lessons/09-disconnects-and-shutdown/server.ts --shutdown lessons/09-disconnects-and-shutdown/exercise-shutdown.ts`.
// (Every lesson server shuts down through shutdown.ts: this copy is the one to break and fix.)
//
// A graceful shutdown for an MCP server: on SIGINT/SIGTERM stop the running calls, WAIT for their
// clean-up (their `finally` blocks), and only then close the sessions and exit. Taught in lesson 09;
// every lesson server shuts down through it (the shared wiring, serveMcpOrExit, calls it).
//
// Exiting right after closing the transports (what a plain `await server.close(); process.exit(0)`
// does) aborts the handlers but does not wait for them: a `finally` that awaits a file close or
// a delete is cut off, and its file handle, scratch file or lock outlives the process's intent.
import { setTimeout as sleep } from 'node:timers/promises';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';

/** How long running calls get to clean up by default, so the process is gone within a second. */
export const SHUTDOWN_GRACE_MS = 800;

export interface GracefulShutdown {
  log: Timeline;
  /** Stops every running call; returns how many it stopped. */
  stopAll(reason: string): number;
  /** How many stopped calls have not finished cleaning up (their `finally` blocks, their replies). */
  stillBusy(): number;
  /** Closes the sessions and the listener: ends the remaining streams and connections, aborts anything left. */
  close(): Promise<void>;
  /** What close() closes, for the log (default: sessions). */
  closes?: string;
  /** Once closed: what else to close or check, and a few words on it for the log. */
  afterClose?(): string | Promise<string>;
  /** How long running calls get to clean up before the process exits anyway (exit code 1). */
  deadlineMs?: number;
}

export function shutDownGracefully({
  log,
  stopAll,
  stillBusy,
  close,
  closes = 'sessions',
  afterClose,
  deadlineMs = SHUTDOWN_GRACE_MS,
}: GracefulShutdown) {
  const stop = async (signal: NodeJS.Signals) => {
    const stopped = stopAll(`server shutting down (${signal})`);
    log.highlight(`${signal}: stopping ${stopped} running call(s)`);
    prove({ type: 'shutdown', step: 'stopping', signal, stopped });

    // EXERCISE 1: the calls were told to stop, and nothing waits for them. close() ends their
    // streams, so their replies have nowhere to go, and process.exit cuts their `finally` blocks
    // off: a file handle, a scratch file on disk. Wait for their clean-up (stillBusy() says how
    // many have not finished it), but no longer than deadlineMs.
    await close();
    const also = afterClose ? `, ${await afterClose()}` : '';
    const left = stillBusy(); // the calls whose clean-up was cut off
    prove({ type: 'shutdown', step: 'exiting', signal, stopped, stillRunning: left, code: 0 });
    // EXERCISE 2: exit code 0 even when calls are still running. Whoever runs this server (a
    // supervisor, a test) learns from the exit code whether it shut down cleanly: exit 1 then, and
    // say how many calls still run.
    log.ok(`${stopped} call(s) stopped, ${closes} closed${also}: exiting (code 0)`);
    process.exit(0);
  };
  // `once`: a second Ctrl-C, with no listener left, ends the process at once.
  process.once('SIGINT', (signal) => void stop(signal));
  process.once('SIGTERM', (signal) => void stop(signal));
}
