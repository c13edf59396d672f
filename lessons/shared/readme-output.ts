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
//
// Two blocks showing one run from both ends (terminal 1, the server; terminal 2, the client) go
// through `checkReadmePair` instead, which rewrites both together and checks that the README's two
// blocks still come from one run: the same session id, and clock readings a reader can put in order.
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

/**
 * Output with run-to-run differences replaced, and repeated lines (the chunk ticks) collapsed. A
 * line that a normaliser empties is left out: a line that one run prints and another may not.
 */
export function normaliseOutput(lines: string[], extra: Normaliser[] = []): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const normal = [...normalisers, ...extra].reduce(
      (text, [pattern, replacement]) => text.replace(pattern, replacement),
      line.trimEnd(),
    );
    if (normal === '' && line.trim() !== '') continue;
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
    writeFileSync(readmePath, withBodies(readme, [[block, actual]]));
    return;
  }
  assert.deepEqual(shown, real, `${readmePath} block "${name}" ${STALE}`);
}

const STALE = 'no longer matches the real output; run npm run docs:update and review the diff';

/** The README with each block's body replaced by its lines, the last block first so offsets hold. */
function withBodies(readme: string, blocks: [ReturnType<typeof findBlock>, string[]][]) {
  return [...blocks]
    .sort(([a], [b]) => b.start - a.start)
    .reduce(
      (text, [block, lines]) =>
        text.slice(0, block.start) + lines.map((line) => `${block.indent}${line}\n`).join('') + text.slice(block.end),
      readme,
    );
}

/**
 * A line in one block that, in any single run, is printed no later than a line in the other:
 * `[block, pattern, block, pattern]`, each pattern naming the first line it matches. For example
 * `['client', /-> tools\/call/, 'server', /tools\/call #1:/]`: the client sends before the server reads.
 * Name only orders a message causes (one side prints before sending, the other after receiving):
 * this run's own output is checked too, so an order that only usually holds makes the test flaky.
 */
export type Before = [string, RegExp, string, RegExp];

