// Lesson 06 server's flags, read when server.ts imports this: its help text, and the values.
import { intFlag, parseFlags } from '../shared/cli.ts';

export const DEFAULT_PORT = 3106;

const HELP = `
Lesson 06 server: process_large_file with a server-side deadline, progress, and cancel.

Usage: npx tsx lessons/06-timeouts/server.ts [options]

  --port N               port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --deadline-ms N        the longest any call may run here; a call's own deadlineMs can only
                         shorten it (default: 30000)
  --progress-every-ms N  at most one notifications/progress per this many ms, per call (default: 200)
  -h, --help             show this help
`;

const flags = parseFlags(
  { port: { type: 'string' }, 'deadline-ms': { type: 'string' }, 'progress-every-ms': { type: 'string' } },
  HELP,
);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const serverDeadlineMs = intFlag('deadline-ms', flags['deadline-ms'], 30_000, 1, 3_600_000);
export const progressEveryMs = intFlag('progress-every-ms', flags['progress-every-ms'], 200, 1);
