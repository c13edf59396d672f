// Lesson 07: the server for the flood exercise. It serves flood_progress from exercise-flood.ts by
// default (or from the file --flood names, such as flood.ts) and get_job_status, on server.ts's port,
// so the lesson's client can call it: `npx tsx lessons/07-progress/client.ts --flood 10000`.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { noteCancel } from '../01-cancel-by-id/cancellation.ts';
import { intFlag, parseFlags } from '../shared/cli.ts';
import { registerJobStatusTool } from '../shared/jobs.ts';
import { serveMcpOrExit, type NewSession } from '../shared/mcp-http.ts';
import { createTimeline } from '../shared/timeline.ts';
import type * as Flood from './flood.ts';

const HELP = `
Lesson 07 flood server: flood_progress from the exercise (or another file), and get_job_status.

Usage: npx tsx lessons/07-progress/flood-server.ts [options]

  --port N      port on 127.0.0.1 (default: $PORT or 3107; 0 picks a free one)
  --flood FILE  the module whose registerFloodProgress to serve (default: lessons/07-progress/exercise-flood.ts)
  -h, --help    show this help
`;
const flags = parseFlags({ port: { type: 'string' }, flood: { type: 'string' } }, HELP);
const port = intFlag('port', flags.port ?? process.env.PORT, 3107, 0, 65_535);
const floodFile = resolve(flags.flood ?? `${import.meta.dirname}/exercise-flood.ts`);
const { registerFloodProgress } = (await import(pathToFileURL(floodFile).href)) as typeof Flood;

const log = createTimeline('server');

function createServer({ transport, jobs }: NewSession) {
  // Declares logging, as server.ts does: the lesson's client sends logging/setLevel first.
  const server = new McpServer({ name: 'lesson-07-flood', version: '1.0.0' }, { capabilities: { logging: {} } });
  registerFloodProgress(server, jobs, transport, log);
  registerJobStatusTool(server, jobs);
  return server;
}

const running = await serveMcpOrExit({
  port,
  timeline: log,
  createServer,
  onClientMessage: (session, message) => {
    noteCancel(session.jobs, message, log);
    // As server.ts notes it: a cancel read after the job ended (its loop starved the event loop).
    if (!('method' in message) || message.method !== 'notifications/cancelled') return;
    const requestId = message.params?.requestId;
    const job =
      typeof requestId === 'string' || typeof requestId === 'number' ? session.jobs.get(requestId) : undefined;
    if (job && job.state !== 'running' && job.stoppedAt !== undefined && !job.cancel)
      job.resources['cancel'] =
        `read ${(performance.now() - job.stoppedAt).toFixed(1)} ms after the job had ${job.state}`;
  },
});
log.ok(`listening on ${running.url}  (flood_progress from ${floodFile})`);
