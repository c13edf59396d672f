// Timestamped, coloured output lines for both sides of a lesson.
//
// Every line starts with the wall-clock time (so lines from the server's terminal and the
// client's terminal can be put in order) and the milliseconds since this process started.
import chalk, { type ChalkInstance } from 'chalk';

export type Side = 'server' | 'client' | 'runner' | 'cluster';

const sideColour: Record<Side, ChalkInstance> = {
  server: chalk.magenta,
  client: chalk.cyan,
  runner: chalk.gray,
  cluster: chalk.blue,
};

export interface Timeline {
  /** An ordinary event. */
  event(message: string): void;
  /** Something the reader should notice: a cancel, a stop, a release. */
  highlight(message: string): void;
  /** A good outcome. */
  ok(message: string): void;
  /** A warning: surprising but not fatal. */
  warn(message: string): void;
  /** A failure. */
  fail(message: string): void;
  /** Secondary detail, dimmed. */
  detail(message: string): void;
}

function clock(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function createTimeline(side: Side, write: (line: string) => void = (line) => console.log(line)): Timeline {
  const started = performance.now();
  const label = sideColour[side](side.padEnd(6));
  const line = (paint: (text: string) => string, message: string) => {
    const elapsed = (performance.now() - started) / 1000;
    const stamp = chalk.dim(`${clock(new Date())} +${elapsed.toFixed(3).padStart(7)}s`);
    write(`${stamp} ${label} ${paint(message)}`);
  };
  return {
    event: (message) => line((text) => text, message),
    highlight: (message) => line(chalk.yellow, message),
    ok: (message) => line(chalk.green, message),
    warn: (message) => line(chalk.yellowBright, message),
    fail: (message) => line(chalk.red, message),
    detail: (message) => line(chalk.dim, message),
  };
}

/** A value as JSON for a log line: at most 80 characters, and never a throw (a client chooses how deep and long it is). */
export function preview(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    return '(too deeply nested to show)';
  }
  if (json === undefined) return String(value);
  return json.length > 80 ? `${json.slice(0, 79)}…` : json;
}
