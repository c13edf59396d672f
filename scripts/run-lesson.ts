// One terminal, one command: starts a lesson's server on a free port, runs its client against
// it, shows both sides' lines as they happen, and exits with the client's exit code.
//
//   npm start                                   lesson 01 with its defaults
//   npm run lesson -- 01 --expect none --server --on-cancel none
//   npm run lesson -- 01 --v2                   the lesson's SDK 2.x story (server-v2.ts, client-v2.ts)
//
// Flags after the lesson number go to the client; flags after --server go to the server. With
// --v2, each side is its -v2.ts file where the lesson has one and its 1.x file where it has not.
// A stdio lesson (13) starts only its client: the client spawns its server, as a stdio host does.
// A lesson with a cluster.ts (14) starts that as its server side: replicas behind a balancer.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import chalk from 'chalk';
import { startLessonServer, startTs } from '../lessons/shared/processes.ts';

const [lesson, ...given] = process.argv.slice(2);
const lessonsDir = join(import.meta.dirname, '..', 'lessons');
const folders = readdirSync(lessonsDir).filter((name) => /^\d\d-/.test(name));
const folder = folders.find((name) => lesson !== undefined && name.startsWith(lesson.padStart(2, '0')));
if (!folder) {
  console.error(
    `usage: npm run lesson -- <number> [--v2] [client flags] [--server server flags]\nlessons: ${folders.join(', ')}`,
  );
  process.exit(2);
}
const v2 = given.includes('--v2');
const rest = given.filter((arg) => arg !== '--v2');
const split = rest.indexOf('--server');
const clientArgs = split === -1 ? rest : rest.slice(0, split);
const serverArgs = split === -1 ? [] : rest.slice(split + 1);

const lessonFile = (name: string) => join(lessonsDir, folder!, `${name}.ts`);
/** `server.ts` or `client.ts`, or with --v2 its `-v2.ts` twin when the lesson has one. */
function side(name: 'server' | 'client'): string | undefined {
  if (v2 && existsSync(lessonFile(`${name}-v2`))) return lessonFile(`${name}-v2`);
  return existsSync(lessonFile(name)) ? lessonFile(name) : undefined;
}
const overStdio = folder.includes('stdio');
// A lesson whose server side is a cluster of replicas (14) starts its cluster.ts instead; with
// --v2, a cluster of SDK 2.x replicas.
const cluster = existsSync(lessonFile('cluster')) ? lessonFile('cluster') : undefined;
if (cluster && v2) serverArgs.unshift('--replicas', 'v2');
const [serverFile, clientFile] = [overStdio ? undefined : (cluster ?? side('server')), side('client')];
if (v2 && serverFile?.endsWith('-v2.ts') !== true && clientFile?.endsWith('-v2.ts') !== true) {
  console.error(
    `lesson ${folder} has no SDK 2.x story of its own: its README's "In SDK 2.x" says why. Run it without --v2.`,
  );
  process.exit(2);
}

// Keep colour when this terminal shows it; the children write to pipes, not to the terminal.
const env = { FORCE_COLOR: String(chalk.level) };
const print = (line: string) => console.log(line);
const named = (file: string | undefined) => (file ? file.slice(join(lessonsDir, folder).length + 1) : 'none');

console.log(
  chalk.bold(
    `lesson ${folder}: ${serverFile ? `${named(serverFile)} and ` : ''}${named(clientFile)} in one terminal (two terminals: see lessons/${folder}/README.md)`,
  ),
);
const server = serverFile ? await startLessonServer(serverFile, serverArgs, { env, onLine: print }) : undefined;
const client = startTs(clientFile!, [...(server ? ['--url', server.url] : []), ...clientArgs], {
  env,
  onLine: print,
  stdin: process.stdin.isTTY ? 'inherit' : 'ignore',
});
const code = await client.exited;
await server?.stop();
process.exit(code ?? 1);
