// Lesson 02 client's flags, read when client.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';
import type { CallFailure } from './call-failures.ts';

export const SCENARIOS = ['cancel', 'timeout', 'lost-connection'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const EXPECTED: Record<Scenario, CallFailure> = {
  cancel: 'cancelled',
  timeout: 'timed out',
  'lost-connection': 'connection lost',
};

const HELP = `
Lesson 02 client: call process_large_file with an AbortSignal, make it fail one way, and say which way.

Usage: npx tsx lessons/02-abort-signal/client.ts [options]

  --url URL            the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3102/mcp)
  --scenario NAME      how the call should end (default: cancel)
                         cancel           the user cancels: controller.abort(reason) after --cancel-after
                         timeout          the SDK's own timeout fires after --timeout
                         lost-connection  the server dies mid-call (start it with --crash-at-chunk N)
  --cancel-after MS    with cancel: abort this long after the call (default: 1200)
  --timeout MS         with timeout: the call's timeout option (default: 1200)
  --ping-every MS      while the call runs, ping the server this often to notice it is gone (default: 1000)
  --chunks N           chunks to split the file into (default: 20)
  --chunk-delay MS     the server's pause after each chunk (default: 250)
  --reason TEXT        the abort reason (default: "user pressed cancel")
  -h, --help           show this help

Exits 0 only when the call failed the way the scenario expects.
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    scenario: { type: 'string' },
    'cancel-after': { type: 'string' },
    timeout: { type: 'string' },
    'ping-every': { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    reason: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3102/mcp';
export const scenario = choiceFlag('scenario', flags.scenario, SCENARIOS, 'cancel');
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 1200);
export const timeoutMs = intFlag('timeout', flags.timeout, 1200, 1);
export const pingEveryMs = intFlag('ping-every', flags['ping-every'], 1000, 10);
export const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 60_000);
export const reason = flags.reason ?? 'user pressed cancel';
