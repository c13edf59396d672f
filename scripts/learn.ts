// `npm run learn`: the exercises, where you stand, and a check of your work.
//
//   npm run learn                      each exercise: not started, failing (and where), or passing; and what is next
//   npm run learn -- 01                check exercise 01: your server, run for real, proved the way the lesson's test proves it
//   npm run learn -- 01 --watch        check again each time you save the file
//   npm run learn -- 01 --hint         the next hint, one at a time
//   npm run learn -- 01 --file F       check another file in the exercise's place (the lesson's own server.ts passes)
//
// Progress (results, hints seen) is kept in .learn/progress.json, outside git.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import chalk from 'chalk';
import { exercises } from '../lessons/exercises.ts';
import type { Exercise, Finding } from '../lessons/shared/exercise-kit.ts';
import { parseFlags } from '../lessons/shared/cli.ts';

const root = join(import.meta.dirname, '..');
const HELP = `
The exercises: a lesson's story with its point taken out, for you to put back.

Usage: npm run learn [-- LESSON] [options]

  (no lesson)      where you stand on each exercise, and which is next
  LESSON           check that exercise, e.g. 01
  --watch          check again each time the exercise file is saved (Ctrl-C ends)
  --hint           show the next hint for LESSON, one at a time
  --file FILE      check FILE in the exercise's place, e.g. the lesson's own server.ts
  -h, --help       show this help
`;

// The lesson is the one argument that is not a flag: take it out before the flags are read.
const lessonAt = process.argv.findIndex(
  (arg, i) => i > 1 && /^\d{1,2}$/.test(arg) && !process.argv[i - 1]!.startsWith('--file'),
);
const lessonArg = lessonAt === -1 ? undefined : process.argv.splice(lessonAt, 1)[0];
const flags = parseFlags({ watch: { type: 'boolean' }, hint: { type: 'boolean' }, file: { type: 'string' } }, HELP);
const fancy = process.stdout.isTTY === true;
const mark = (ok: boolean) => (fancy ? (ok ? chalk.green('✔') : chalk.red('✖')) : ok ? 'PASS' : 'FAIL');

// --- the exercises, and what you have done -----------------------------------------------------

interface Progress {
  [lesson: string]: { result?: 'passing' | 'failing'; firstFailing?: string; checkedHash?: string; hintsSeen?: number };
}
const progressFile = process.env.LEARN_PROGRESS_FILE ?? join(root, '.learn', 'progress.json');

function readProgress(): Progress {
  try {
    return JSON.parse(readFileSync(progressFile, 'utf8')) as Progress;
  } catch {
    return {};
  }
}

function saveProgress(progress: Progress): void {
  mkdirSync(join(progressFile, '..'), { recursive: true });
  writeFileSync(`${progressFile}.${process.pid}`, `${JSON.stringify(progress, null, 2)}\n`);
  renameSync(`${progressFile}.${process.pid}`, progressFile);
}

const hashOf = (file: string) =>
  createHash('sha256')
    .update(readFileSync(join(root, file)))
    .digest('hex');

/** True when the file is as the repository ships it (git says it is unmodified). */
function untouched(file: string): boolean {
  const diff = spawnSync('git', ['diff', '--quiet', 'HEAD', '--', file], { cwd: root });
  return diff.status === 0;
}

function standing(exercise: Exercise, progress: Progress): string {
  const mine = progress[exercise.lesson];
  const changed = mine?.checkedHash !== undefined && mine.checkedHash !== hashOf(exercise.file);
  if (!mine?.result) return untouched(exercise.file) ? 'not started' : 'started, not checked yet';
  const was = mine.result === 'passing' ? 'passing' : `failing at "${mine.firstFailing}"`;
  return changed ? `${was} (changed since: check again)` : was;
}

// --- commands ----------------------------------------------------------------------------------

