// Lesson 04 client's flags, read when client.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';
import { SOURCES } from './layers.ts';

export const OUTCOMES = ['stopped', 'ran-on', 'completed'] as const;
export type Outcome = (typeof OUTCOMES)[number] | 'failed';

const HELP = `
Lesson 04 client: cancel process_large_file while it waits on each kind of I/O, and print what the
server says it stopped and released.

Usage: npx tsx lessons/04-signal-into-io/client.ts [options]

  --url URL            the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3104/mcp)
  --layer LAYER        http, child, file, db, or all (default: all, one after another)
  --cancel-after MS    send notifications/cancelled this long after each call (default: 1100)
  --no-cancel          let every call run to completion
  --chunks N           chunks per call (default: 20)
  --chunk-delay MS     how long each chunk takes (default: 250)
  --wait MS            after the reply, how long to wait for the server to release everything (default: 1500)
  --expect OUTCOME     the outcome, for every layer, that makes this exit 0 (default: stopped, or completed with --no-cancel)
                         stopped    the I/O stopped and everything it held was released
                         ran-on     the handler stopped but its I/O went on (a server run with --wrong-way)
                         completed  the call ran to the end
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    layer: { type: 'string' },
    'cancel-after': { type: 'string' },
    'no-cancel': { type: 'boolean' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    wait: { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3104/mcp';
export const layer = choiceFlag('layer', flags.layer, [...SOURCES, 'all'], 'all');
export const cancel = !flags['no-cancel'];
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 1100);
export const chunks = intFlag('chunks', flags.chunks, 20, 1, 1000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 10_000);
export const waitMs = intFlag('wait', flags.wait, 1500);
export const expected = choiceFlag('expect', flags.expect, OUTCOMES, cancel ? 'stopped' : 'completed');
export const reason = 'user changed their mind';
