// Lesson 02 server's flags, read when server.ts imports this: its help text, and the values.
import { intFlag, parseFlags } from '../shared/cli.ts';

export const DEFAULT_PORT = 3102;

const HELP = `
Lesson 02 server: process_large_file over Streamable HTTP, for a client that cancels with an AbortSignal.

Usage: npx tsx lessons/02-abort-signal/server.ts [options]

  --port N                     port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --honour-falsy-ids           also stop requests whose id is 0 or "": SDK 1.x ignores cancels for them
  --remember-early-cancels MS  a cancel for an id this session has not seen yet is kept for MS ms, and
                               stops that request if it arrives in time (default: 0, off: the SDK ignores it)
  --crash-at-chunk N           the process kills itself (SIGKILL) at chunk N of a call: a server that dies mid-call
  -h, --help                   show this help
`;

const flags = parseFlags(
  {
    port: { type: 'string' },
    'honour-falsy-ids': { type: 'boolean' },
    'remember-early-cancels': { type: 'string' },
    'crash-at-chunk': { type: 'string' },
  },
  HELP,
);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const honourFalsyIds = flags['honour-falsy-ids'] ?? false;
export const rememberEarlyCancelsMs = intFlag('remember-early-cancels', flags['remember-early-cancels'], 0, 0, 60_000);
export const crashAtChunk = intFlag('crash-at-chunk', flags['crash-at-chunk'], 0, 0, 10_000);
/** The flags that change what the server does, as the start-up line names them. */
export const fixes = [
  honourFalsyIds && '--honour-falsy-ids',
  rememberEarlyCancelsMs > 0 && `--remember-early-cancels ${rememberEarlyCancelsMs}`,
  crashAtChunk > 0 && `--crash-at-chunk ${crashAtChunk}`,
].filter(Boolean);
