// Lesson 06 client's flags, read when client.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const SCENARIOS = ['deadline', 'cancel', 'timeout', 'reset-on-progress', 'max-total', 'total-cap'] as const;
export type Scenario = (typeof SCENARIOS)[number];
// Outcomes other than the one a scenario is named for, each with the scenario it goes with.
const OUTCOMES = { 'as-named': undefined, 'server-deadline': 'deadline', 'timed-out': 'reset-on-progress' } as const;

const HELP = `
Lesson 06 client: a long process_large_file call, stopped by a deadline, a cancel or a timeout.

Usage: npx tsx lessons/06-timeouts/client.ts [options]

  --url URL          the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3106/mcp)
  --scenario NAME    run one scenario (default: all of them, in this order)
                       deadline           the server stops the call at deadlineMs and answers a tool error
                       cancel             the client aborts the call; the server stops and answers -32800
                       timeout            callTool's timeout passes; the SDK cancels the call
                       reset-on-progress  progress keeps a call longer than its timeout alive
                       max-total          what maxTotalTimeout really does in SDK 1.x (upstream #2695)
                       total-cap          a total cap that holds: your own AbortController and timer
  --chunks N         chunks per call (default: 20; max-total uses 30 so the job outlives the SDK's timers)
  --chunk-delay MS   the server's pause after each chunk (default: 100)
  --deadline MS      the call's deadlineMs in "deadline" (default: 500)
  --cancel-after MS  when "cancel" aborts (default: 500)
  --timeout MS       callTool's timeout, or idle timeout (default: 500)
  --max-total MS     maxTotalTimeout in "max-total", the cap in "total-cap" (default: 1000)
  --expect OUTCOME   the outcome that makes this exit 0 (default: as-named, what each scenario is named for)
                       server-deadline  with --scenario deadline: stopped sooner, by a server's shorter --deadline-ms
                       timed-out        with --scenario reset-on-progress: no progress in time (a server run with
                                        --progress-every-ms above --timeout), so the call timed out
  -h, --help         show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    scenario: { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    deadline: { type: 'string' },
    'cancel-after': { type: 'string' },
    timeout: { type: 'string' },
    'max-total': { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3106/mcp';
/** The one scenario to run, or undefined for all of them. */
export const only =
  flags.scenario === undefined ? undefined : choiceFlag('scenario', flags.scenario, SCENARIOS, 'deadline');
export const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 100, 0, 60_000);
export const deadlineMs = intFlag('deadline', flags.deadline, 500, 1);
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 500);
export const timeoutMs = intFlag('timeout', flags.timeout, 500, 1);
export const maxTotalMs = intFlag('max-total', flags['max-total'], 1000, 1);
export const expected = choiceFlag(
  'expect',
  flags.expect,
  Object.keys(OUTCOMES) as (keyof typeof OUTCOMES)[],
  'as-named',
);
const expectedWith = OUTCOMES[expected];
if (expectedWith !== undefined && only !== expectedWith) {
  console.error(`--expect ${expected} goes with --scenario ${expectedWith}`);
  process.exit(2);
}
