// Keeps the output a README shows equal to what the code really prints.
//
// A README marks each output block with a comment naming it:
//
//   <!-- output: client -->
//   ```text
//   ...
//   ```
//
// A test runs the code, then calls `checkReadmeOutput`, which compares the block with the real
// output after normalising what changes from run to run (clock times, ports, session ids,
// latencies, how many chunks fit before the cancel). With UPDATE_README=1 it rewrites a block
// that differs instead: `npm run docs:update`.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';

const normalisers: Normaliser[] = [
  [/^\d\d:\d\d:\d\d\.\d{3} \+\s*\d+\.\d{3}s /, 'HH:MM:SS.mmm +S.SSSs '],
  [/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<session-id>'],
  [/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT'],
  [/\b\d+(\.\d+)? ms\b/g, 'N ms'],
  [/ in \d+\.\d s$/, ' in N s'],
  [/"(chunksDone|chunksDoneWhenCancelArrived|cancelReceivedAtMs|stoppedAtMs|cancelToStopMs)":[\d.]+/g, '"$1":N'],
  [/chunk \d+\//g, 'chunk N/'],
  [/after chunk \d+/g, 'after chunk N'],
  [/after \d+ of (\d+) chunks/g, 'after N of $1 chunks'],
];

/** A pattern that changes from run to run, and what to show instead. */
export type Normaliser = [RegExp, string];

/** Output with run-to-run differences replaced, and repeated lines (the chunk ticks) collapsed. */
export function normaliseOutput(lines: string[], extra: Normaliser[] = []): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const normal = [...normalisers, ...extra].reduce(
      (text, [pattern, replacement]) => text.replace(pattern, replacement),
      line.trimEnd(),
    );
    if (out.at(-1) !== normal) out.push(normal);
  }
  return out;
}

function findBlock(readme: string, name: string) {
  const marker = `<!-- output: ${name} -->`;
  const at = readme.indexOf(marker);
  assert.notEqual(at, -1, `the README has no block marked ${marker}`);
  // The fence may be indented (a block inside a list item); its lines carry the same indent.
  const fence = /^( *)```text\n/m.exec(readme.slice(at));
  assert.ok(fence, `no \`\`\`text block after ${marker}`);
  const indent = fence[1]!;
  const start = at + fence.index + fence[0].length;
  const close = readme.indexOf(`${indent}\`\`\``, start);
  assert.notEqual(close, -1, `the \`\`\`text block after ${marker} is not closed`);
  const body = readme.slice(start, close);
  const lines =
    body === ''
      ? []
      : body
          .replace(/\n$/, '')
          .split('\n')
          .map((line) => line.slice(indent.length));
  return { start, end: close, indent, lines };
}

/** `extra` adds the lesson's own run-to-run differences to the shared ones. */
export function checkReadmeOutput(readmePath: string, name: string, actual: string[], extra: Normaliser[] = []) {
  const readme = readFileSync(readmePath, 'utf8');
  const block = findBlock(readme, name);
  const [shown, real] = [normaliseOutput(block.lines, extra), normaliseOutput(actual, extra)];
  if (process.env.UPDATE_README) {
    if (isDeepStrictEqual(shown, real)) return; // keep the README as it is: only timings moved
    const body = actual.map((line) => `${block.indent}${line}\n`).join('');
    writeFileSync(readmePath, readme.slice(0, block.start) + body + readme.slice(block.end));
    return;
  }
  assert.deepEqual(
    shown,
    real,
    `${readmePath} block "${name}" no longer matches the real output; run npm run docs:update and review the diff`,
  );
}
