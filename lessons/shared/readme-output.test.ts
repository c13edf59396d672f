// The pair check on small made-up READMEs: no processes, so it costs nothing to run.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkReadmePair, normaliseOutput, type PairChecks } from './readme-output.ts';

const folder = mkdtempSync(join(tmpdir(), 'readme-pair-'));
after(() => rmSync(folder, { recursive: true, force: true }));

const A = 'c1b1ef12-fb9f-48c5-baa7-3635f84407fa';
const B = 'dac37bfb-ff1b-4101-9bfb-c66e6a758e96';

const server = (session: string, clock: (s: string) => string) => [
  `${clock('22:14:40.100')} +  0.004s server listening on http://127.0.0.1:3101/mcp`,
  `${clock('22:14:40.640')} +  0.540s server session ${session} started`,
  `${clock('22:14:40.680')} +  0.580s server tools/call #1: process_large_file sample.txt`,
  `${clock('22:14:41.305')} +  1.205s server notifications/cancelled for #1 (reason: "user changed their mind")`,
  `${clock('22:14:41.310')} +  1.210s server #1 replying: error -32800 "Request cancelled"`,
];
const client = (session: string, clock: (s: string) => string) => [
  `${clock('22:14:40.600')} +  0.003s client connecting to http://127.0.0.1:3101/mcp`,
  `${clock('22:14:40.670')} +  0.073s client session ${session}, protocol 2025-11-25`,
  `${clock('22:14:40.675')} +  0.078s client -> tools/call #1 process_large_file`,
  `${clock('22:14:41.300')} +  0.703s client -> notifications/cancelled { requestId: 1 }`,
  `${clock('22:14:41.320')} +  0.723s client <- error -32800 "Request cancelled"`,
];
const asIs = (time: string) => time;

