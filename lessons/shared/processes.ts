// Starting lesson servers and clients as real child processes, for tests and the one-terminal
// runner: output captured line by line, conditions waited for (never fixed sleeps), and no child
// left behind when the parent exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import type { JobRecord, ProofRecord } from './proof.ts';
import { QUICK_START_FLAGS, quickStartFor } from './quick-starts.ts';
import { waitFor } from './wait.ts';

const children = new Set<ChildProcess>();
let proofFolder: string | undefined;
/** Whether the processes this one starts hand it proof records: under a test (node --test) unless told otherwise. */
let proofWanted = process.env.NODE_TEST_CONTEXT !== undefined;
/**
 * From now on, processes this one starts hand it their proof records, or (`false`) do not: the
 * exercise checks turn them on; a test file that reads none (the fuzzing) spares its servers the writing.
 */
export function readProofRecords(on = true): void {
  proofWanted = on;
}
let started = 0;
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  if (proofFolder) rmSync(proofFolder, { recursive: true, force: true });
});

/**
 * Where a child writes its proof records (proof.ts): a file of its own in a folder this process
 * removes. Only for tests (node --test sets NODE_TEST_CONTEXT): the one-terminal runner needs none.
 */
function newProofFile(): string | undefined {
  if (!proofWanted) return undefined;
  proofFolder ??= mkdtempSync(join(tmpdir(), 'lesson-proof-'));
  return join(proofFolder, `${++started}.jsonl`);
}

/** Reads a proof file's complete lines as they are appended, each read and parsed once. */
function proofReader(file: string | undefined): () => ProofRecord[] {
  const records: ProofRecord[] = [];
  let offset = 0;
  let partial = '';
  const chunk = Buffer.alloc(64 * 1024);
  const decoder = new StringDecoder('utf8'); // a character split across two reads stays whole
  return () => {
    if (file === undefined) return records;
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return records; // nothing written yet
    }
    try {
      for (let n; (n = readSync(fd, chunk, 0, chunk.length, offset)) > 0; offset += n) {
        const lines = (partial + decoder.write(chunk.subarray(0, n))).split('\n');
        partial = lines.pop()!;
        for (const line of lines) if (line) records.push(JSON.parse(line) as ProofRecord);
      }
    } finally {
      closeSync(fd);
    }
    return records;
  };
}

const isJob = (record: ProofRecord): record is JobRecord => record.type === 'job';

