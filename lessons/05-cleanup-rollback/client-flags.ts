// Lesson 05 client's flags, read when client.ts imports this: its help text, and the values.
import { randomBytes } from 'node:crypto';
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const STORIES = ['rolled-back', 'half-written', 'completed'] as const;
export type Story = (typeof STORIES)[number];

const HELP = `
Lesson 05 client: cancel process_large_file mid-way, prove nothing is left, retry with the same
idempotency key, and retry again to get the stored result.

Usage: npx tsx lessons/05-cleanup-rollback/client.ts [options]

  --url URL          the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3105/mcp)
  --cancel-at TEXT   cancel when the server reports the first step containing TEXT (default: "batch 3")
                     steps: lock taken, temp dir created, transaction begun,
                     batch N/M: rows inserted, batch N/M: written to the temp file,
                     temp file synced, result stored with its key, committed, report.txt replaced
  --step-delay MS    the server's pause after each step (default: 100)
  --key KEY          the idempotency key (default: a new random one each run)
  --expect STORY     what makes this exit 0 (default: rolled-back)
                       rolled-back   the cancel undid everything; the first retry runs; the second replays
                       half-written  the same, but report.txt was changed (a server run with --write-in-place)
                       completed     the cancel came after the commit: the call completed; both retries replay
  -h, --help         show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    'cancel-at': { type: 'string' },
    'step-delay': { type: 'string' },
    key: { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3105/mcp';
export const cancelAt = flags['cancel-at'] ?? 'batch 3';
export const stepDelayMs = intFlag('step-delay', flags['step-delay'], 100, 0, 10_000);
export const key = flags.key ?? `import-${randomBytes(4).toString('hex')}`;
export const expected = choiceFlag('expect', flags.expect, STORIES, 'rolled-back');
