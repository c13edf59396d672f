// Lesson 09 server's flags, read when server.ts imports this: its help text, and the values.
import { join, relative } from 'node:path';
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';
import { SHUTDOWN_GRACE_MS } from './shutdown.ts';

export const DEFAULT_PORT = 3109;
export const CANCEL_ANSWERS = ['error', 'close-stream', 'extra-close-stream', 'none'] as const;
export type CancelAnswer = (typeof CANCEL_ANSWERS)[number];

const HELP = `
Lesson 09 server: disconnects, the leaking stream, and a graceful shutdown.

Usage: npx tsx lessons/09-disconnects-and-shutdown/server.ts [options]

  --port N                  port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --on-cancel WAY           what the server does with a cancelled request's response stream (default: error)
                              error               reply -32800 "Request cancelled": the SDK then closes the stream
                              close-stream        transport.closeSSEStream(requestId): closes it, sends nothing
                              extra-close-stream  extra.closeSSEStream?.(): undefined without an event store
                              none                nothing, the SDK 1.x default: the stream stays open
  --disconnect-means-cancel stop a handler when its response stream closes before its reply
                            (opt-in: the 2025-11-25 spec says a disconnect SHOULD NOT be read as a cancel)
  --keep-alive-ms N         interval of the SDK's SSE keep-alive comments (default: 15000)
  --shutdown-deadline-ms N  on SIGINT/SIGTERM, how long running calls get to clean up (default: ${SHUTDOWN_GRACE_MS})
  --shutdown F              the shutdown from file F, in shutdown.ts's place (the exercise: exercise-shutdown.ts)
  --data DIR                the data folder: sample.txt and scratch/ (default: lessons/09-disconnects-and-shutdown/data)
  -h, --help                show this help
`;

const flags = parseFlags(
  {
    port: { type: 'string' },
    'on-cancel': { type: 'string' },
    'disconnect-means-cancel': { type: 'boolean' },
    'keep-alive-ms': { type: 'string' },
    'shutdown-deadline-ms': { type: 'string' },
    data: { type: 'string' },
    shutdown: { type: 'string' },
  },
  HELP,
);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const onCancel = choiceFlag('on-cancel', flags['on-cancel'], CANCEL_ANSWERS, 'error');
export const disconnectMeansCancel = flags['disconnect-means-cancel'] ?? false;
export const keepAliveMs = intFlag('keep-alive-ms', flags['keep-alive-ms'], 15_000, 1);
export const shutdownDeadlineMs = intFlag('shutdown-deadline-ms', flags['shutdown-deadline-ms'], SHUTDOWN_GRACE_MS, 1);

export const shutdownFile = flags.shutdown;

export const dataFolder = flags.data ?? join(import.meta.dirname, 'data');
export const dataLabel = relative(join(import.meta.dirname, '../..'), dataFolder); // shown in messages, not the absolute path
export const scratchFolder = join(dataFolder, 'scratch');