export interface StartedProcess {
  child: ChildProcess;
  /** Every line written to stdout or stderr so far, colour codes removed. */
  lines: string[];
  output(): string;
  /** Waits until a line matches `pattern` (from line `from` on) and returns the match. */
  waitForLine(pattern: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** The structured records (proof.ts) it has handed its test so far. */
  proof(): ProofRecord[];
  /** Waits for a proof record that `matches` (from record `from` on) and returns it. */
  waitForProof<R extends ProofRecord = ProofRecord>(
    what: string,
    matches: (record: ProofRecord) => boolean,
    timeoutMs?: number,
    from?: number,
  ): Promise<R>;
  /**
   * Waits for a record of job `requestId` (id and JSON type; in `session` when given) for which
   * `until` holds, and returns it: e.g. `waitForJob(7, (job) => job.chunksDone >= 2)`.
   */
  waitForJob(
    requestId: string | number,
    until?: (job: JobRecord) => boolean,
    options?: { session?: string; timeoutMs?: number; from?: number },
  ): Promise<JobRecord>;
  /** Resolves with the exit code once the process has exited and all its output has been read. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

const ANSI = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex

/**
 * How to run a TypeScript file: node + tsx (one process: no wrapper that could outlive its child),
 * or, under the test command, node + the bundle made from it, with QUICK_START_FLAGS (see quick-starts.ts).
 */
const nodeArgs = (file: string) => {
  const bundle = quickStartFor(file);
  return bundle ? [...QUICK_START_FLAGS, bundle] : ['--import', 'tsx', file];
};

/** Runs a TypeScript file as a child process, its output read line by line. */
export function startTs(
  file: string,
  args: string[] = [],
  {
    env = {},
    onLine,
    stdin = 'ignore',
  }: {
    env?: Record<string, string>;
    /** Called with each raw line (colours kept) as it arrives. */
    onLine?: (line: string) => void;
    /** 'inherit' lets the child read this terminal's keys. */
    stdin?: 'ignore' | 'inherit';
  } = {},
): StartedProcess {
  const proofFile = newProofFile();
  const proof = proofReader(proofFile);
  const child = spawn(process.execPath, [...nodeArgs(file), ...args], {
    env: { ...process.env, FORCE_COLOR: '0', ...(proofFile && { LESSON_PROOF_FILE: proofFile }), ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (raw) => {
      const line = raw.replace(ANSI, '');
      lines.push(line);
      onLine?.(raw);
    });
  }
  // 'close', not 'exit': it comes once the output has been read to the end, so `lines` is complete.
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? 128 : null));
    }),
  );
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const waitForProof = <R extends ProofRecord>(
    what: string,
    matches: (record: ProofRecord) => boolean,
    timeoutMs = 15_000,
    from = 0,
  ) =>
    waitFor(
      `${what}\n--- proof records so far ---\n${proof()
        .slice(from)
        .map((r) => JSON.stringify(r))
        .join('\n')}\n--- output so far ---\n${lines.join('\n')}`,
      () => {
        const found = proof().slice(from).find(matches);
        if (found) return found as R;
        if (code !== undefined) throw new Error(`process exited (${code}) before ${what}:\n${lines.join('\n')}`);
        return undefined;
      },
      { timeoutMs },
    );
  return {
    child,
    lines,
    output: () => lines.join('\n'),
    proof,
    waitForProof,
    waitForJob: (requestId, until = () => true, { session, timeoutMs, from } = {}) =>
      waitForProof<JobRecord>(
        `job ${JSON.stringify(requestId)}${session ? ` of session ${session}` : ''} to satisfy ${String(until)}`,
        (r) => isJob(r) && r.requestId === requestId && (!session || r.session === session) && until(r),
        timeoutMs,
        from,
      ),
    waitForLine: (pattern, timeoutMs = 15_000, from = 0) =>
      waitFor(
        `a line matching ${pattern}\n--- output so far ---\n${lines.slice(from).join('\n')}`,
        () => {
          for (let i = from; i < lines.length; i++) {
            const match = lines[i]!.match(pattern);
            if (match) return match;
          }
          if (code !== undefined)
            throw new Error(`process exited (${code}) before printing ${pattern}:\n${lines.join('\n')}`);
          return undefined;
        },
        { timeoutMs },
      ),
    exited,
    async stop(graceMs = 3000) {
      if (code !== undefined) return code;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Starts a lesson server on a free port and returns its MCP URL once it is listening. */
export async function startLessonServer(
  file: string,
  args: string[] = [],
  options: Parameters<typeof startTs>[2] = {},
) {
  const server = startTs(file, ['--port', '0', ...args], options);
  // A server that never says it is listening is stopped here: nobody else holds it to stop it.
  const [, url] = await server.waitForLine(/listening on (http:\/\/\S+)/).catch(async (error: Error) => {
    await server.stop();
    throw error;
  });
  return { ...server, url: url! };
}

/** True where script(1) (util-linux) is there to give a child a pseudo-terminal. */
export const canRunInTerminal = spawnSync('script', ['--version'], { timeout: 5000 }).status === 0;

export interface TerminalProcess {
  /** Everything the process wrote to its terminal so far, as written (redraws included). */
  output(): string;
  /** Types keys into its terminal. */
  press(keys: string): void;
  exited: Promise<number | null>;
  /** Sends a signal to the program itself: script(1) answers one sent to it by killing the program. */
  signal(signal: NodeJS.Signals): void;
  kill(): void;
}

/**
 * Runs a TypeScript file under script(1), so it sees a real terminal: it reads single key presses
 * and draws in place, as it does for a reader. Colour is off so the output can be matched.
 * `columns` sets the terminal's width (script(1) gives it none: 0 columns).
 */
export function startTsInTerminal(
  file: string,
  args: string[] = [],
  { columns }: { columns?: number } = {},
): TerminalProcess {
  const program = [process.execPath, ...nodeArgs(file), ...args].map((word) => `'${word}'`).join(' ');
  // exec: the program replaces the shell, so it is script's only child (see signal below).
  const command = `${columns ? `stty cols ${columns}; ` : ''}exec ${program}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, FORCE_COLOR: '0' } });
  children.add(child);
  let output = '';
  child.stdout.setEncoding('utf8'); // a character split between two chunks stays whole
  child.stdout.on('data', (chunk: string) => (output += chunk));
  // 'close', not 'exit': it comes once the output has been read to the end.
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return {
    output: () => output,
    press: (keys) => child.stdin.write(keys),
    exited,
    signal(signal) {
      const pid = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
      process.kill(Number(pid), signal);
    },
    kill: () => child.kill('SIGKILL'),
  };
}
