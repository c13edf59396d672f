// Lesson 11 server's flags, read when server.ts imports this: its help text, and the values.
import { intFlag, parseFlags } from '../shared/cli.ts';

export const DEFAULT_PORT = 3111;

const HELP = `
Lesson 11 server: process_large_file as a task; tasks/cancel stops its work.

Usage: npx tsx lessons/11-tasks/server.ts [options]

  --port N            port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --poll-interval MS  the pollInterval the server suggests in each task (default: 250)
  --unwired           the SDK's stock InMemoryTaskStore, and the work watches the tools/call's
                      extra.signal: tasks/cancel marks the task cancelled, the work runs on anyway
  --task-store F      AbortingTaskStore from file F, in task-store.ts's place (the exercise:
                      exercise-task-store.ts)
  -h, --help          show this help
`;

const flags = parseFlags(
  {
    port: { type: 'string' },
    'poll-interval': { type: 'string' },
    unwired: { type: 'boolean' },
    'task-store': { type: 'string' },
  },
  HELP,
);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const pollInterval = intFlag('poll-interval', flags['poll-interval'], 250, 10, 60_000);
export const wired = !flags.unwired;
export const taskStoreFile = flags['task-store'];
