// Lesson 10 client's flags, read when client.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const SCENARIOS = [
  'after-completion',
  'unknown-id',
  'second-cancel',
  'three-calls',
  'cross-session',
  'id-types',
  'initialize',
] as const;
export type Scenario = (typeof SCENARIOS)[number];
const OUTCOMES = ['as-named', 'too-late'] as const;

const HELP = `
Lesson 10 client: cancels that race with completion, repeat, or name the wrong id; and what the server did.

Usage: npx tsx lessons/10-races-and-ids/client.ts [options]

  --url URL          the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3110/mcp)
  --scenario NAME    run one scenario (default: all of them, in this order)
                       after-completion  cancel a call that already completed
                       unknown-id        cancel an id this session never sent
                       second-cancel     cancel the same call twice
                       three-calls       three calls at once; cancel the middle one
                       cross-session     two sessions, the same request id; cancel on one
                       id-types          initialize is #0; "N" does not cancel N
                       initialize        abort connect(): SDK 1.x sends a cancel for initialize
  --chunks N         chunks per long call (default: 10)
  --chunk-delay MS   the server's pause after each chunk (default: 100)
  --cancel-after MS  how long a call runs before the cancel (default: 300)
  --expect OUTCOME   the outcome that makes this exit 0 (default: as-named, what each scenario is named for)
                       too-late  with --scenario three-calls: the cancel came after every call completed
  -h, --help         show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    scenario: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    'cancel-after': { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3110/mcp';
export const only =
  flags.scenario === undefined ? undefined : choiceFlag('scenario', flags.scenario, SCENARIOS, 'after-completion');
export const chunks = intFlag('chunks', flags.chunks, 10, 2, 10_000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 100, 1, 60_000);
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 300);
export const expected = choiceFlag('expect', flags.expect, OUTCOMES, 'as-named');
if (expected === 'too-late' && only !== 'three-calls') {
  console.error('--expect too-late goes with --scenario three-calls');
  process.exit(2);
}