const order: PairChecks = {
  order: [
    ['client', /-> tools\/call/, 'server', /tools\/call #1:/],
    ['client', /-> notifications\/cancelled/, 'server', /notifications\/cancelled for #1/],
    ['server', /replying: error/, 'client', /<- error/],
  ],
};

let n = 0;
/** A README holding the two blocks, and the path to it. */
function readme(serverLines: string[], clientLines: string[]) {
  const path = join(folder, `README-${++n}.md`);
  const block = (name: string, lines: string[]) =>
    `<!-- output: ${name} -->\n\n\`\`\`text\n${lines.join('\n')}\n\`\`\`\n`;
  writeFileSync(
    path,
    `# Made up\n\nTerminal 1:\n\n${block('server', serverLines)}\nTerminal 2:\n\n${block('client', clientLines)}`,
  );
  return path;
}

/** Runs fn with UPDATE_README set as asked, then restores it. */
function withUpdate<T>(update: boolean, fn: () => T): T {
  const before = process.env.UPDATE_README;
  if (update) process.env.UPDATE_README = '1';
  else delete process.env.UPDATE_README;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.UPDATE_README;
    else process.env.UPDATE_README = before;
  }
}

// This run's output: the server started ten minutes after the pair in the README was captured.
const later = (time: string) => time.replace(/^22:14/, '22:24');
const thisRun: [[string, string[]], [string, string[]]] = [
  ['server', server(B, later)],
  ['client', client(B, later)],
];

describe('checkReadmePair', () => {
  test('a pair from one run passes', () => {
    const path = readme(server(A, asIs), client(A, asIs));
    withUpdate(false, () => checkReadmePair(path, thisRun, [], order));
  });

  test('a pair whose blocks show different sessions fails, naming both', () => {
    const path = readme(server(A, asIs), client(B, asIs));
    assert.throws(
      () => withUpdate(false, () => checkReadmePair(path, thisRun, [], order)),
      (error: Error) => {
        assert.match(error.message, /blocks "server" and "client" come from two runs/);
        assert.match(error.message, /the server block's session c1b1ef12… is not the client block's dac37bfb…/);
        return true;
      },
    );
  });

  test('a pair whose clocks are from two runs fails, saying where', () => {
    const path = readme(server(A, later), client(A, asIs));
    assert.throws(
      () => withUpdate(false, () => checkReadmePair(path, thisRun, [], order)),
      /the client block ends at 22:14:41\.320 and the server block starts at 22:24:40\.100, 598\.8 s later/,
    );
  });

  test('blocks that are slices of one run may follow each other by up to gapMs', () => {
    const seconds = (by: number) => (time: string) =>
      `22:14:${String(Number(time.slice(6, 8)) + by).padStart(2, '0')}${time.slice(8)}`;
    // The client's block starts 1.3 s after the server's ends.
    const path = readme(server(A, asIs), client(A, seconds(2)));
    withUpdate(false, () => checkReadmePair(path, thisRun));
    assert.throws(() => withUpdate(false, () => checkReadmePair(path, thisRun, [], { gapMs: 1000 })), /1\.3 s later/);
  });

  test('a pair out of causal order fails, quoting both lines', () => {
    // Close enough in time to pass the window check, but the server reads the cancel before it is sent.
    const early = (time: string) => (time === '22:14:41.305' ? '22:14:41.101' : time);
    const path = readme(server(A, early), client(A, asIs));
    assert.throws(
      () => withUpdate(false, () => checkReadmePair(path, thisRun, [], order)),
      new RegExp(
        'the server block\'s "server notifications/cancelled for #1 .*" is at 22:14:41\\.101, before the client ' +
          'block\'s "client -> notifications/cancelled \\{ requestId: 1 \\}" at 22:14:41\\.300, which must come first',
      ),
    );
  });

  test('a run across midnight still reads in order', () => {
    // The client sends the cancel 2 ms before midnight, and the server reads it 3 ms after.
    const acrossMidnight = (time: string) => {
      const ms = (Number(time.slice(6, 8)) - 40) * 1000 + Number(time.slice(9)) - 1302;
      return new Date((ms + 86_400_000) % 86_400_000).toISOString().slice(11, 23);
    };
    const path = readme(server(A, acrossMidnight), client(A, acrossMidnight));
    assert.match(readFileSync(path, 'utf8'), /23:59:59\.998 .* -> notifications\/cancelled/);
    assert.match(readFileSync(path, 'utf8'), /00:00:00\.003 .* notifications\/cancelled for #1/);
    withUpdate(false, () => checkReadmePair(path, thisRun, [], order));
  });

  test('a block still the same as this run fails when the other is not', () => {
    const path = readme(server(A, asIs), client(A, asIs).slice(0, 4));
    assert.throws(
      () => withUpdate(false, () => checkReadmePair(path, thisRun, [], order)),
      /block "client" no longer matches the real output/,
    );
  });

  test('an order check naming a line this run does not print fails as a broken check', () => {
    const path = readme(server(A, asIs), client(A, asIs));
    assert.throws(
      () =>
        withUpdate(false, () =>
          checkReadmePair(path, thisRun, [], { order: [['client', /-> tasks\/cancel/, 'server', /tools\/call/]] }),
        ),
      /this run's own output fails the pair check \(fix the check\): the client block has no line matching/,
    );
  });

  test('UPDATE_README rewrites both blocks when only one differs, and nothing when both still match', () => {
    const path = readme(server(A, asIs), client(A, asIs).slice(0, 4));
    withUpdate(true, () => checkReadmePair(path, thisRun, [], order));
    const rewritten = readFileSync(path, 'utf8');
    assert.equal(
      rewritten,
      readFileSync(readme(...(thisRun.map(([, lines]) => lines) as [string[], string[]])), 'utf8'),
    );
    withUpdate(true, () =>
      checkReadmePair(
        path,
        [
          ['server', server(A, asIs)],
          ['client', client(A, asIs)],
        ],
        [],
        order,
      ),
    );
    assert.equal(readFileSync(path, 'utf8'), rewritten, 'only timings and ids moved: the README keeps its run');
  });

  test('UPDATE_README rewrites a pair from two runs even when each block matches on its own', () => {
    const path = readme(server(A, asIs), client(B, later));
    withUpdate(true, () => checkReadmePair(path, thisRun, [], order));
    withUpdate(false, () => checkReadmePair(path, thisRun, [], order));
    assert.match(readFileSync(path, 'utf8'), /22:24:40\.100 .*\n(.*\n)*.*22:24:40\.600/);
  });

  test('other ids, given by what they are, must match too', () => {
    const withTask = (task: string) => (lines: string[]) => lines.map((line) => `${line} task ${task}`);
    const [t1, t2] = ['bb09f8a26d119370c546bed7d921504e', '327f37065b1af0d81561bbb01daf1e33'];
    const path = readme(withTask(t1)(server(A, asIs)), withTask(t2)(client(A, asIs)));
    const run: typeof thisRun = [
      ['server', withTask(t1)(server(B, later))],
      ['client', withTask(t1)(client(B, later))],
    ];
    const taskIds = [[/[0-9a-f]{32}/g, 'TASK']] as [RegExp, string][];
    assert.throws(
      () => withUpdate(false, () => checkReadmePair(path, run, taskIds, { ids: { task: /\b[0-9a-f]{32}\b/ } })),
      /the server block's task bb09f8a2… is not the client block's 327f3706…/,
    );
  });
});

describe('normaliseOutput', () => {
  test('collapses repeated lines, and leaves out a line a normaliser empties', () => {
    const lines = ['a chunk 1/3', 'a chunk 2/3', 'cancel', 'a chunk 3/3', 'stopped', ''];
    const chunks: [RegExp, string] = [/chunk \d+\/3/, 'chunk N/3'];
    assert.deepEqual(normaliseOutput(lines, [chunks]), ['a chunk N/3', 'cancel', 'a chunk N/3', 'stopped', '']);
    assert.deepEqual(normaliseOutput(lines, [chunks, [/^a chunk N\/3$/, '']]), ['cancel', 'stopped', '']);
  });
});
