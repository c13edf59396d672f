// The test command: every test file, or those given, run by `node --test` from bundles.
//
//   npm run test:e2e                                       every test file, six at a time
//   npm run test:e2e -- lessons/04-signal-into-io/lesson.test.ts --test-name-pattern=PGlite
//
// Arguments that end in .test.ts are test files; the rest go to `node --test`. Each test file is
// bundled with esbuild, with the test setup ahead of it (lessons/shared/quick-starts.ts says why);
// `node --test --import tsx FILE` runs any of them from source, the slower way.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ensurePgliteDump } from '../lessons/shared/pglite-start.ts';
import { testBundles } from '../lessons/shared/quick-starts.ts';

const root = join(import.meta.dirname, '..');
/** Every test file: lesson 05 and Postman (the two longest) first, so they do not start last and set the finishing time. */
function allTestFiles(): string[] {
  const under = (folder: string) =>
    readdirSync(join(root, folder))
      .filter((name) => name.endsWith('.test.ts'))
      .map((name) => `${folder}/${name}`);
  const lessons = readdirSync(join(root, 'lessons')).filter((name) => /^\d\d-/.test(name));
  const files = [
    ...under('scripts/reliability'),
    ...under('scripts'),
    ...lessons.flatMap((name) => under(`lessons/${name}`)),
    ...under('lessons/shared'),
  ];
  const first = (file: string) => (file.startsWith('lessons/05-') || file === 'scripts/postman.test.ts' ? 0 : 1);
  return files.sort((a, b) => first(a) - first(b));
}

export async function runTests(files: string[], flags: string[]): Promise<number> {
  // Made once here, not by every test file that needs them at the same moment on a fresh clone.
  const [bundles] = await Promise.all([testBundles(files.map((file) => resolve(root, file))), ensurePgliteDump()]);
  const child = spawn(
    process.execPath,
    ['--test', '--test-concurrency=6', '--test-reporter=spec', '--enable-source-maps', ...flags, ...bundles],
    { cwd: root, stdio: 'inherit' },
  );
  return new Promise((done) => child.once('close', (code) => done(code ?? 1)));
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const args = process.argv.slice(2);
  const given = args.filter((arg) => arg.endsWith('.test.ts'));
  const flags = args.filter((arg) => !arg.endsWith('.test.ts'));
  const files = given.length ? given : allTestFiles();
  process.exit(
    await runTests(
      files.map((file) => relative(root, resolve(root, file))),
      flags,
    ),
  );
}
