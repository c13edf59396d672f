// Command-line flags for lesson servers and clients: node's parseArgs, plus `--help` and
// one-line messages that say which flag was wrong and what to do.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

type Values<T extends Options> = { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string };

const root = join(import.meta.dirname, '..', '..');

/** Parses process.argv; prints `help` and exits 0 on --help; prints what is wrong in a line or three and exits 2 on a bad flag. */
export function parseFlags<T extends Options>(options: T, help: string): Values<T> {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true });
    if ((values as { help?: boolean }).help) {
      console.log(help.trim());
      process.exit(0);
    }
    return values as Values<T>;
  } catch (error) {
    console.error(flagProblem(error as Error & { code?: string }));
    process.exit(2);
  }
}

function flagProblem(error: Error & { code?: string }): string {
  const self = process.argv[1] ?? '';
  const me = basename(self, '.ts'); // "client" or "server" in a lesson; a script's name elsewhere
  const helpHint = `run with --help to see this ${me}'s flags`;
  if (error.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    // "Option '--port <value>' argument missing", "Unexpected argument 'x'. This command does not take…"
    return `${error.message.split('. ')[0]}; ${helpHint}`;
  }
  const flag = /'(-[^'=]+)/.exec(error.message)?.[1] ?? error.message;
  return otherSideHint(self, flag) ?? `unknown flag ${flag}; ${helpHint}`;
}

/**
 * A lesson's server and client take different flags, and a reader easily gives one the other's.
 * The other side's help text (the flag lines of its HELP, in its source or its `-flags.ts` file)
 * says whether it takes the flag; if it does, say so and show where it goes.
 */
function otherSideHint(self: string, flag: string): string | undefined {
  const me = basename(self);
  const other = me === 'client.ts' ? 'server' : me === 'server.ts' ? 'client' : undefined;
  const otherFile = join(dirname(self), `${other}.ts`);
  if (!other || !existsSync(otherFile)) return undefined;
  const sources = [otherFile, join(dirname(self), `${other}-flags.ts`)].filter((file) => existsSync(file));
  const escaped = flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const line = new RegExp(`^ {1,4}(?:-\\w, )?${escaped}( [A-Z][A-Z_]*)?(?: |$)`, 'm').exec(
    sources.map((file) => readFileSync(file, 'utf8')).join('\n'),
  );
  if (!line) return undefined;

  // The flag as the reader typed it, with its value when the other side's flag takes one.
  const args = process.argv.slice(2);
  const at = args.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
  const value = line[1] && args[at] === flag && args[at + 1] !== undefined ? ` ${args[at + 1]}` : '';
  const typed = `${args[at] ?? flag}${value}`;
  const lesson = basename(dirname(self)).slice(0, 2);
  const oneTerminal =
    other === 'server' ? `npm run lesson -- ${lesson} --server ${typed}` : `npm run lesson -- ${lesson} ${typed}`;
  return [
    `${flag} is a flag of the ${other}, not of this ${other === 'server' ? 'client' : 'server'}. Give it to the ${other}:`,
    `  npx tsx ${relative(root, otherFile)} ${typed}`,
    `or run both in one terminal: ${oneTerminal}`,
  ].join('\n');
}

/** Reads a whole-number flag within [min, max]; exits 2 with a clear message otherwise. */
export function intFlag(
  name: string,
  raw: string | undefined,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
) {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`--${name} must be a whole number from ${min} to ${max}; got "${raw}"`);
    process.exit(2);
  }
  return value;
}

/** Reads a flag that must be one of `choices`; exits 2 with a clear message otherwise. */
export function choiceFlag<C extends string>(
  name: string,
  raw: string | undefined,
  choices: readonly C[],
  fallback: C,
): C {
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    console.error(`--${name} must be one of ${choices.join(', ')}; got "${raw}"`);
    process.exit(2);
  }
  return raw as C;
}

/** Says in two lines that the server went away (stopped, crashed), and what to do; then exits 1. */
export function exitLostServer(
  log: { fail(text: string): void; detail(text: string): void },
  url: string,
  serverCommand: string,
  why: unknown,
): never {
  const code = ((why as Error | undefined)?.cause as { code?: string } | undefined)?.code;
  log.fail(`lost the server at ${url}: ${(why as Error | undefined)?.message ?? why}${code ? ` (${code})` : ''}`);
  log.detail(`did it stop? Start it again: ${serverCommand}`);
  process.exit(1);
}

/**
 * Once a client is connected: if the server goes away later, the next request fails with "fetch
 * failed", which Node would print as a stack trace. Say so with exitLostServer instead. Any other
 * uncaught error is printed as Node prints it, and exits 1 as well.
 */
export function exitPlainlyIfServerLost(
  log: { fail(text: string): void; detail(text: string): void },
  url: string,
  serverCommand: string,
) {
  const lostConnection = (error: unknown): TypeError | undefined => {
    for (let e = error; e instanceof Error; e = e.cause)
      if (e instanceof TypeError && e.message === 'fetch failed') return e;
    return undefined;
  };
  const exit = (error: unknown) => {
    const lost = lostConnection(error);
    if (lost) exitLostServer(log, url, serverCommand, lost);
    console.error(error);
    process.exit(1);
  };
  process.on('uncaughtException', exit);
  process.on('unhandledRejection', exit);
}

/**
 * Connects a lesson client, or says in two lines that nothing answered at `url` and how to start
 * the lesson's server (the `server.ts` beside the running client); then, once connected, reports a
 * server lost later the same way (exitPlainlyIfServerLost).
 */
export async function connectOrExit(
  client: { connect(transport: never): Promise<void> },
  transport: unknown,
  url: string,
  log: { fail(text: string): void; detail(text: string): void },
): Promise<void> {
  const serverCommand = `npx tsx ${relative(root, join(dirname(process.argv[1] ?? ''), 'server.ts'))}`;
  try {
    await client.connect(transport as never);
  } catch (error) {
    log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
    log.detail(`is the server running? ${serverCommand}`);
    process.exit(1);
  }
  exitPlainlyIfServerLost(log, url, serverCommand);
}
