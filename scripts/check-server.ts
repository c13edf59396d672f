// `npm run check-server`: does your MCP server handle cancellation? Talks to any Streamable HTTP
// server over plain HTTP, runs the scenarios of check-server/scenarios.ts in each era it offers,
// and reports what it saw, what the spec says and a verdict. Exit 1 when a MUST fails.
import chalk from 'chalk';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { brokeAMust, type Finding, type Verdict } from './check-server/findings.ts';
import { checkModern } from './check-server/modern.ts';
import { checkLegacy, type CheckOptions } from './check-server/scenarios.ts';
import { LEGACY, MODERN } from './check-server/wire.ts';

const HELP = `
Checks how an MCP server (Streamable HTTP) handles cancellation, from the outside.

Usage: npm run check-server -- --url URL --tool NAME [--args JSON] [options]

  --url URL          the server's MCP endpoint, e.g. http://127.0.0.1:3101/mcp
  --tool NAME        a tool that runs for seconds (the checker cancels it)
  --args JSON        its arguments, e.g. '{"path":"sample.txt","chunks":100}' (default: {})
  --short-args JSON  arguments that make the same tool finish at once: called after the cancels,
                     to see the session still serves it
  --header 'K: V'    a header for every request, e.g. 'Authorization: Bearer …' (repeatable)
  --era ERA          2025-11-25, 2026-07-28 or both (default: both; an era the server does not
                     offer is reported, not failed)
  --calls N          calls cancelled when counting the response streams left open (default: 3)
  --watch-ms N       how long to watch after a cancel (default: 2000)
  --cancel-after-ms N  cancel at the first progress, or this long after the call if none has
                     come by then (default: 1000)
  --json             the findings as JSON, for CI
  -h, --help         show this help

Exit code: 0 when no MUST failed, 1 when one did, 2 when the checker could not run.
`;

/** Exits 2 with a message a person can act on: no stack trace. */
function stop(message: string): never {
  console.error(`check-server: ${message}\n(npm run check-server -- --help shows every flag)`);
  process.exit(2);
}

function options(): CheckOptions & { json: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        tool: { type: 'string' },
        args: { type: 'string' },
        'short-args': { type: 'string' },
        header: { type: 'string', multiple: true },
        era: { type: 'string' },
        calls: { type: 'string' },
        'watch-ms': { type: 'string' },
        'cancel-after-ms': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    stop((error as Error).message);
  }
  if (values.help) {
    console.log(HELP.trim());
    process.exit(0);
  }
  if (!values.url || !values.tool) stop('--url and --tool are needed');
  let url: URL | undefined;
  try {
    url = new URL(values.url);
  } catch {
    // not a URL at all: said below
  }
  if (!url || !['http:', 'https:'].includes(url.protocol)) {
    stop(`--url ${values.url} is not an http(s) URL: give the whole endpoint, e.g. http://127.0.0.1:3101/mcp`);
  }
  let args: Record<string, unknown>;
  try {
    args = JSON.parse(values.args ?? '{}') as Record<string, unknown>;
  } catch {
    stop(`--args is not JSON: ${values.args}`);
  }
  let shortArgs: Record<string, unknown> | undefined;
  try {
    shortArgs =
      values['short-args'] === undefined ? undefined : (JSON.parse(values['short-args']) as Record<string, unknown>);
  } catch {
    stop(`--short-args is not JSON: ${values['short-args']}`);
  }
  const headers: Record<string, string> = {};
  for (const header of values.header ?? []) {
    const at = header.indexOf(':');
    if (at < 1) stop(`--header '${header}' is not 'Name: value'`);
    headers[header.slice(0, at).trim().toLowerCase()] = header.slice(at + 1).trim();
  }
  const era = values.era ?? 'both';
  if (![LEGACY, MODERN, 'both'].includes(era)) stop(`--era ${era}: give ${LEGACY}, ${MODERN} or both`);
  const number = (name: string, given: string | undefined, fallback: number) => {
    const n = Number(given ?? fallback);
    if (!Number.isInteger(n) || n < 1) stop(`--${name} ${given}: give a whole number above 0`);
    return n;
  };
  return {
    target: { url: url.href, headers },
    tool: values.tool,
    args,
    shortArgs,
    calls: number('calls', values.calls, 3),
    watchMs: number('watch-ms', values['watch-ms'], 2000),
    cancelAfterMs: number('cancel-after-ms', values['cancel-after-ms'], 1000),
    eras: era === 'both' ? [LEGACY, MODERN] : [era as typeof LEGACY],
    json: values.json ?? false,
  };
}

const MARK: Record<Verdict, string> = {
  pass: chalk.green('✔ pass'),
  fail: chalk.red('✖ FAIL'),
  warning: chalk.yellow('! warning'),
  'not observable': chalk.dim('· not observable'),
};

function print(findings: Finding[], o: CheckOptions, seconds: number) {
  console.log(chalk.bold(`check-server ${o.target.url}  tool ${o.tool} ${JSON.stringify(o.args)}`));
  let scenario = '';
  for (const f of findings) {
    if (`${f.era} ${f.scenario}` !== scenario) console.log(`\n${chalk.bold((scenario = `${f.era} ${f.scenario}`))}`);
    console.log(`  ${MARK[f.verdict]}  ${f.check}: ${f.seen}`);
    console.log(chalk.dim(`      spec (${f.spec.level}): ${f.spec.text}\n      ${f.spec.url}`));
  }
  const count = (v: Verdict) => findings.filter((f) => f.verdict === v).length;
  console.log(
    `\n${count('pass')} pass, ${count('fail')} fail, ${count('warning')} warning, ${count('not observable')} not observable, in ${seconds.toFixed(1)} s`,
  );
}

export async function check(o: CheckOptions): Promise<Finding[]> {
  try {
    await fetch(o.target.url, { method: 'HEAD', headers: o.target.headers });
  } catch (error) {
    const why = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new Error(`nothing answers at ${o.target.url} (${why}): is the server running, on that port?`, {
      cause: error,
    });
  }
  const findings: Finding[] = [];
  if (o.eras.includes(LEGACY)) findings.push(...(await checkLegacy(o)));
  if (o.eras.includes(MODERN)) findings.push(...(await checkModern(o)));
  return findings;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const o = options();
  const started = performance.now();
  let findings: Finding[];
  try {
    findings = await check(o);
  } catch (error) {
    stop((error as Error).message);
  }
  const seconds = (performance.now() - started) / 1000;
  if (o.json) console.log(JSON.stringify({ url: o.target.url, tool: o.tool, seconds, findings }, null, 2));
  else print(findings, o, seconds);
  process.exitCode = brokeAMust(findings) ? 1 : 0;
}
