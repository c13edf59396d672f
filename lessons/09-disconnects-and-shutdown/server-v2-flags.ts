// Lesson 09's SDK 2.x server's flags, read when server-v2.ts imports this: its help text, and the values.
import { join, relative } from 'node:path';
import { intFlag, parseFlags } from '../shared/cli.ts';
import { SHUTDOWN_GRACE_MS } from './shutdown.ts';

const HELP = `
Lesson 09 server, SDK 2.x: process_large_file in both eras on one endpoint. In 2026-07-28 a client
that closes the call's response stream has cancelled it; in 2025-11-25 (with sessions) it has not.

Usage: npx tsx lessons/09-disconnects-and-shutdown/server-v2.ts [options]

  --port N                  port on 127.0.0.1 (default: $PORT or 3109; 0 picks a free one)
  --shutdown-deadline-ms N  on SIGINT/SIGTERM, how long running calls get to clean up (default: ${SHUTDOWN_GRACE_MS})
  -h, --help                show this help
`;

const flags = parseFlags({ port: { type: 'string' }, 'shutdown-deadline-ms': { type: 'string' } }, HELP);
export const port = intFlag('port', flags.port ?? process.env.PORT, 3109, 0, 65_535);
export const shutdownDeadlineMs = intFlag('shutdown-deadline-ms', flags['shutdown-deadline-ms'], SHUTDOWN_GRACE_MS, 1);
export const dataFolder = join(import.meta.dirname, 'data');
export const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder);
export const scratchFolder = join(dataFolder, 'scratch');
