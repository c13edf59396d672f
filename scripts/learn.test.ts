// The exercises (`npm run learn`): each one as given fails, at the check its README names first;
// with the lesson's own file in its place it passes; the diff between them is as small as the
// README says; and the command itself says where you stand, gives hints one at a time, and keeps
// its progress in the file it names.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { exercises as list } from '../lessons/exercises.ts';
import { startLessonServer, startTs } from '../lessons/shared/processes.ts';
import { asShipped } from '../lessons/shared/testing.ts';
import { missingServices } from '../lessons/shared/throwaway-services.ts';
import { scaled } from '../lessons/shared/wait.ts';

const root = join(import.meta.dirname, '..');
const lessons = readdirSync(join(root, 'lessons')).filter((name) => /^\d\d-/.test(name));
const exercises = list.map((exercise) => ({ exercise, folder: exercise.file.split('/')[1]! }));

/** True when git says the file is as committed: a learner's work in progress is not the exercise as given. */
const asGiven = asShipped;

/** Lines that differ between exercise and solution, indentation aside. */
function diffSize(a: string, b: string): number {
  const diff = spawnSync('diff', ['-w', join(root, a), join(root, b)], { encoding: 'utf8' });
  return diff.stdout.split('\n').filter((line) => /^[<>]/.test(line)).length;
}

const progressFolder = mkdtempSync(join(tmpdir(), 'learn-progress-'));
after(() => rmSync(progressFolder, { recursive: true, force: true }));
const learn = (args: string[], progress: string) =>
  startTs(join(root, 'scripts/learn.ts'), args, { env: { LEARN_PROGRESS_FILE: join(progressFolder, progress) } });

// One check at a time: each times a real cancel against a real server, and 24 of them at once on
// two cores (beside the other test files) left calls finished before their cancel arrived.
describe('every exercise', { timeout: scaled(300_000) }, () => {
  test('every lesson with an exercise-check.ts is in lessons/exercises.ts, in order', () => {
    const withCheck = lessons.filter((folder) => existsSync(join(root, 'lessons', folder, 'exercise-check.ts')));
    assert.deepEqual(
      exercises.map((e) => e.folder),
      withCheck,
    );
    assert.equal(exercises[0]!.exercise.lesson, '01');
  });

  for (const { folder, exercise } of exercises) {
    // A check that needs Redis, say, skips without it, as its lesson's tests do (unless LESSONS_NEVER_SKIP).
    const missing = exercise.needs && missingServices(exercise.needs);
    if (missing && process.env.LESSONS_NEVER_SKIP) throw new Error(`LESSONS_NEVER_SKIP is set, but ${missing}`);
    const readme = readFileSync(join(root, 'lessons', folder, 'README.md'), 'utf8');
    const section = /## Exercise\n([\s\S]*?)(?=\n## |$)/.exec(readme)?.[1] ?? '';

    test(
      `${exercise.lesson}: as given it fails first where its README says`,
      { skip: missing || (!asGiven(exercise.file) && 'the exercise file is being worked on') },
      async () => {
        const findings = await exercise.check(join(root, exercise.file));
        const first = findings.find((finding) => !finding.ok);
        assert.ok(
          first,
          `the exercise as given passes every check: a check that cannot fail\n${JSON.stringify(findings, null, 2)}`,
        );
        const predicted = /fails first at \*\*(.+?)\*\*/.exec(section.replaceAll('\n', ' '))?.[1];
        assert.equal(first.check, predicted, JSON.stringify(findings, null, 2));
        assert.ok(first.seen.length > 0);
      },
    );

    test(`${exercise.lesson}: with the lesson's own file in its place it passes`, { skip: missing }, async () => {
      const findings = await exercise.check(join(root, exercise.solution));
      assert.deepEqual(
        findings.filter((finding) => !finding.ok),
        [],
        JSON.stringify(findings, null, 2),
      );
    });

    test(`${exercise.lesson}: the diff from exercise to solution is small, and the README gives its size`, () => {
      const size = diffSize(exercise.file, exercise.solution);
      assert.ok(size <= 40, `${size} lines differ`);
      const stated = /differs from it in (\d+) lines/.exec(section.replaceAll('\n', ' '))?.[1];
      assert.equal(Number(stated), size);
      assert.equal(exercise.hints.length >= 2, true);
    });
  }
});

