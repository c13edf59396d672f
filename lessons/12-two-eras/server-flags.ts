// Lesson 12 server's flags, read when server.ts imports this: its help text, and the values.
import { intFlag, parseFlags } from '../shared/cli.ts';

export const DEFAULT_PORT = 3112;

const HELP = `
Lesson 12 server: process_large_file served by SDK 2.x, protocol 2026-07-28 (stateless).
A client cancels a call by closing its response stream. 2025-era clients are served too,
statelessly, as SDK 2.x does by default.

Usage: npx tsx lessons/12-two-eras/server.ts [options]

  --port N       port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  -h, --help     show this help
`;

const flags = parseFlags({ port: { type: 'string' } }, HELP);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
