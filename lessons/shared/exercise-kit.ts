// What an exercise check is made of (`npm run learn` runs them, scripts/learn.ts): the learner's
// server started on a free port as a real process, its proof records read (proof.ts), and findings
// said in plain words. Each lesson's `exercise-check.ts` holds its own checks.
import { relative } from 'node:path';
import { readProofRecords, startLessonServer } from './processes.ts';
import type { JobRecord } from './proof.ts';
import type { Program } from './throwaway-services.ts';

readProofRecords();

/** One thing the check looked at: what it is, whether it held, and what was seen. */
export interface Finding {
  check: string;
  ok: boolean;
  /** What was seen, in plain words: "the handler read 18 more chunks after the cancel". */
  seen: string;
}

export interface Exercise {
  /** The lesson's number, as `npm run learn -- 01` takes it. */
  lesson: string;
  title: string;
  /** The file the learner works in, and the lesson's own file that solves it (paths from the repository root). */
  file: string;
  solution: string;
  /** Programs the check starts beside the server (its test skips without them, as the lesson's does). */
  needs?: Program[];
  /** What to do, in a sentence or two. */
  asks: string;
  /** Given one at a time, on request (`npm run learn -- 01 --hint`). */
  hints: string[];
  /** Checks `serverFile` (the exercise, or any file in its place) and returns what it found, in order. */
  check(serverFile: string): Promise<Finding[]>;
}

export type LessonServer = Awaited<ReturnType<typeof startLessonServer>>;

/** The findings of one check run, and what it started: stopped when the check ends, whatever happens. */
export class CheckRun {
  readonly findings: Finding[] = [];
  readonly #cleanups: (() => Promise<unknown> | unknown)[] = [];

  constructor(readonly root: string) {}

  /** Starts `file` as a lesson server on a free port; it is stopped when the check ends. */
  async startServer(file: string, args: string[] = []): Promise<LessonServer> {
    let server: LessonServer;
    try {
      server = await startLessonServer(file, args);
    } catch (error) {
      const why = (error as Error).message.split('\n--- output so far ---\n');
      throw new CheckStopped(
        'the server starts',
        `${relative(this.root, file)} did not start listening:\n${why[1] ?? why[0]}`,
      );
    }
    this.afterwards(() => server.stop());
    return server;
  }

  afterwards(cleanup: () => Promise<unknown> | unknown): void {
    this.#cleanups.unshift(cleanup);
  }

  /** Records a finding; returns whether it held. */
  expect(check: string, ok: boolean, seen: string): boolean {
    this.findings.push({ check, ok, seen });
    return ok;
  }

  /** A finding the later ones depend on: when it does not hold, the check ends here. */
  require(check: string, ok: boolean, seen: string): void {
    if (!ok) throw new CheckStopped(check, seen);
    this.findings.push({ check, ok, seen });
  }

  async cleanUp(): Promise<void> {
    for (const cleanup of this.#cleanups) await Promise.resolve(cleanup()).catch(() => undefined);
  }
}

class CheckStopped extends Error {
  constructor(
    readonly check: string,
    readonly seen: string,
  ) {
    super(seen);
  }
}

/** Runs `body` as one check of `root`'s exercise and returns its findings; anything it started is stopped. */
export async function runCheck(root: string, body: (run: CheckRun) => Promise<void>): Promise<Finding[]> {
  const run = new CheckRun(root);
  try {
    await body(run);
  } catch (error) {
    if (error instanceof CheckStopped) run.findings.push({ check: error.check, ok: false, seen: error.seen });
    else run.findings.push({ check: 'the check runs to its end', ok: false, seen: `it failed: ${String(error)}` });
  } finally {
    await run.cleanUp();
  }
  return run.findings;
}

/** What `promise` resolves with within `ms`, or undefined: for a condition that may never come. */
export async function within<T>(ms: number, promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The latest record of job `requestId` the server handed over, if any. */
export function latestJob(server: LessonServer, requestId: string | number): JobRecord | undefined {
  return server
    .proof()
    .filter((record): record is JobRecord => record.type === 'job' && record.requestId === requestId)
    .at(-1);
}

/** "1 more chunk", "18 more chunks". */
export const moreChunks = (n: number) => `${n} more chunk${n === 1 ? '' : 's'}`;
