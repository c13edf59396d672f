// Lesson 07 client's flags, read when client.ts imports this: its help text, and the values.
import { LoggingLevelSchema } from '@modelcontextprotocol/sdk/types.js';
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const OUTCOMES = ['cancelled', 'completed'] as const;
export type Outcome = (typeof OUTCOMES)[number];
const FLOOD_LOOPS = ['tight', 'yielding'] as const;
const LOG_LEVELS = LoggingLevelSchema.options;

const HELP = `
Lesson 07 client: a long tool call with a progress bar and log messages; cancel it mid-way.

Usage: npx tsx lessons/07-progress/client.ts [options]

  --url URL               the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3107/mcp)
  --chunks N              chunks to split the file into (default: 20)
  --chunk-delay MS        the server's pause after each chunk (default: 250; 1000 in a terminal, so
                          there is time to press a key)
  --cancel-at-percent P   cancel once progress reaches P% (default: 50; in a terminal, press c or Esc
                          to cancel sooner)
  --no-cancel             let the call run to completion
  --log-level LEVEL       logging/setLevel sent first: ${LOG_LEVELS.join(', ')} (default: info)
  --flood N               call flood_progress instead: N progress notifications as fast as possible
  --flood-loop LOOP       tight (awaits each send, nothing else) or yielding (the fix; default)
  --cancel-after MS       with --flood: cancel this long after the call (default: 100)
  --expect OUTCOME        what makes this exit 0: cancelled or completed (default: cancelled, but
                          completed with --no-cancel or --flood-loop tight)
  -h, --help              show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    'cancel-at-percent': { type: 'string' },
    'no-cancel': { type: 'boolean' },
    'log-level': { type: 'string' },
    flood: { type: 'string' },
    'flood-loop': { type: 'string' },
    'cancel-after': { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3107/mcp';
export const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
// In a terminal the reader may press c or Esc before the cancel at 50%: give them 10 s rather than 2.5 s.
const interactive = process.stdin.isTTY && process.stdout.isTTY;
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], interactive ? 1000 : 250, 0, 60_000);
export const cancelAtPercent = intFlag('cancel-at-percent', flags['cancel-at-percent'], 50, 0, 100);
export const cancel = !flags['no-cancel'];
export const logLevel = choiceFlag('log-level', flags['log-level'], LOG_LEVELS, 'info');
export const flood = flags.flood === undefined ? undefined : intFlag('flood', flags.flood, 20_000, 1, 1_000_000);
export const floodLoop = choiceFlag('flood-loop', flags['flood-loop'], FLOOD_LOOPS, 'yielding');
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 100);
const starves = flood !== undefined && floodLoop === 'tight';
export const expected = choiceFlag('expect', flags.expect, OUTCOMES, cancel && !starves ? 'cancelled' : 'completed');
