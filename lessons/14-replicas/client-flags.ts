// Lesson 14 client's flags, read when client.ts imports this: its help text, and the values.
import { randomUUID } from 'node:crypto';
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const OUTCOMES = ['stopped', 'completed', 'session-lost'] as const;

const HELP = `
Lesson 14 client (SDK 1.x): through the balancer, call process_large_file, cancel it by its
request id, and show which replica answered each request and what the one that ran it did.

Usage: npx tsx lessons/14-replicas/client.ts [options]

  --url URL            the balancer's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3114/mcp)
  --cancel-after MS    send notifications/cancelled this long after the call (default: 1200)
  --chunks N           chunks to split the file into (default: 20)
  --chunk-delay MS     the server's pause after each chunk (default: 250)
  --wait MS            after cancelling, how long to wait for a reply (default: 6000)
  --credential TEXT    sent as "Authorization: Bearer TEXT" on every request: a stateless replica
                       knows its caller by it (default: a new one each run)
  --expect OUTCOME     what makes this exit 0 (default: stopped)
                         stopped       the replica that ran the call stopped it and closed its file
                         completed     the call ran to the end (a cancel that reached nobody)
                         session-lost  the session broke: a request landed on a replica without it
  --reason TEXT        the reason sent with the cancel (default: "user changed their mind")
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    'cancel-after': { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    wait: { type: 'string' },
    credential: { type: 'string' },
    expect: { type: 'string' },
    reason: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3114/mcp';
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 1200);
export const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 60_000);
export const waitMs = intFlag('wait', flags.wait, 6000);
export const credential = flags.credential ?? `lesson-14-${randomUUID().slice(0, 8)}`;
export const expected = choiceFlag('expect', flags.expect, OUTCOMES, 'stopped');
export const reason = flags.reason ?? 'user changed their mind';