function showStanding(exercises: Exercise[]): void {
  const progress = readProgress();
  console.log(fancy ? chalk.bold('Exercises') : 'Exercises');
  for (const exercise of exercises) {
    const where = standing(exercise, progress);
    const symbol = where.startsWith('passing')
      ? mark(true)
      : where === 'not started'
        ? fancy
          ? chalk.dim('·')
          : '----'
        : mark(false);
    console.log(`${symbol} ${exercise.lesson}  ${exercise.title}: ${where}`);
  }
  const next = exercises.find((exercise) => progress[exercise.lesson]?.result !== 'passing');
  if (!next) {
    console.log('\nEvery exercise passes.');
    return;
  }
  console.log(`\nNext: ${next.lesson}, ${next.title}.`);
  console.log(`  ${next.asks}`);
  console.log(`  Work in ${next.file}, then check it: npm run learn -- ${next.lesson}`);
}

function showHint(exercise: Exercise): void {
  const progress = readProgress();
  const mine = (progress[exercise.lesson] ??= {});
  const seen = Math.min((mine.hintsSeen ?? 0) + 1, exercise.hints.length);
  for (let i = 0; i < seen; i++) console.log(`hint ${i + 1} of ${exercise.hints.length}: ${exercise.hints[i]}`);
  if (seen === exercise.hints.length)
    console.log("That is every hint. The lesson's own file is the solution: " + exercise.solution);
  mine.hintsSeen = seen;
  saveProgress(progress);
}

async function check(exercise: Exercise, file: string): Promise<boolean> {
  const shown = relative(root, file);
  console.log(`checking ${shown} (exercise ${exercise.lesson}: ${exercise.title})`);
  const started = performance.now();
  const findings: Finding[] = await exercise.check(file);
  for (const finding of findings) {
    console.log(`${mark(finding.ok)} ${finding.check}`);
    if (!finding.ok) console.log(`    ${finding.seen.replaceAll('\n', '\n    ')}`);
  }
  const failing = findings.find((finding) => !finding.ok);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (file === resolve(root, exercise.file)) {
    const progress = readProgress();
    progress[exercise.lesson] = {
      ...progress[exercise.lesson],
      result: failing ? 'failing' : 'passing',
      firstFailing: failing?.check,
      checkedHash: hashOf(exercise.file),
    };
    saveProgress(progress);
  }
  if (failing) {
    console.log(`\nNot yet (${seconds} s). ${exercise.asks}`);
    console.log(`A hint: npm run learn -- ${exercise.lesson} --hint`);
  } else {
    console.log(`\nPasses (${seconds} s).`);
  }
  return !failing;
}

// --- main --------------------------------------------------------------------------------------

if (!lessonArg) {
  if (flags.hint || flags.watch || flags.file) {
    console.error(`--hint, --watch and --file need a lesson, e.g. npm run learn -- 01 --hint`);
    process.exit(2);
  }
  showStanding(exercises);
  process.exit(0);
}
const exercise = exercises.find((candidate) => candidate.lesson === lessonArg.padStart(2, '0'));
if (!exercise) {
  console.error(`no exercise ${lessonArg}; the exercises are ${exercises.map((e) => e.lesson).join(', ')}`);
  process.exit(2);
}
if (flags.hint) {
  showHint(exercise);
  process.exit(0);
}
const file = resolve(flags.file ?? join(root, exercise.file));
if (!existsSync(file)) {
  console.error(`no such file: ${flags.file}`);
  process.exit(2);
}
if (!flags.watch) process.exit((await check(exercise, file)) ? 0 : 1);

// Watch: check once now, then again after each save (editors write a file in bursts: wait for quiet).
const watching = () => console.log(`\nwatching ${relative(root, file)}: save it to check again, Ctrl-C to stop`);
let running: Promise<unknown> = check(exercise, file).then(watching);
let timer: NodeJS.Timeout | undefined;
watch(file, () => {
  clearTimeout(timer);
  timer = setTimeout(() => {
    running = running.then(async () => {
      console.log('');
      await check(exercise, file);
      watching();
    });
  }, 200);
});
