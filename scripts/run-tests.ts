// The test command: every test file, or those given, run by `node --test` from bundles.
//
//   npm run test:e2e                                       every test file, six at a time
//   npm run test:e2e -- lessons/04-signal-into-io/lesson.test.ts --test-name-pattern=PGlite
//   npm test                                               the same, with --static-checks
//
// --static-checks runs package.json's typecheck, lint and format:check scripts one after another
// beside the tests (each is one process that uses one core; the tests leave the other one idle
// much of the time), prints what they said once the tests end, and fails the run if one failed.
//
// Arguments that end in .test.ts are test files; the rest go to `node --test`. Each test file is
// bundled with esbuild, with the test setup ahead of it (lessons/shared/quick-starts.ts says why);
// `node --test --import tsx FILE` runs any of them from source, the slower way.
import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ensurePgliteDump } from '../lessons/shared/pglite-start.ts';
import { QUICK_START_FLAGS, testBundles } from '../lessons/shared/quick-starts.ts';

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
    ...under('scripts/playground'),
    ...lessons.flatMap((name) => under(`lessons/${name}`)),
    ...under('lessons/shared'),
  ];
  const first = (file: string) => (file.startsWith('lessons/05-') || file === 'scripts/postman.test.ts' ? 0 : 1);
  return files.sort((a, b) => first(a) - first(b));
}

const STATIC_CHECKS = ['typecheck', 'lint', 'format:check'];

interface CheckResult {
  name: string;
  code: number;
  output: string;
  seconds: number;
}

/** Runs `script` from package.json as `npm run` would (its bin folder on PATH), without npm's own start-up. */
function runScript(name: string): Promise<CheckResult> {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts;
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` };
  // Their output is printed later, to wherever ours goes: in colour only if that is a terminal.
  if (process.stdout.isTTY) env.FORCE_COLOR = '1';
  else env.NO_COLOR = '1';
  const started = performance.now();
  const child = spawn('sh', ['-c', scripts[name]!], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise((done) => {
    child.once('error', (error) => done({ name, code: 1, output: String(error), seconds: 0 }));
    child.once('close', (code) =>
      done({ name, code: code ?? 1, output, seconds: (performance.now() - started) / 1000 }),
    );
  });
}

async function runStaticChecks(): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const name of STATIC_CHECKS) results.push(await runScript(name));
  return results;
}

function reportStaticChecks(results: CheckResult[]): boolean {
  console.log('\nstatic checks (run beside the tests):');
  for (const { name, code, output, seconds } of results) {
    console.log(
      `${code === 0 ? '✔' : '✖'} npm run ${name} (${seconds.toFixed(1)} s)${code === 0 ? '' : `: exit ${code}`}`,
    );
    if (code !== 0) console.log(output.trimEnd().replace(/^/gm, '    '));
  }
  return results.every((result) => result.code === 0);
}

/**
 * A folder in memory for the tests' temp files (os.tmpdir() in the test files and everything they
 * start), where the machine has one (/dev/shm): the data folders, databases and PostgreSQL
 * clusters the tests make and delete. On this machine's disk, unpacking one PGlite database (39 MB
 * in 972 files) takes 0.95 s of CPU; in memory, 0.04 s. Removed when the run ends, with anything a
 * test left in it. Undefined (the usual temp folder) where there is none, or when TMPDIR is set.
 */
function tempFolderInMemory(): string | undefined {
  if (process.env.TMPDIR) return undefined;
  try {
    if (!statSync('/dev/shm').isDirectory()) return undefined;
    accessSync('/dev/shm', constants.W_OK);
    const folder = mkdtempSync('/dev/shm/mcp-cancellation-lessons-tests-');
    chmodSync(folder, 0o1777); // as /tmp is: PostgreSQL, run as its own user by the tests, makes its folder here too
    return folder;
  } catch {
    return undefined;
  }
}

/** Runs the test files; `starting` is called as they start, after the bundles (which want every core) are made. */
export async function runTests(files: string[], flags: string[], starting?: () => void): Promise<number> {
  // Made once here, not by every test file that needs them at the same moment on a fresh clone.
  const [bundles] = await Promise.all([testBundles(files.map((file) => resolve(root, file))), ensurePgliteDump()]);
  starting?.();
  const temp = tempFolderInMemory();
  const child = spawn(
    process.execPath,
    [
      ...['--test', '--test-concurrency=6', '--test-reporter=spec', '--enable-source-maps', ...QUICK_START_FLAGS],
      ...[...flags, ...bundles],
    ],
    { cwd: root, stdio: 'inherit', env: temp ? { ...process.env, TMPDIR: temp } : process.env },
  );
  // Ctrl-C reaches the test runner too: wait for it to end, then remove the temp folder.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  const code = await new Promise<number>((done) => child.once('close', (code) => done(code ?? 1)));
  process.off('SIGINT', ignore);
  if (temp) rmSync(temp, { recursive: true, force: true });
  return code;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const args = process.argv.slice(2);
  const withChecks = args.includes('--static-checks');
  const given = args.filter((arg) => arg.endsWith('.test.ts'));
  const flags = args.filter((arg) => !arg.endsWith('.test.ts') && arg !== '--static-checks');
  const files = given.length ? given : allTestFiles();
  let checks: Promise<CheckResult[]> = Promise.resolve([]);
  const code = await runTests(
    files.map((file) => relative(root, resolve(root, file))),
    flags,
    () => {
      if (withChecks) checks = runStaticChecks();
    },
  );
  const checked = withChecks ? reportStaticChecks(await checks) : true;
  process.exit(code === 0 && checked ? 0 : code || 1);
}
