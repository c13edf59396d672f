// Lesson 08 server's flags, read when server.ts imports this: its help text, and the values.
import { join, relative } from 'node:path';
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';
import { WHEN_FULL } from './live-view.ts';

export const DEFAULT_PORT = 3108;

const HELP = `
Lesson 08 server: export_log, a tool with far more output than a slow client reads, in bounded memory.

Usage: npx tsx lessons/08-backpressure/server.ts [options]

  --port N             port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --naive              the stock way: send every batch of lines as soon as it is made; SDK 1.x queues
                       whatever the client has not read yet in the server's memory
  --when-full MODE     when the live view's queue is full because the client reads slowly (default: wait)
                         wait   wait for the client to read (lossless; the job runs at the reader's pace)
                         skip   leave lines out of the live view and say how many (the job runs at full speed)
  --queue-bytes N      the most lines, in bytes, waiting for a slow client (default: 262144)
  --data DIR           where outputs/ goes; its files are removed when the server starts
                       (default: lessons/08-backpressure/data)
  -h, --help           show this help
`;

const flags = parseFlags(
  {
    port: { type: 'string' },
    naive: { type: 'boolean' },
    'when-full': { type: 'string' },
    'queue-bytes': { type: 'string' },
    data: { type: 'string' },
  },
  HELP,
);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const naive = flags.naive ?? false;
export const whenFull = choiceFlag('when-full', flags['when-full'], WHEN_FULL, 'wait');
export const maxQueuedBytes = intFlag('queue-bytes', flags['queue-bytes'], 256 * 1024, 1024, 64 * 1024 * 1024);

export const outputFolder = join(flags.data ?? join(import.meta.dirname, 'data'), 'outputs');
export const outputLabel = relative(join(import.meta.dirname, '../..'), outputFolder); // shown in messages
