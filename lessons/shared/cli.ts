// Command-line flags for lesson servers and clients: node's parseArgs, plus `--help` and
// messages that say which flag was wrong and why.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

type Values<T extends Options> = { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string };

/** Parses process.argv; prints `help` and exits 0 on --help, prints the problem and exits 2 on a bad flag. */
export function parseFlags<T extends Options>(options: T, help: string): Values<T> {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true });
    if ((values as { help?: boolean }).help) {
      console.log(help.trim());
      process.exit(0);
    }
    return values as Values<T>;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${help.trim()}`);
    process.exit(2);
  }
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
