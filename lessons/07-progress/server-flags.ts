// Lesson 07 server's flags, read when server.ts imports this: its help text, and the values.
import { intFlag, parseFlags } from '../shared/cli.ts';

export const DEFAULT_PORT = 3107;

const HELP = `
Lesson 07 server: process_large_file with progress notifications and log messages, and a progress flood.

Usage: npx tsx lessons/07-progress/server.ts [options]

  --port N               port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --progress-every-ms N  at most one notifications/progress per this many ms, per call; the last
                         chunk is always reported (default: 200)
  -h, --help             show this help
`;

const flags = parseFlags({ port: { type: 'string' }, 'progress-every-ms': { type: 'string' } }, HELP);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const progressEveryMs = intFlag('progress-every-ms', flags['progress-every-ms'], 200, 0, 60_000);