export interface PairChecks {
  /** Lines the two blocks must show in this order. */
  order?: Before[];
  /** Ids both blocks show from one run, by what they are; session ids (UUIDs) are always checked. */
  ids?: Record<string, RegExp>;
  /** How long (ms) one block may start after the other ends: 2000 unless given. */
  gapMs?: number;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const CLOCK = /^\s*(\d\d):(\d\d):(\d\d)\.(\d{3}) /;
const DAY = 86_400_000;

/**
 * Two blocks showing one run from both ends (the server's terminal and the client's), checked as
 * `checkReadmeOutput` checks each, and as a pair: with UPDATE_README=1, when either differs both
 * are rewritten from this run, so the README never shows one block from an older run; otherwise
 * the README's blocks must share their ids and their clock readings must be one run's (close
 * together, and in the order `checks.order` gives). The same machine's clock stamps both processes'
 * lines, so the order holds to the millisecond.
 */
export function checkReadmePair(
  readmePath: string,
  pair: [[string, string[]], [string, string[]]],
  extra: Normaliser[] = [],
  checks: PairChecks = {},
) {
  const readme = readFileSync(readmePath, 'utf8');
  const blocks = pair.map(([name, actual]) => ({ name, actual, found: findBlock(readme, name) }));
  const real = pairProblem(
    blocks.map(({ name, actual }) => [name, actual]),
    checks,
  );
  assert.equal(real, undefined, `${readmePath}: this run's own output fails the pair check (fix the check): ${real}`);
  const differs = blocks.filter(
    ({ actual, found }) => !isDeepStrictEqual(normaliseOutput(found.lines, extra), normaliseOutput(actual, extra)),
  );
  const shown = pairProblem(
    blocks.map(({ name, found }) => [name, found.lines]),
    checks,
  );
  if (process.env.UPDATE_README) {
    if (differs.length === 0 && shown === undefined) return; // only timings moved, and still one run's
    writeFileSync(
      readmePath,
      withBodies(
        readme,
        blocks.map(({ found, actual }) => [found, actual]),
      ),
    );
    return;
  }
  for (const { name, actual, found } of blocks) {
    assert.deepEqual(
      normaliseOutput(found.lines, extra),
      normaliseOutput(actual, extra),
      `${readmePath} block "${name}" ${STALE}`,
    );
  }
  assert.equal(
    shown,
    undefined,
    `${readmePath}: blocks "${pair[0][0]}" and "${pair[1][0]}" come from two runs: ${shown}; ` +
      'run npm run docs:update, which rewrites both from one run',
  );
}

/** Why two blocks' lines cannot be one run's, or undefined when they can. */
function pairProblem(blocks: [string, string[]][], checks: PairChecks = {}): string | undefined {
  const [[nameA, linesA], [nameB, linesB]] = blocks as [[string, string[]], [string, string[]]];
  for (const [what, pattern] of Object.entries({ session: UUID, ...checks.ids })) {
    const matches = (lines: string[]) =>
      new Set(
        lines.flatMap((line) =>
          [...line.matchAll(new RegExp(pattern.source, pattern.flags.replace('g', '') + 'g'))].map((m) => m[0]),
        ),
      );
    const [a, b] = [matches(linesA), matches(linesB)];
    if (a.size === 0 || b.size === 0) continue;
    const onlyA = [...a].find((id) => !b.has(id));
    const onlyB = [...b].find((id) => !a.has(id));
    if (onlyA && onlyB)
      return `the ${nameA} block's ${what} ${short(onlyA)} is not the ${nameB} block's ${short(onlyB)}`;
    if (onlyA) return `the ${nameA} block shows ${what} ${short(onlyA)}, which the ${nameB} block does not`;
    if (onlyB) return `the ${nameB} block shows ${what} ${short(onlyB)}, which the ${nameA} block does not`;
  }

  // Clock readings as ms from the first one shown, so a run across midnight still reads in order.
  const reference = clockOf([...linesA, ...linesB].find((line) => CLOCK.test(line)) ?? '');
  if (reference === undefined) return undefined;
  const at = (line: string) => {
    const since = (((clockOf(line)! - reference) % DAY) + DAY) % DAY;
    return since >= DAY / 2 ? since - DAY : since;
  };
  const spans = [linesA, linesB].map((lines) => {
    const times = lines.filter((line) => CLOCK.test(line)).map(at);
    return times.length ? { from: Math.min(...times), to: Math.max(...times) } : undefined;
  });
  const [spanA, spanB] = spans;
  const gap = checks.gapMs ?? 2000;
  if (spanA && spanB) {
    const [first, second, firstName, secondName] =
      spanA.from <= spanB.from ? [spanA, spanB, nameA, nameB] : [spanB, spanA, nameB, nameA];
    if (second.from - first.to > gap) {
      return (
        `the ${firstName} block ends at ${clockAt(first.to, reference)} and the ${secondName} block starts at ` +
        `${clockAt(second.from, reference)}, ${((second.from - first.to) / 1000).toFixed(1)} s later`
      );
    }
  }

  const byName = new Map(blocks);
  const lineOf = (name: string, pattern: RegExp) => {
    const lines = byName.get(name);
    if (!lines) throw new Error(`an order check names block "${name}"; the pair is "${nameA}" and "${nameB}"`);
    const line = lines.find((l) => l.search(pattern) !== -1);
    if (line === undefined) return { missing: `the ${name} block has no line matching ${pattern}` };
    if (!CLOCK.test(line)) return { missing: `the ${name} block's line matching ${pattern} has no clock reading` };
    return { line, time: at(line) };
  };
  for (const [firstName, firstPattern, thenName, thenPattern] of checks.order ?? []) {
    const first = lineOf(firstName, firstPattern);
    const then = lineOf(thenName, thenPattern);
    if ('missing' in first) return first.missing;
    if ('missing' in then) return then.missing;
    if (then.time < first.time) {
      return (
        `the ${thenName} block's ${quote(then.line)} is at ${clockAt(then.time, reference)}, before the ` +
        `${firstName} block's ${quote(first.line)} at ${clockAt(first.time, reference)}, which must come first`
      );
    }
  }
  return undefined;
}

function clockOf(line: string) {
  const m = CLOCK.exec(line);
  if (!m) return undefined;
  const [h, min, s, ms] = m.slice(1).map(Number) as [number, number, number, number];
  return ((h * 60 + min) * 60 + s) * 1000 + ms;
}

function clockAt(since: number, reference: number) {
  const t = (((reference + since) % DAY) + DAY) % DAY;
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(Math.floor(t / 3_600_000))}:${pad(Math.floor(t / 60_000) % 60)}:${pad(Math.floor(t / 1000) % 60)}.${pad(t % 1000, 3)}`;
}

const short = (id: string) => (id.length > 16 ? `${id.slice(0, 8)}…` : id);

/** A line as a reader sees it, without its clock prefix, shortened. */
function quote(line: string) {
  const text = line.replace(/^\s*\d\d:\d\d:\d\d\.\d{3} \+\s*[\d.]+s /, '');
  return `"${text.length > 60 ? `${text.slice(0, 59)}…` : text}"`;
}
