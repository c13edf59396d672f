// Lesson 11 client's flags, read when client.ts imports this: its help text, and the values.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const OUTCOMES = ['stopped', 'ran-on', 'completed'] as const;
export type Outcome = (typeof OUTCOMES)[number] | 'failed';
export const CANCEL_WITH = ['tasks/cancel', 'notification'] as const;

const HELP = `
Lesson 11 client: run process_large_file as a task, cancel it with tasks/cancel, check what stopped.

Usage: npx tsx lessons/11-tasks/client.ts [options]

  --url URL            the server's MCP endpoint (default: $MCP_URL or http://127.0.0.1:3111/mcp)
  --cancel-after MS    cancel this long after the task was created (default: 1200)
  --no-cancel          let the task complete, get its result, then try to cancel it
  --cancel-with HOW    tasks/cancel (default), or notification: notifications/cancelled naming the
                       tools/call's request id, which the spec says not to use for a task
  --chunks N           chunks to split the file into (default: 20)
  --chunk-delay MS     the server's pause after each chunk (default: 250)
  --expect OUTCOME     the outcome that makes this exit 0 (default: stopped; completed with
                       --no-cancel or --cancel-with notification)
                         stopped    the task is cancelled and its work stopped within a chunk
                         ran-on     the task is cancelled, but its work ran on after the cancel
                         completed  the task completed and tasks/result returned its result
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    url: { type: 'string' },
    'cancel-after': { type: 'string' },
    'no-cancel': { type: 'boolean' },
    'cancel-with': { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
export const url = flags.url ?? process.env.MCP_URL ?? 'http://127.0.0.1:3111/mcp';
export const cancel = !flags['no-cancel'];
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 1200);
export const cancelWith = choiceFlag('cancel-with', flags['cancel-with'], CANCEL_WITH, 'tasks/cancel');
export const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 60_000);
export const byTasksCancel = cancel && cancelWith === 'tasks/cancel';
export const expected = choiceFlag('expect', flags.expect, OUTCOMES, byTasksCancel ? 'stopped' : 'completed');
