// What every lesson server says when it cannot listen: a busy port gets what to do instead of
// Node's EADDRINUSE, and the process exits 1 with that one line, never a stack trace. Kept apart
// from mcp-http.ts so lesson 12 (SDK 2.x) can use it without loading SDK 1.x.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Timeline } from './timeline.ts';

/** Listens on host:port and resolves with the port it got; rejects with a message a person can act on. */
export function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${port} on ${host} is in use: stop what holds it, or pass --port N (0 picks a free port)`)
          : error,
      ),
    );
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** For a server's main module: prints why it cannot serve, as one line, and exits 1. */
export function exitCannotServe(timeline: Timeline, error: Error): never {
  timeline.fail(error.message);
  process.exit(1);
}
