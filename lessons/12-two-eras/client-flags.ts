// Lesson 12 client's flags, read when client.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const ERAS = ['auto', 'legacy', '2026-07-28'] as const;
export const OUTCOMES = ['stopped', 'completed', 'no-connect'] as const;

const HELP = `
Lesson 12 client (SDK 2.x): call process_large_file, cancel it by aborting, show what the
negotiated era put on the wire and what the server stopped.

Usage: npx tsx lessons/12-two-eras/client.ts [options]

  --url URL            the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3112/mcp);
                       lesson 01's server is http://127.0.0.1:3101/mcp
  --era ERA            version negotiation (default: auto)
                         auto        probe with server/discover; fall back to initialize (2025)
                         legacy      the 2025 initialize handshake, no probe
                         2026-07-28  that revision or fail
  --cancel-after MS    abort the call this long after sending it (default: 1200)
  --no-cancel          let the call run to completion
  --chunks N           chunks to split the file into (default: 20)
  --chunk-delay MS     the server's pause after each chunk (default: 250)
  --reason TEXT        the abort reason (default: "user changed their mind")
  --expect OUTCOME     what makes this exit 0: stopped (default) or completed (default with --no-cancel),
                       or no-connect: with --era 2026-07-28, a server that does not offer it (lesson 01's)
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    era: { type: 'string' },
    'cancel-after': { type: 'string' },
    'no-cancel': { type: 'boolean' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    reason: { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3112/mcp';
export const era = choiceFlag('era', flags.era, ERAS, 'auto');
export const cancel = !flags['no-cancel'];
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 1200);
export const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 60_000);
export const reason = flags.reason ?? 'user changed their mind';
export const expected = choiceFlag('expect', flags.expect, OUTCOMES, cancel ? 'stopped' : 'completed');
