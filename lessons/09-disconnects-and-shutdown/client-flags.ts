// Lesson 09 client's flags, read when client.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const SCENARIOS = ['disconnect', 'wait', 'leak'] as const;
export const OUTCOMES = ['ran-on', 'stopped', 'completed', 'shutdown', 'held', 'released'] as const;
export type Outcome = (typeof OUTCOMES)[number] | 'failed';

const HELP = `
Lesson 09 client: disconnect from a running call, or cancel many and count what stays held.

Usage: npx tsx lessons/09-disconnects-and-shutdown/client.ts [options]

  --url URL               the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3109/mcp)
  --scenario NAME         what to do (default: disconnect)
                            disconnect  start a call, close the transport after --disconnect-after ms,
                                        then ask the server (same session, plain HTTP) how the job ended
                            wait        start a call and wait for its reply (stop the server meanwhile)
                            leak        cancel --cancels calls one by one, count what the server holds
  --disconnect-after MS   (disconnect) when to close the transport (default: 1000)
  --cancels N             (leak) how many calls to start and cancel (default: 20)
  --chunks N              chunks per call (default: 12)
  --chunk-delay MS        the server's pause after each chunk (default: 250)
  --expect OUTCOME        the outcome that makes this exit 0
                            disconnect: ran-on (default) or stopped (server with --disconnect-means-cancel)
                            wait:       completed (default) or shutdown (the server was stopped mid-call)
                            leak:       released (default) or held (server with --on-cancel none)
  -h, --help              show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    scenario: { type: 'string' },
    'disconnect-after': { type: 'string' },
    cancels: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3109/mcp';
export const scenario = choiceFlag('scenario', flags.scenario, SCENARIOS, 'disconnect');
export const disconnectAfterMs = intFlag('disconnect-after', flags['disconnect-after'], 1000);
export const cancels = intFlag('cancels', flags.cancels, 20, 1, 1000);
export const chunks = intFlag('chunks', flags.chunks, 12, 1, 10_000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 60_000);
export const defaults = { disconnect: 'ran-on', wait: 'completed', leak: 'released' } as const;
export const expected = choiceFlag('expect', flags.expect, OUTCOMES, defaults[scenario]);
