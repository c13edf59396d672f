// The child process of the `child` layer: a stand-in for a long-running command (a converter, a
// backup, a build). It prints one line per chunk, `delayMs` apart, then exits 0. It starts no
// processes of its own, so killing it leaves nothing behind. Plain JavaScript, so it starts in
// milliseconds, like the command it stands in for (a TypeScript child would first load a compiler).
//
//   node lessons/04-signal-into-io/slow-child.mjs CHUNKS DELAY_MS
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

const [chunks = 20, delayMs = 250] = process.argv.slice(2).map(Number);
for (let i = 1; i <= chunks; i++) {
  // The same line the slow upstream sends: `chunk 3/20 <sha256 of "3">`.
  process.stdout.write(`chunk ${i}/${chunks} ${createHash('sha256').update(String(i)).digest('hex')}\n`);
  if (i < chunks) await sleep(delayMs);
}
