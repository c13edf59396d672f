// Runs the Postman collection headless with newman, in three lanes:
//
//   setup  1. initialize, 2. notifications/initialized, 3. tools/list  -> session id, protocol version
//   then both at once, in that session:
//   A      4. tools/call process_large_file
//   B      5. notifications/cancelled, 6. get_job_status, 7. DELETE session
//
// One newman run sends one request at a time and waits for each response to end, and the call's
// response (an SSE stream) ends only when the server replies. So the call and the cancel go in two
// runs side by side, as two tabs do in the Postman app. Lane B needs no delay: the cancel's
// pre-request script waits until the server reports the job has started.
//
// Usage: npx tsx scripts/postman.ts            starts a lesson 01 server on a free port
//        npx tsx scripts/postman.ts --url URL  uses a server you started
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseFlags } from '../lessons/shared/cli.ts';
import { startLessonServer } from '../lessons/shared/processes.ts';

export const COLLECTION_FILE = join(import.meta.dirname, '../postman/mcp-cancellation.postman_collection.json');
export const LESSON_SERVER = join(import.meta.dirname, '../lessons/01-cancel-by-id/server.ts');

const LANES = {
  setup: ['1. initialize', '2. notifications/initialized', '3. tools/list'],
  A: ['4. tools/call process_large_file (lane A)'],
  B: ['5. notifications/cancelled (lane B)', '6. get_job_status (lane B)', '7. DELETE session'],
};

/** The call lasts about 5 s; this only keeps a stream that never ends from hanging the run. */
const REQUEST_TIMEOUT_MS = 30_000;

// newman ships no types; these are the parts of its Node API used here.
interface VariableScope {
  toObject(): Record<string, string>;
}
interface NewmanExecution {
  item: { name: string };
  response?: { code: number; status: string; responseTime: number };
  requestError?: Error;
  assertions?: { assertion: string; error?: { message: string } }[];
}
interface NewmanSummary {
  run: {
    executions: NewmanExecution[];
    failures: { error: { name: string; message: string; test?: string }; source?: { name?: string } }[];
  };
}
interface NewmanRun {
  on(
    event: 'script',
    listener: (error: Error | null, o: { execution: { collectionVariables?: VariableScope } }) => void,
  ): this;
  on(event: 'beforeItem', listener: (error: Error | null, o: { item: { name: string } }) => void): this;
  on(event: 'console', listener: (error: Error | null, o: { messages: unknown[] }) => void): this;
}
interface Newman {
  run(
    options: {
      collection: object;
      envVar: { key: string; value: string }[];
      reporters: string[];
      timeoutRequest: number;
    },
    callback: (error: Error | null, summary: NewmanSummary) => void,
  ): NewmanRun;
}

const newman = createRequire(import.meta.url)('newman') as Newman;

export interface Step {
  lane: string;
  name: string;
  /** "202 Accepted", or the request error. */
  status: string;
  ms?: number;
  assertions: { name: string; error?: string }[];
  /** What the request's scripts printed with console.log. */
  console: string[];
}

export interface PostmanFlowResult {
  /** One line per failed assertion, script error or request error: empty when the flow passed. */
  failures: string[];
  steps: Step[];
  durationMs: number;
}

interface Collection {
  item: { name: string }[];
}

/** The collection with only the named requests, in that order; its scripts and variables come along. */
function subCollection(collection: Collection, names: string[]): Collection {
  return {
    ...collection,
    item: names.map((name) => {
      const item = collection.item.find((i) => i.name === name);
      if (!item) throw new Error(`no request named "${name}" in ${COLLECTION_FILE}`);
      return item;
    }),
  };
}

interface LaneResult {
  failures: string[];
  steps: Step[];
  /** The collection variables as the lane's scripts left them. */
  variables: Record<string, string>;
}

