// Lesson 03 server's flags, read when server.ts imports this: its help text, and the values.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { intFlag, parseFlags } from '../shared/cli.ts';
import { run as lessonRun, STRATEGIES, STRATEGY_DESCRIPTIONS } from './strategies.ts';

export const DEFAULT_PORT = 3103;

const HELP = `
Lesson 03 server: process_large_file with a choice of strategies, to see which ones a cancel can stop.

Usage: npx tsx lessons/03-cooperative-handlers/server.ts [options]

  --port N          port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --strategies F    the strategies from file F, in strategies.ts's place (the exercise: exercise-strategies.ts)
  -h, --help        show this help

Strategies (the tool's "strategy" argument):
${STRATEGIES.map((s) => `  ${s.padEnd(13)}${STRATEGY_DESCRIPTIONS[s]}`).join('\n')}
`;

const flags = parseFlags({ port: { type: 'string' }, strategies: { type: 'string' } }, HELP);
export const strategiesFile = flags.strategies;
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);

/** --strategies F: the handlers from F. tsx's tsImport loads a .ts file however this server was started. */
async function strategiesFrom(file: string): Promise<typeof lessonRun> {
  const tsx = 'tsx/esm/api'; // a variable, so the tests' bundle (quick-starts.ts) loads tsx from node_modules
  const api = (await import(tsx)) as { tsImport: (url: string, from: string) => Promise<{ run: typeof lessonRun }> };
  return (await api.tsImport(pathToFileURL(resolve(file)).href, import.meta.url)).run;
}
/** The strategies the tool runs: strategies.ts's, or those of --strategies F. */
export const run = flags.strategies ? await strategiesFrom(flags.strategies) : lessonRun;