describe('npm run learn', { timeout: scaled(60_000), concurrency: true }, () => {
  test(
    'says where you stand, and which is next',
    { skip: !exercises.every(({ exercise }) => asGiven(exercise.file)) && 'an exercise is being worked on' },
    async () => {
      const status = learn([], 'fresh.json');
      assert.equal(await status.exited, 0, status.output());
      for (const { exercise } of exercises)
        assert.ok(status.lines.includes(`---- ${exercise.lesson}  ${exercise.title}: not started`), status.output());
      assert.ok(status.lines.includes(`Next: 01, ${exercises[0]!.exercise.title}.`), status.output());
    },
  );

  test('checks one exercise, keeps the result, and the next look says where it failed', async () => {
    const { exercise } = exercises[0]!;
    const run = learn(['01'], 'checked.json');
    const code = await run.exited;
    const saved = JSON.parse(readFileSync(join(progressFolder, 'checked.json'), 'utf8'));
    // Exit 1 and "failing" for the exercise as given; for a learner's work, whichever it is, the two agree.
    assert.equal(saved['01'].result, code === 0 ? 'passing' : 'failing', run.output());
    if (asGiven(exercise.file)) assert.deepEqual([code, saved['01'].result], [1, 'failing']);
    const status = learn([], 'checked.json');
    assert.equal(await status.exited, 0);
    const line = status.lines.find((l) => l.includes(` 01  ${exercise.title}: `))!;
    assert.ok(
      saved['01'].result === 'passing'
        ? line.includes(': passing')
        : line.includes(`: failing at "${saved['01'].firstFailing}"`),
      line,
    );
  });

  test('--watch checks again when the file is saved', async () => {
    // A copy of the exercise that this test may save over, so the shipped one stays as given: in
    // node_modules/.cache, where the packages resolve and no static check looks; its imports absolute.
    const cache = join(root, 'node_modules/.cache/mcp-cancellation-lessons');
    mkdirSync(cache, { recursive: true });
    const folder = mkdtempSync(join(cache, 'learn-watch-'));
    const copy = (from: string) =>
      readFileSync(join(root, from), 'utf8').replace(
        /from '(\.\.?\/[^']+)'/g,
        (_, path: string) => `from '${join(root, 'lessons/01-cancel-by-id', path)}'`,
      );
    const file = join(folder, 'exercise-server.mts'); // .mts: ESM outside the package, as the lesson's files are in it
    writeFileSync(file, copy(exercises[0]!.exercise.file));
    const watching = learn(['01', '--watch', '--file', file], 'watch.json');
    try {
      await watching.waitForLine(/^FAIL stops within one chunk of the cancel/, scaled(30_000));
      await watching.waitForLine(/^watching .*save it to check again/, scaled(10_000));
      writeFileSync(file, copy(exercises[0]!.exercise.solution));
      await watching.waitForLine(/^Passes/, scaled(30_000));
    } finally {
      await watching.stop();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('gives hints one at a time, and says when there are no more', async () => {
    const { exercise } = exercises[0]!;
    const lines = [];
    for (let i = 0; i <= exercise.hints.length; i++) {
      const hint = learn(['01', '--hint'], 'hints.json');
      assert.equal(await hint.exited, 0, hint.output());
      lines.push(hint.lines.filter((l) => l.startsWith('hint ')).length);
    }
    assert.deepEqual(lines, [...exercise.hints.map((_, i) => i + 1), exercise.hints.length]);
  });

  test('a wrong lesson or a flag without one is named, with what to do', async () => {
    const wrong = learn(['99'], 'errors.json');
    assert.equal(await wrong.exited, 2);
    assert.match(wrong.output(), /^no exercise 99; the exercises are 01/m);
    const bare = learn(['--hint'], 'errors.json');
    assert.equal(await bare.exited, 2);
    assert.match(bare.output(), /--hint, --watch and --file need a lesson, e.g. npm run learn -- 01 --hint/);
  });

  test(
    'two terminals: the lesson 01 client against the unsolved exercise hears nothing and exits 1',
    { skip: !asGiven(exercises[0]!.exercise.file) && 'the exercise file is being worked on' },
    async () => {
      const server = await startLessonServer(join(root, exercises[0]!.exercise.file));
      try {
        const client = startTs(join(root, 'lessons/01-cancel-by-id/client.ts'), [
          ...['--url', server.url, '--chunks', '20', '--chunk-delay', '100', '--cancel-after', '450', '--wait', '1000'],
        ]);
        assert.equal(await client.exited, 1, client.output());
        assert.match(client.output(), /observed: none, expected: error/);
      } finally {
        await server.stop();
      }
    },
  );
});
