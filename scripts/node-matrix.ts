// npm run test:matrix: the whole test command on Node 20, 22 and 24, one line after another, and a
// table of what passed on each. Each line's node comes from the `node` package on npm
// (`npx -p node@22 -- node`), so nothing is installed system-wide; the tests and every process
// they start run on that line's binary.
//
//   npm run test:matrix                  20, 22 and 24
//   npm run test:matrix -- 22            one line
//   npm run test:matrix -- 24 -- FILE    one line, one test file (flags after -- go to the runner)
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import chalk from 'chalk';
import { nodeFor } from './node-lines.ts';

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const split = args.indexOf('--');
const asked = (split === -1 ? args : args.slice(0, split)).filter((arg) => /^\d+$/.test(arg));
const runnerArgs = split === -1 ? [] : args.slice(split + 1);
const lines = asked.length ? asked : ['20', '22', '24'];
if (args.some((arg) => arg === '-h' || arg === '--help')) {
  console.log('Usage: npm run test:matrix [-- 20 22 24] [-- test files and node --test flags]');
  process.exit(0);
}

interface Row {
  line: string;
  version: string;
  pass: number;
  fail: number;
  seconds: number;
  code: number | null;
}
const rows: Row[] = [];
for (const line of lines) {
  const node = nodeFor(line);
  if (!node) {
    console.error(
      chalk.red(`Node ${line}: could not get it with npx -p node@${line} (is the npm registry reachable?)`),
    );
    rows.push({ line, version: '-', pass: 0, fail: 0, seconds: 0, code: null });
    continue;
  }
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(chalk.bold(`\n=== Node ${version} (${node}) ===`));
  const started = performance.now();
  let output = '';
  const child = spawn(node, ['--import', 'tsx', join(root, 'scripts/run-tests.ts'), ...runnerArgs], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const count = (name: string) => Number(new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(output)?.[1] ?? 0);
  rows.push({
    line,
    version,
    pass: count('pass'),
    fail: count('fail'),
    seconds: Math.round((performance.now() - started) / 1000),
    code,
  });
}

console.log(chalk.bold('\nNode line   version      pass  fail  time'));
for (const row of rows) {
  const ok = row.code === 0 && row.fail === 0;
  const text = `${row.line.padEnd(11)} ${row.version.padEnd(12)} ${String(row.pass).padStart(4)}  ${String(row.fail).padStart(4)}  ${row.seconds} s`;
  console.log(ok ? chalk.green(text) : chalk.red(text));
}
process.exit(rows.every((row) => row.code === 0 && row.fail === 0) ? 0 : 1);
