// Lesson 03 client's flags, read when client.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';
import { STRATEGIES, type Strategy } from './strategies.ts';

const HELP = `
Lesson 03 client: cancel process_large_file under each strategy and measure how fast each one stops.

Usage: npx tsx lessons/03-cooperative-handlers/client.ts [options]

  --url URL            the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3103/mcp)
  --strategy NAME      run only this strategy (default: all, in this order):
                         ${STRATEGIES.join(', ')}
  --cancel-after MS    send notifications/cancelled this long after each call (default: 500)
  --jitter MS          add a random 0..MS to each delay, so cancels land anywhere in a poll (default: 0)
  --runs N             run each strategy N times; the table then shows the median and the maximum (default: 1)
  --chunks N           chunks per call (default: enough to outlast the cancel by 1.5 s)
  --chunk-ms MS        how long each chunk takes on the server (default: 50)
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    strategy: { type: 'string' },
    'cancel-after': { type: 'string' },
    jitter: { type: 'string' },
    runs: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-ms': { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3103/mcp';
export const only = choiceFlag('strategy', flags.strategy, [...STRATEGIES, 'all'], 'all');
export const strategies: readonly Strategy[] = only === 'all' ? STRATEGIES : [only];
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 500);
export const jitterMs = intFlag('jitter', flags.jitter, 0);
export const runs = intFlag('runs', flags.runs, 1, 1, 1000);
export const chunkMs = intFlag('chunk-ms', flags['chunk-ms'], 50, 1, 10_000);
// Long enough that every cancel lands mid-job, even for a 1 s poller: the delay, plus 1.5 s.
export const chunks = intFlag(
  'chunks',
  flags.chunks,
  Math.ceil((cancelAfterMs + jitterMs + 1500) / chunkMs),
  1,
  10_000,
);
