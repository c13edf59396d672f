// The child process of the `child` layer: a stand-in for a long-running command (a converter, a
// backup, a build). It prints one line per chunk, `delayMs` apart, then exits 0. It starts no
// processes of its own, so killing it leaves nothing behind.
//
//   node --import tsx lessons/04-signal-into-io/slow-child.ts CHUNKS DELAY_MS
import { setTimeout as sleep } from 'node:timers/promises';
import { upstreamLine } from './slow-upstream.ts';

const [chunks = 20, delayMs = 250] = process.argv.slice(2).map(Number);
for (let i = 1; i <= chunks; i++) {
  process.stdout.write(upstreamLine(i, chunks));
  if (i < chunks) await sleep(delayMs);
}
