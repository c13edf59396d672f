// Lesson 10 server's flags, read when server.ts imports this: its help text, and the values.
import { intFlag, parseFlags } from '../shared/cli.ts';

export const DEFAULT_PORT = 3110;

const HELP = `
Lesson 10 server: process_large_file over Streamable HTTP, and what it does with cancels that race.

Usage: npx tsx lessons/10-races-and-ids/server.ts [options]

  --port N     port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  -h, --help   show this help
`;

const flags = parseFlags({ port: { type: 'string' } }, HELP);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
