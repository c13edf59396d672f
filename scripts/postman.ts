// Runs the Postman collection headless with newman, one lesson folder at a time, in lanes. For
// lesson 01:
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
// Usage: npx tsx scripts/postman.ts                       every folder, each against a lesson server on a free port
//        npx tsx scripts/postman.ts --lesson 01 --url URL  one folder, against a server you started
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseFlags } from '../lessons/shared/cli.ts';
import { startLessonServer } from '../lessons/shared/processes.ts';

export const COLLECTION_FILE = join(import.meta.dirname, '../postman/mcp-cancellation.postman_collection.json');

/** Requests run one after another, in one newman run. */
type Lane = string[];
/** Lanes that run side by side; a phase starts when the one before it has ended. */
type Phase = Record<string, Lane>;

export interface FolderFlow {
  /** The folder's name in the collection. */
  folder: string;
  /** The lesson server the folder drives. */
  server: string;
  /** The collection variable holding that server's MCP endpoint. */
  urlVariable: string;
  phases: Phase[];
}

export const FLOWS: Record<string, FolderFlow> = {
  '01': {
    folder: '01 Cancel a call by its id',
    server: join(import.meta.dirname, '../lessons/01-cancel-by-id/server.ts'),
    urlVariable: 'lesson01Url',
    phases: [
      { setup: ['1. initialize', '2. notifications/initialized', '3. tools/list'] },
      {
        A: ['4. tools/call process_large_file (lane A)'],
        B: ['5. notifications/cancelled (lane B)', '6. get_job_status (lane B)', '7. DELETE session'],
      },
    ],
  },
  '05': {
    folder: '05 Clean up and roll back',
    server: join(import.meta.dirname, '../lessons/05-cleanup-rollback/server.ts'),
    urlVariable: 'lesson05Url',
    phases: [
      { setup: ['1. initialize', '2. notifications/initialized'] },
      {
        A: ['3. tools/call with an idempotency key (lane A)'],
        B: ['4. notifications/cancelled (lane B)', '5. get_job_status: rolled back, released (lane B)'],
      },
      // The retries go after both lanes: the cancelled call must have left nothing behind.
      {
        finish: ['6. retry with the same key: it runs', '7. retry again: the stored result', '8. DELETE session'],
      },
    ],
  },
  '06': {
    folder: '06 Timeouts',
    server: join(import.meta.dirname, '../lessons/06-timeouts/server.ts'),
    urlVariable: 'lesson06Url',
    // No cancel, so no second lane: the server's own deadline ends the call.
    phases: [
      {
        run: [
          '1. initialize',
          '2. notifications/initialized',
          '3. tools/call with a 300 ms deadline',
          '4. get_job_status',
          '5. DELETE session',
        ],
      },
    ],
  },
  '07': {
    folder: '07 Progress',
    server: join(import.meta.dirname, '../lessons/07-progress/server.ts'),
    urlVariable: 'lesson07Url',
    // Nothing to cancel, so one lane: each call's stream ends with its result, progress before it.
    phases: [
      {
        run: [
          '1. initialize',
          '2. notifications/initialized',
          '3. tools/call with a progressToken',
          '4. get_job_status: progress sent',
          '5. tools/call without a progressToken',
          '6. get_job_status: none sent',
          '7. DELETE session',
        ],
      },
    ],
  },
  '10': {
    folder: '10 Races and ids',
    server: join(import.meta.dirname, '../lessons/10-races-and-ids/server.ts'),
    urlVariable: 'lesson10Url',
    phases: [
      { setup: ['1. initialize', '2. notifications/initialized'] },
      {
        A: ['3. tools/call id 1 (lane A)'],
        B: [
          '4. cancel "1", a string (lane B)',
          '5. get_job_status: still running (lane B)',
          '6. cancel 1, the number (lane B)',
          '7. get_job_status: cancelled (lane B)',
        ],
      },
      // Once the call has ended: a cancel for it again, and one for an id never sent.
      {
        finish: [
          '8. cancel 1 again',
          '9. get_job_status: unchanged',
          '10. cancel 999, an unknown id',
          '11. ping: still serving',
          '12. DELETE session',
        ],
      },
    ],
  },
  '11': {
    folder: '11 Tasks',
    server: join(import.meta.dirname, '../lessons/11-tasks/server.ts'),
    urlVariable: 'lesson11Url',
    // Sequential by nature: the tools/call is answered at once with a task, and the cancel is a
    // request of its own, so one lane sends everything in order.
    phases: [
      {
        run: [
          '1. initialize',
          '2. notifications/initialized',
          '3. tools/call as a task',
          '4. tasks/get: working',
          '5. tasks/cancel',
          '6. tasks/get: cancelled',
          '7. get_task_work: the work stopped',
          '8. tasks/cancel again: rejected',
          '9. DELETE session',
        ],
      },
    ],
  },
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

interface Item {
  name: string;
  item?: Item[];
}
interface Collection {
  item: Item[];
  variable?: { key: string; value: string }[];
}

/**
 * The collection with only the named requests of one folder, in that order. The folder stays
 * around them, so its scripts run as in the app; the collection's scripts and variables come along.
 */
function subCollection(collection: Collection, folderName: string, names: string[]): Collection {
  const folder = collection.item.find((i) => i.name === folderName && i.item);
  if (!folder) throw new Error(`no folder named "${folderName}" in ${COLLECTION_FILE}`);
  const item = names.map((name) => {
    const request = folder.item!.find((i) => i.name === name);
    if (!request) throw new Error(`no request named "${name}" in folder "${folderName}" of ${COLLECTION_FILE}`);
    return request;
  });
  return { ...collection, item: [{ ...folder, item }] };
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

/**
 * Runs one folder of the collection against the MCP endpoint `url`, phase by phase. Each phase's
 * lanes run side by side and start with the variables the previous phase's lanes left (the
 * session id, the protocol version); a failed phase ends the flow.
 */
export async function runPostmanFlow(flow: FolderFlow, url: string): Promise<PostmanFlowResult> {
  const started = performance.now();
  const collection = JSON.parse(readFileSync(COLLECTION_FILE, 'utf8')) as Collection;
  const failures: string[] = [];
  const steps: Step[] = [];
  const variables: Record<string, string> = { [flow.urlVariable]: url };
  const defaults = new Map((collection.variable ?? []).map(({ key, value }) => [key, value]));

  for (const phase of flow.phases) {
    const lanes = await Promise.all(
      Object.entries(phase).map(([lane, names]) =>
        runLane(lane, subCollection(collection, flow.folder, names), variables),
      ),
    );
    for (const lane of lanes) {
      failures.push(...lane.failures);
      steps.push(...lane.steps);
      // Carry on only what the lane's scripts set: its other variables hold the collection's
      // defaults, which would undo what an earlier phase handed over (the session id).
      for (const [key, value] of Object.entries(lane.variables)) {
        if (value !== defaults.get(key)) variables[key] = value;
      }
    }
    if (failures.length > 0) break;
  }
  return { failures, steps, durationMs: performance.now() - started };
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
    { lesson: { type: 'string' }, url: { type: 'string' } },
    `
Runs postman/mcp-cancellation.postman_collection.json headless with newman, folder by folder.

Usage: npx tsx scripts/postman.ts [--lesson NN] [--url URL]

  --lesson NN  only the folder of lesson NN (folders: ${Object.keys(FLOWS).join(', ')})
  --url URL    the MCP endpoint of a server you started for that lesson
               (default: start one on a free port, and stop it afterwards)
  -h, --help   show this help
`,
  );
  const lessons = flags.lesson ? [flags.lesson.padStart(2, '0')] : Object.keys(FLOWS);
  if (lessons.some((lesson) => !FLOWS[lesson]) || (flags.url && lessons.length !== 1)) {
    console.error(
      flags.url ? '--url needs --lesson: a server serves one lesson' : `no folder for lesson ${flags.lesson}`,
    );
    process.exit(2);
  }
  for (const lesson of lessons) {
    const flow = FLOWS[lesson]!;
    const server = flags.url ? undefined : await startLessonServer(flow.server);
    const url = flags.url ?? server!.url;
    console.log(`\n${flow.folder}: newman against ${url}\n`);
    try {
      const result = await runPostmanFlow(flow, url);
      console.log(formatReport(result).join('\n'));
      if (result.failures.length > 0 && server) console.log(`\nserver log:\n${server.output()}`);
      if (result.failures.length > 0) process.exitCode = 1;
    } finally {
      await server?.stop();
    }
  }
}