function runLane(lane: string, collection: Collection, variables: Record<string, string>): Promise<LaneResult> {
  const consoleByItem = new Map<string, string[]>();
  let currentItem = '';
  let collectionVariables: VariableScope | undefined;

  return new Promise((resolvePromise, reject) => {
    newman
      .run(
        {
          collection,
          // Environment variables outrank the collection's own, as in the app.
          envVar: Object.entries(variables).map(([key, value]) => ({ key, value })),
          reporters: [],
          timeoutRequest: REQUEST_TIMEOUT_MS,
        },
        (error, summary) => {
          if (error) return reject(error);
          // newman lists an item once per request its scripts send too (the same object each time,
          // left holding the item's own response), so keep each once.
          const steps = [...new Set(summary.run.executions)].map((execution): Step => ({
            lane,
            name: execution.item.name,
            status: execution.response
              ? `${execution.response.code} ${execution.response.status}`
              : `no response: ${execution.requestError?.message ?? 'unknown error'}`,
            ms: execution.response?.responseTime,
            assertions: (execution.assertions ?? []).map((a) => ({ name: a.assertion, error: a.error?.message })),
            console: consoleByItem.get(execution.item.name) ?? [],
          }));
          // newman reports failed assertions here rather than as an error.
          const failures = summary.run.failures.map(
            ({ error, source }) =>
              `lane ${lane}, ${source?.name ?? 'collection'}: ${error.test ? `"${error.test}": ` : ''}${error.message}`,
          );
          resolvePromise({ failures, steps, variables: collectionVariables?.toObject() ?? {} });
        },
      )
      .on('beforeItem', (_error, { item }) => (currentItem = item.name))
      .on('console', (_error, { messages }) => {
        const lines = consoleByItem.get(currentItem) ?? [];
        lines.push(messages.map(String).join(' '));
        consoleByItem.set(currentItem, lines);
      })
      .on('script', (_error, { execution }) => {
        collectionVariables = execution.collectionVariables ?? collectionVariables;
      });
  });
}

/** Runs the collection against the MCP endpoint `baseUrl`: setup, then lanes A and B side by side. */
export async function runPostmanFlow(baseUrl: string): Promise<PostmanFlowResult> {
  const started = performance.now();
  const collection = JSON.parse(readFileSync(COLLECTION_FILE, 'utf8')) as Collection;

  const setup = await runLane('setup', subCollection(collection, LANES.setup), { baseUrl });
  const { sessionId, protocolVersion } = setup.variables;
  if (setup.failures.length > 0 || !sessionId || !protocolVersion) {
    const failures = setup.failures.length > 0 ? setup.failures : ['lane setup: no session id or protocol version'];
    return { failures, steps: setup.steps, durationMs: performance.now() - started };
  }

  const session = { baseUrl, sessionId, protocolVersion };
  const [a, b] = await Promise.all([
    runLane('A', subCollection(collection, LANES.A), session),
    runLane('B', subCollection(collection, LANES.B), session),
  ]);
  return {
    failures: [...setup.failures, ...a.failures, ...b.failures],
    steps: [...setup.steps, ...a.steps, ...b.steps],
    durationMs: performance.now() - started,
  };
}

/** The run as lines of text: each request, what its scripts printed, each assertion, and a summary. */
export function formatReport({ steps, failures, durationMs }: PostmanFlowResult): string[] {
  const lines: string[] = [];
  for (const step of steps) {
    const ms = step.ms === undefined ? '' : `, ${step.ms} ms`;
    lines.push(`[${step.lane}] ${step.name}: ${step.status}${ms}`);
    for (const line of step.console) lines.push(`      ${line}`);
    for (const { name, error } of step.assertions) lines.push(error ? `  ✗ ${name}: ${error}` : `  ✓ ${name}`);
  }
  const assertions = steps.flatMap((step) => step.assertions);
  const failed = assertions.filter((a) => a.error).length;
  lines.push(
    '',
    `${steps.length} requests, ${assertions.length - failed}/${assertions.length} assertions passed ` +
      `in ${(durationMs / 1000).toFixed(1)} s`,
  );
  if (failures.length > 0) lines.push('', `${failures.length} failure(s):`, ...failures);
  return lines;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const flags = parseFlags(
    { url: { type: 'string' } },
    `
Runs postman/mcp-cancellation.postman_collection.json headless with newman.

Usage: npx tsx scripts/postman.ts [--url URL]

  --url URL   the MCP endpoint of a lesson 01 server you started
              (default: start one on a free port, and stop it afterwards)
  -h, --help  show this help
`,
  );
  const server = flags.url ? undefined : await startLessonServer(LESSON_SERVER);
  const url = flags.url ?? server!.url;
  console.log(`newman against ${url}\n`);
  try {
    const result = await runPostmanFlow(url);
    console.log(formatReport(result).join('\n'));
    if (result.failures.length > 0 && server) console.log(`\nserver log:\n${server.output()}`);
    process.exitCode = result.failures.length > 0 ? 1 : 0;
  } finally {
    await server?.stop();
  }
}
