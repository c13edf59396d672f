// Lesson 13 clients' flags (client.ts, SDK 1.x, and client-v2.ts, SDK 2.x): help text and values.
import { basename } from 'node:path';
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';

export const ERAS = ['auto', 'legacy', '2026-07-28'] as const;
export const OUTCOMES = ['stopped', 'completed', 'ran-on'] as const;
const me = basename(process.argv[1] ?? 'client.ts').replace(/\.[jt]s$/, '');

const HELP = `
Lesson 13 ${me}: spawn the server over stdio, call process_large_file, cancel it, and ask the
server over the same stdio what it stopped and closed.

Usage: npx tsx lessons/13-stdio/${me}.ts [options]

  --cancel-after MS       abort the call this long after sending it (default: 1200): the SDK
                          writes notifications/cancelled to the server's stdin
  --no-cancel             let the call run to completion
  --close-stdin-after MS  do not cancel: end the server's stdin this long after the call, and
                          watch what the server does (its signal, its file, its exit)
  --chunks N              chunks to split the file into (default: 20)
  --chunk-delay MS        the server's pause after each chunk (default: 250)
  --server FILE           client.ts only: the server to spawn, in this folder (default:
                          server.ts; exercise-server.ts is the exercise, SDK 1.x's own stdin)
  --era ERA               client-v2.ts only: version negotiation, auto (default), legacy or
                          2026-07-28 (2.x probes on a short-lived second server process first)
  --reason TEXT           the abort reason (default: "user changed their mind")
  --expect OUTCOME        what makes this exit 0 (default: completed with --no-cancel, else
                          stopped)
                            stopped    the handler stopped early and closed its file
                            completed  the handler ran to the end
                            ran-on     stdin closed, yet the handler ran to the end
                                       (exercise-server.ts: SDK 1.x does not watch stdin)
  -h, --help              show this help
`;

const flags = parseFlags(
  {
    'cancel-after': { type: 'string' },
    'no-cancel': { type: 'boolean' },
    'close-stdin-after': { type: 'string' },
    chunks: { type: 'string' },
    'chunk-delay': { type: 'string' },
    reason: { type: 'string' },
    era: { type: 'string' },
    server: { type: 'string' },
    expect: { type: 'string' },
  },
  HELP,
);
export const closeStdinAfterMs =
  flags['close-stdin-after'] === undefined ? undefined : intFlag('close-stdin-after', flags['close-stdin-after'], 0);
export const cancel = !flags['no-cancel'] && closeStdinAfterMs === undefined;
export const cancelAfterMs = intFlag('cancel-after', flags['cancel-after'], 1200);
export const chunks = intFlag('chunks', flags.chunks, 20, 1, 10_000);
export const chunkDelayMs = intFlag('chunk-delay', flags['chunk-delay'], 250, 0, 60_000);
export const reason = flags.reason ?? 'user changed their mind';
const fallback = cancel || closeStdinAfterMs !== undefined ? 'stopped' : 'completed';
export const expected = choiceFlag('expect', flags.expect, OUTCOMES, fallback);
export const era = choiceFlag('era', flags.era, ERAS, 'auto');
export const server = choiceFlag('server', flags.server, ['server.ts', 'exercise-server.ts'], 'server.ts');
