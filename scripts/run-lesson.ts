// One terminal, one command: starts a lesson's server on a free port, runs its client against
// it, shows both sides' lines as they happen, and exits with the client's exit code.
//
//   npm start                                   lesson 01 with its defaults
//   npm run lesson -- 01 --expect none --server --on-cancel none
//
// Flags after the lesson number go to the client; flags after --server go to the server.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import chalk from 'chalk';
import { startLessonServer, startTs } from '../lessons/shared/processes.ts';

const [lesson, ...rest] = process.argv.slice(2);
const lessonsDir = join(import.meta.dirname, '..', 'lessons');
const folders = readdirSync(lessonsDir).filter((name) => /^\d\d-/.test(name));
const folder = folders.find((name) => lesson !== undefined && name.startsWith(lesson.padStart(2, '0')));
if (!folder) {
  console.error(
    `usage: npm run lesson -- <number> [client flags] [--server server flags]\nlessons: ${folders.join(', ')}`,
  );
  process.exit(2);
}
const split = rest.indexOf('--server');
const clientArgs = split === -1 ? rest : rest.slice(0, split);
const serverArgs = split === -1 ? [] : rest.slice(split + 1);

// Keep colour when this terminal shows it; the children write to pipes, not to the terminal.
const env = { FORCE_COLOR: String(chalk.level) };
const print = (line: string) => console.log(line);

console.log(
  chalk.bold(`lesson ${folder}: server and client in one terminal (two terminals: see lessons/${folder}/README.md)`),
);
const server = await startLessonServer(join(lessonsDir, folder, 'server.ts'), serverArgs, { env, onLine: print });
const client = startTs(join(lessonsDir, folder, 'client.ts'), ['--url', server.url, ...clientArgs], {
  env,
  onLine: print,
  stdin: process.stdin.isTTY ? 'inherit' : 'ignore',
});
const code = await client.exited;
await server.stop();
process.exit(code ?? 1);
