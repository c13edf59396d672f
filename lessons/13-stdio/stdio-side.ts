// The plumbing both lesson 13 clients share, which a reader is not here to learn: how to spawn the
// server (tsx, or the test command's bundle), its stderr shown as the server's side of the timeline,
// the server's stdin ended by hand (--close-stdin-after), and the server's report printed.
import { isAbsolute, join } from 'node:path';
import type { Readable, Stream, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { prove } from '../shared/proof.ts';
import { QUICK_START_FLAGS, quickStartFor } from '../shared/quick-starts.ts';
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

/** How to start `name` (beside this file, or a full path): node + tsx, or node + its bundle under the test command. */
export function serverCommand(name: string, args: string[]) {
  const file = isAbsolute(name) ? name : join(import.meta.dirname, name);
  const bundle = quickStartFor(file);
  // The proof file (tests only) and colour: the SDK passes a child only a few safe variables by default.
  const env: Record<string, string> = { FORCE_COLOR: process.env.FORCE_COLOR ?? '1' };
  if (process.env.LESSON_PROOF_FILE) env.LESSON_PROOF_FILE = process.env.LESSON_PROOF_FILE;
  if (process.env.LESSON_QUICK_STARTS) env.LESSON_QUICK_STARTS = process.env.LESSON_QUICK_STARTS;
  const nodeArgs = bundle ? [...QUICK_START_FLAGS, bundle] : ['--import', 'tsx', file];
  return { command: process.execPath, args: [...nodeArgs, ...args], env, stderr: 'pipe' as const };
}

/** The server's stderr (its timeline: stdout is the protocol) printed as it arrives. */
export function showServerStderr(stderr: Stream | null) {
  if (stderr) createInterface({ input: stderr as Readable }).on('line', (line) => console.log(line));
}

type WithChild = { _process?: { pid?: number; stdin?: Writable | null } };

/** The spawned server's pid (the SDK's private child process: both lines call it `_process`). */
export const serverPid = (transport: unknown) => (transport as WithChild)._process?.pid;

/** True while process `pid` runs (signal 0 only checks). */
export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ends the server's stdin, as a host that goes away does; stdout stays open, so replies still arrive. */
export function closeServerStdin(transport: unknown, log: Timeline) {
  const child = (transport as WithChild)._process;
  if (!child?.stdin) throw new Error('SDK changed: StdioClientTransport._process is gone');
  log.highlight(`closing the server's stdin (pid ${child.pid}); no notifications/cancelled`);
  child.stdin.end();
}

interface JobReport {
  state: string;
  chunksDone: number;
  chunksTotal: number;
  chunksDoneWhenCancelArrived?: number;
  cancelToStopMs?: number;
  fileHandle: string;
  reply?: string;
}

/** Asks the server over the same stdio for its record of call `id`, and prints it. */
export async function printServerReport(
  client: { callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown> },
  id: string | number,
  log: Timeline,
) {
  // Asked until the handler has finished, its file's close and its reply included.
  const job = await waitFor('the server to finish with the call', async () => {
    const status = (await client.callTool({ name: 'get_job_status', arguments: { requestId: id } })) as {
      structuredContent?: JobReport;
    };
    const report = status.structuredContent;
    return report && report.state !== 'running' && report.reply !== undefined && report;
  });
  prove({ type: 'server-report', requestId: id, job });
  if (!job) {
    log.warn(`server has no record of #${id}`);
    return undefined;
  }
  const stopped =
    job.state === 'cancelled'
      ? `stopped after chunk ${job.chunksDone}/${job.chunksTotal} (cancel arrived after chunk ` +
        `${job.chunksDoneWhenCancelArrived}; stopped ${job.cancelToStopMs} ms later)`
      : `${job.state}, ${job.chunksDone}/${job.chunksTotal} chunks`;
  log.event(`<- get_job_status over stdio: #${id} ${stopped}`);
  log.event(`<- get_job_status over stdio: #${id} file handle ${job.fileHandle}, replied ${job.reply ?? 'nothing'}`);
  return job;
}
