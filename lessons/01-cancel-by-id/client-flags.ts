// Lesson 01 client's flags, read when client.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const OUTCOMES = ['error', 'result', 'none', 'completed', 'tool-error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

const HELP = `
Lesson 01 client: call process_large_file, cancel it by its request id, print what came back.

Usage: npx tsx lessons/01-cancel-by-id/client.ts [options]

  --url URL            the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3101/mcp)
  --cancel-after MS    send notifications/cancelled this long after the call (default: 1200;
                       in a terminal, 80% of the job: 4000 with the defaults, and c or Esc
                       cancels at once)
  --no-cancel          let the call run to completion
  --chunks N           chunks to split the file into (default: 20)
  --chunk-delay MS     the server's pause after each chunk (default: 250)
  --wait MS            after cancelling, how long to wait for a reply before giving up (default: 3000)
  --expect OUTCOME     the outcome that makes this exit 0 (default: error, or completed with --no-cancel)
                         error      a JSON-RPC error -32800 "Request cancelled"
                         result     a clean-cancel result "Cancelled after N of M chunks"
                         none       no reply at all, the spec's default
                         completed  the full result
                         tool-error a tool error result (isError: true), e.g. for a bad --path
  --reason TEXT        the reason sent with the cancel (default: "user changed their mind")
  --path FILE          the file to process, inside the lesson's data folder (default: sample.txt)
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    'cancel-after': { type: 'string' },
    'no-cancel': { type: 'boolean' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    wait: { type: 'string' },
    expect: { type: 'string' },
    reason: { type: 'string' },
    path: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3101/mcp';
export const cancel = !flags['no-cancel'];
export const path = flags.path ?? 'sample.txt';
export const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 60_000);
/** A reader at a terminal gets a key prompt, and time to read it; a script does not. */
export const inTerminal = process.stdin.isTTY === true;
export const cancelAfterMs = intFlag(
  'cancel-after',
  flags['cancel-after'],
  inTerminal ? Math.floor(chunks * chunkDelayMs * 0.8) : 1200,
);
export const waitMs = intFlag('wait', flags.wait, 3000);
export const expected = choiceFlag('expect', flags.expect, OUTCOMES, cancel ? 'error' : 'completed');
export const reason = flags.reason ?? 'user changed their mind';
