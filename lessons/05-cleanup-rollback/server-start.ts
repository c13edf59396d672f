// Lesson 05 server's start-up and shutdown: the data folder, a crashed run's leftovers, the port,
// the database, and a Ctrl-C that waits for every handler's clean-up.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { noteCancel } from '../01-cancel-by-id/cancellation.ts';
import { shutDownGracefully } from '../09-disconnects-and-shutdown/shutdown.ts';
import { exitCannotServe } from '../shared/listen.ts';
import { serveMcpOverHttp, type McpSession, type NewSession } from '../shared/mcp-http.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';
import { removeCrashLeftovers } from './crash-leftovers.ts';
import type { Database } from './database.ts';
import { openDatabase } from './import-tables.ts';
import { prepareDataFolder } from './input-records.ts';
import { dataFolder, dataLabel, paths, port, writeInPlace } from './server-flags.ts';

/** Serves `createServer`'s MCP server, each session's with the one database of this process. */
export async function serveWithDatabase(
  createServer: (session: NewSession, db: Database) => McpServer,
  log: Timeline,
): Promise<void> {
  prepareDataFolder(dataFolder, paths.temp);
  await removeCrashLeftovers(log);
  const databaseOpen = deferred<void>();
  const running = await serveMcpOverHttp({
    port,
    timeline: log,
    createServer: (session) => createServer(session, database), // called once it is open: see servesAfter
    onClientMessage: (session, message) => noteCancelStep(session, message, log),
    onResponseStreamClosed: (session, requestId) => noteStreamClosed(session, requestId, log),
    servesAfter: databaseOpen.promise, // a client that comes early waits for the database
  }).catch((error: Error) => exitCannotServe(log, error));
  // Opened once per server, after the port is ours: creating or opening PGlite takes a while,
  // and two processes must never open the same PGlite folder.
  const database = await openDatabase(log).catch(async (error: Error) => {
    log.fail(`cannot open the database: ${error.message}`);
    await running.close();
    process.exit(1);
  });
  databaseOpen.resolve();

  // Ctrl-C or SIGTERM: lesson 09's shutdown waits for the handlers' `finally` blocks (rollback, temp
  // dir, lock) before it closes the sessions; then the database closes. Exiting straight away would
  // skip them, and leave the lock file behind.
  shutDownGracefully({
    log,
    stopAll: (reason) => running.stopHandlers(reason), // aborts each handler's extra.signal
    stillBusy: () => running.handlersRunning(),
    close: () => running.close(),
    afterClose: async () => {
      await database.close();
      prove({ type: 'database', state: 'closed' });
      return 'database closed';
    },
  });

  // The record first: a test that sees the line may read the record at once.
  prove({ type: 'listening', url: running.url, database: database.label });
  log.ok(`listening on ${running.url}  (database: ${database.label}; data folder: ${dataLabel})`);
  if (writeInPlace) log.warn('--write-in-place: report.txt is written directly, so a cancel leaves half of it');
}

/** Records, on the job a cancel names, which step the job had reached when the cancel arrived. */
function noteCancelStep(session: McpSession, message: JSONRPCMessage, log: Timeline) {
  const jobs = session.jobs;
  noteCancel(jobs, message, log);
  if (!('method' in message) || message.method !== 'notifications/cancelled') return;
  const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
  // Only an id noteCancel could match: the params are the client's, of any shape and depth.
  const job = typeof requestId === 'string' || typeof requestId === 'number' ? jobs.get(requestId) : undefined;
  if (job?.cancel && !job.resources['cancel arrived after']) {
    job.resources['cancel arrived after'] = job.resources.step ?? 'nothing (not started)';
  }
}

function noteStreamClosed(session: McpSession, requestId: RequestId, log: Timeline) {
  const job = session.jobs.get(requestId);
  if (job?.state === 'cancelled') log.highlight(`#${JSON.stringify(requestId)} response stream closed`);
}
