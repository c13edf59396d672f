// Lesson 04 server's flags, read when server.ts imports this: its help text, and the values.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { intFlag, parseFlags } from '../shared/cli.ts';
import * as lessonLayers from './layers.ts';

export const DEFAULT_PORT = 3104;

const HELP = `
Lesson 04 server: process_large_file from four kinds of I/O, each handed the request's signal.

Usage: npx tsx lessons/04-signal-into-io/server.ts [options]

  --port N        port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --wrong-way     the handler stops waiting when its signal fires, but does not hand the
                  signal to the I/O: see the upstream, the child, the file and the queries go on
  --layers FILE   the four layers from FILE, in layers.ts's place (the exercise: exercise-layers.ts)
  -h, --help      show this help

Environment:
  DATABASE_URL    a PostgreSQL server for the db source (default: PGlite, embedded, in memory)
`;

const flags = parseFlags(
  { port: { type: 'string' }, 'wrong-way': { type: 'boolean' }, layers: { type: 'string' } },
  HELP,
);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const wrongWay = flags['wrong-way'] ?? false;

/** --layers F: the layers from F. tsx's tsImport loads a .ts file however the server was started. */
async function layersFrom(file: string): Promise<typeof lessonLayers> {
  const tsx = 'tsx/esm/api'; // a variable, so the tests' bundle (quick-starts.ts) loads tsx from node_modules
  const api = (await import(tsx)) as { tsImport: (url: string, from: string) => Promise<typeof lessonLayers> };
  return api.tsImport(pathToFileURL(resolve(file)).href, import.meta.url);
}
export const layersFile = flags.layers;
/** The functions the four layers run: layers.ts's, or --layers FILE's. */
export const io = flags.layers ? await layersFrom(flags.layers) : lessonLayers;
