// npm run playground: a lesson server, and a page on 127.0.0.1 that runs a real MCP client in the
// browser against it. Start a call, stop it one of the ways the lessons teach, and watch both sides
// on one live timeline.
//
// - /          the page (page/index.html, page/app.ts bundled for the browser by esbuild at start-up)
// - /mcp       the lesson server's MCP endpoint, proxied (http-proxy-middleware) so the page's client
//              talks to it from the page's own origin; a closed connection is passed on as closed
// - /api/...   the playground's own channel: which server runs (and starting another), and an SSE
//              stream of what the server did, read from its proof records, never from the MCP
//              session the page is watching
import { createServer } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { choiceFlag, intFlag, parseFlags } from '../../lessons/shared/cli.ts';
import { jsonRpcError, onlyLocalPages } from '../../lessons/shared/http-guards.ts';
import { exitCannotServe, listenOn } from '../../lessons/shared/listen.ts';
import { readProofRecords, startLessonServer, type StartedProcess } from '../../lessons/shared/processes.ts';
import { createTimeline } from '../../lessons/shared/timeline.ts';
import { ServerLane, type LaneEvent } from './server-lane.ts';

export const ERAS = ['2025-11-25', '2026-07-28'] as const;
export const POLICIES = ['error', 'result', 'none', 'ignore-signal'] as const;
export type Era = (typeof ERAS)[number];
export type Policy = (typeof POLICIES)[number];

const HELP = `
The playground: a page on 127.0.0.1 with a real MCP client in the browser, a lesson server, and
one live timeline of both sides. Open the URL it prints.

Usage: npm run playground [-- options]

  --port N            the page's port on 127.0.0.1 (default: 3190; 0 picks a free one)
  --era ERA           the server to start with (default: 2025-11-25; the page can switch)
                        2025-11-25  lesson 01's server (SDK 1.x); the page's client is SDK 1.x
                        2026-07-28  lesson 12's server (SDK 2.x); the page's client is SDK 2.x
  --on-cancel POLICY  lesson 01's answer to a cancel: error, result, none, or ignore-signal (a
                      handler that never looks at its signal) (default: error)
  -h, --help          show this help
`;
const flags = parseFlags({ port: { type: 'string' }, era: { type: 'string' }, 'on-cancel': { type: 'string' } }, HELP);
const port = intFlag('port', flags.port, 3190, 0, 65_535);
const log = createTimeline('runner');
const root = join(import.meta.dirname, '../..');

// --- The lesson server, and what it proves ----------------------------------------------------------
const SERVERS: Record<Era, { file: string; about: string }> = {
  '2025-11-25': { file: join(root, 'lessons/01-cancel-by-id/server.ts'), about: "lesson 01's server (SDK 1.x)" },
  '2026-07-28': { file: join(root, 'lessons/12-two-eras/server.ts'), about: "lesson 12's server (SDK 2.x)" },
};
readProofRecords(true); // the server hands this process its records: the server lane

interface Upstream {
  era: Era;
  policy: Policy;
  server: StartedProcess & { url: string };
  lane: ServerLane;
  events: LaneEvent[];
  read: number;
}
let upstream: Upstream | undefined;
let switching: Promise<Upstream> | undefined;
const watchers = new Set<express.Response>();

const info = (u: Upstream) => ({
  era: u.era,
  policy: u.policy,
  about: SERVERS[u.era].about + (u.era === '2025-11-25' ? `, --on-cancel ${u.policy}` : ''),
  pid: u.server.child.pid,
  upstream: u.server.url,
});

function broadcast(type: string, data: unknown) {
  for (const res of watchers) res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
}

async function startUpstream(era: Era, policy: Policy): Promise<Upstream> {
  const previous = upstream;
  upstream = undefined;
  await previous?.server.stop();
  const args = era === '2025-11-25' ? (policy === 'ignore-signal' ? ['--ignore-signal'] : ['--on-cancel', policy]) : [];
  // Each record stamped with the wall clock, so the page can put both processes' events on one time axis.
  const server = await startLessonServer(SERVERS[era].file, args, { env: { LESSON_PROOF_WALL_CLOCK: '1' } });
  upstream = { era, policy, server, lane: new ServerLane(), events: [], read: 0 };
  log.event(`serving ${info(upstream).about} at ${server.url} (pid ${server.child.pid})`);
  broadcast('server', info(upstream));
  return upstream;
}

