// The log export_log produces: made up, but the same on every run, so its hash is too.

/** Line `i` (from 0) of the log, newline included. */
export function logLine(i: number): string {
  const time = new Date(Date.UTC(2026, 0, 1) + i * 37).toISOString();
  const path = `/orders/${(i * 7919) % 100_000}`;
  return `${time} INFO worker-${i % 8} GET ${path} 200 ${i % 97} ms seq=${String(i + 1).padStart(8, '0')}\n`;
}

/** Lines `from` (inclusive) to `to` (exclusive). */
export function logLines(from: number, to: number): string[] {
  const lines: string[] = [];
  for (let i = from; i < to; i++) lines.push(logLine(i));
  return lines;
}
