// Lesson 01 server's flags, read when server.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const DEFAULT_PORT = 3101;
export const CANCEL_POLICIES = ['error', 'result', 'none'] as const;
export type CancelPolicy = (typeof CANCEL_POLICIES)[number];

const HELP = `
Lesson 01 server: process_large_file over Streamable HTTP, cancellable by request id.

Usage: npx tsx lessons/01-cancel-by-id/server.ts [options]

  --port N             port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --on-cancel POLICY   what to reply to a cancelled tools/call (default: $ON_CANCEL or error)
                         error   JSON-RPC error -32800 "Request cancelled" (LSP's code, not MCP's)
                         result  a clean-cancel result: "Cancelled after N of M chunks", isError: false
                         none    nothing, as the spec recommends (SDK 1.x then holds the stream open)
  --keep-alive-ms N    interval of the SDK's SSE keep-alive comments (default: 15000)
  --ignore-signal      a broken handler that never looks at extra.signal: see what a cancel
                       does not do (the job runs to the end, and the SDK drops its result)
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    port: { type: 'string' },
    'on-cancel': { type: 'string' },
    'keep-alive-ms': { type: 'string' },
    'ignore-signal': { type: 'boolean' },
  },
  HELP,
);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const policy = choiceFlag('on-cancel', flags['on-cancel'] ?? process.env.ON_CANCEL, CANCEL_POLICIES, 'error');
export const keepAliveMs = intFlag('keep-alive-ms', flags['keep-alive-ms'], 15_000, 1);
export const ignoreSignal = flags['ignore-signal'] ?? false;