// New records, turned into events, every 10 ms; the counters, every 200 ms and with every event.
setInterval(() => {
  const u = upstream;
  if (!u) return;
  const records = u.server.proof();
  const fresh = records.slice(u.read).flatMap((record) => u.lane.eventsOf(record));
  u.read = records.length;
  if (!fresh.length) return;
  u.events.push(...fresh);
  for (const event of fresh) broadcast('event', event);
  broadcast('counters', u.lane.counters(u.server.child.pid));
}, 10).unref();
setInterval(() => upstream && broadcast('counters', upstream.lane.counters(upstream.server.child.pid)), 200).unref();

// --- HTTP ----------------------------------------------------------------------------------------------
const bundle = await build({
  entryPoints: [join(import.meta.dirname, 'page/app.ts')],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  minify: true,
  write: false,
  logLevel: 'silent',
});
const appJs = bundle.outputFiles[0]!.text;

const app = express();
app.use(...onlyLocalPages()); // a foreign Host or Origin gets 403 (DNS rebinding)
app.get('/', (_req, res) => res.sendFile(join(import.meta.dirname, 'page/index.html')));
app.get('/style.css', (_req, res) => res.sendFile(join(import.meta.dirname, 'page/style.css')));
app.get('/app.js', (_req, res) => res.type('text/javascript').send(appJs));

app.get('/api/server', async (_req, res) => res.json(info(await (switching ?? Promise.resolve(upstream!)))));
app.post('/api/server', express.json(), async (req, res) => {
  const { era, policy } = req.body as { era?: Era; policy?: Policy };
  if (!ERAS.includes(era!) || !POLICIES.includes(policy!))
    return jsonRpcError(
      res,
      400,
      -32602,
      `era must be one of ${ERAS.join(', ')} and policy one of ${POLICIES.join(', ')}`,
    );
  switching = startUpstream(era!, policy!);
  try {
    res.json(info(await switching));
  } catch (error) {
    jsonRpcError(res, 500, -32603, `the lesson server did not start: ${(error as Error).message}`);
  } finally {
    switching = undefined;
  }
});
/** What the server recorded, as it recorded it: for a test, or a curious reader. */
app.get('/api/records', (_req, res) => res.json(upstream?.server.proof() ?? []));
app.get('/api/events', (req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  watchers.add(res);
  req.on('close', () => watchers.delete(res));
  if (upstream) {
    res.write(`event: server\ndata: ${JSON.stringify(info(upstream))}\n\n`);
    for (const event of upstream.events) res.write(`event: event\ndata: ${JSON.stringify(event)}\n\n`);
  }
});
app.use(
  '/mcp',
  createProxyMiddleware({
    router: () => new URL(upstream?.server.url ?? 'http://127.0.0.1:9').origin,
    pathRewrite: () => '/mcp',
    on: {
      error: (_error, _req, res) => {
        if (!('writeHead' in res) || res.headersSent) return;
        const error = { code: -32000, message: 'the lesson server is restarting: try again' };
        res
          .writeHead(502, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', error, id: null }));
      },
    },
  }),
);

await startUpstream(
  choiceFlag('era', flags.era, ERAS, '2025-11-25'),
  choiceFlag('on-cancel', flags['on-cancel'], POLICIES, 'error'),
);
const http = createServer(app);
const actual = await listenOn(http, port, '127.0.0.1').catch(async (error: Error) => {
  await upstream?.server.stop();
  exitCannotServe(log, error);
});
log.ok(`playground listening on http://127.0.0.1:${actual}/  (open it in a browser; Ctrl-C stops it)`);

const stop = async () => {
  for (const res of watchers) res.end();
  http.close();
  http.closeAllConnections();
  await upstream?.server.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
