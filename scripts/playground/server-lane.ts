// The playground's server lane: what the lesson server did, turned into timeline events. It reads
// the server's own proof records (lessons/shared/proof.ts: a job's state after every change, each
// stamped with the wall clock), and says what changed since the last one: a call arrived, a chunk
// was read, the cancel reached the job, the handler stopped, the file closed, the reply went out,
// the response stream closed. This channel is the playground's own: it never touches the MCP
// session the page is watching.
import type { ProofRecord } from '../../lessons/shared/proof.ts';
import { canSeeFileDescriptors, openDescriptorsTo } from '../../lessons/shared/testing.ts';

export interface LaneEvent {
  lane: 'client' | 'server';
  /** Wall-clock time, ms since the epoch (fractional). */
  at: number;
  kind: string;
  text: string;
  requestId?: string | number;
  /** The record or message behind the event, shown when it is hovered or focused. */
  detail?: unknown;
}

export interface Counters {
  runningHandlers: number;
  openFiles: number;
  openStreams: number;
  /** Response streams still open for a call whose handler has finished: held, not answered. */
  heldStreams: number;
}

type Job = {
  requestId: string | number;
  session?: string;
  jobNumber?: number;
  state: string;
  chunksDone: number;
  chunksTotal: number;
  cancelReceivedAtMs?: number;
  cancelToStopMs?: number;
  cancelReason?: string;
  fileHandle: string;
  responseStream: string;
  reply?: string;
  wall: number;
};

const isJob = (record: ProofRecord): record is ProofRecord & Job => record.type === 'job';

export class ServerLane {
  readonly #jobs = new Map<string, Job>();

  /** The events record `record` adds to the lane. */
  eventsOf(record: ProofRecord): LaneEvent[] {
    const at = (record as { wall?: number }).wall ?? Date.now();
    if (record.type === 'cancel') {
      const { requestId, matched } = record as { requestId?: string | number; matched: string };
      if (matched === 'running') return []; // the job's own record says it, next
      const text = `notifications/cancelled for #${JSON.stringify(requestId)}: matched ${matched}`;
      return [{ lane: 'server', at, kind: 'cancel received', text, requestId, detail: record }];
    }
    if (record.type === 'session') {
      const { state } = record as { state: string };
      return [{ lane: 'server', at, kind: `session ${state}`, text: `session ${state}`, detail: record }];
    }
    if (!isJob(record) || record.requestId === undefined) return [];
    const key = `${record.session ?? ''} ${record.jobNumber ?? ''} ${JSON.stringify(record.requestId)}`;
    const before = this.#jobs.get(key);
    this.#jobs.set(key, record);
    if ((record as { tool?: string }).tool !== 'process_large_file') return [];
    const id = record.requestId;
    const event = (kind: string, text: string): LaneEvent => ({
      lane: 'server',
      at,
      kind,
      text: `#${id} ${text}`,
      requestId: id,
      detail: record,
    });
    const events: LaneEvent[] = [];
    if (!before) events.push(event('call received', `tools/call received: ${record.chunksTotal} chunks`));
    for (let n = (before?.chunksDone ?? 0) + 1; n <= record.chunksDone; n++)
      events.push(event('chunk', `chunk ${n}/${record.chunksTotal}`));
    if (record.cancelReceivedAtMs !== undefined && before?.cancelReceivedAtMs === undefined)
      events.push(event('cancel received', `the cancel reached the handler's job (after chunk ${record.chunksDone})`));
    if (record.state !== before?.state && record.state !== 'running') {
      const stop =
        record.state === 'cancelled'
          ? `handler stopped after chunk ${record.chunksDone}/${record.chunksTotal}${record.cancelToStopMs === undefined ? '' : ` (${record.cancelToStopMs} ms after the cancel)`}`
          : `handler ${record.state}`;
      events.push(event('handler stopped', stop));
    }
    if (record.fileHandle === 'closed' && before?.fileHandle !== 'closed')
      events.push(event('file closed', 'file handle closed'));
    if (record.reply !== undefined && before?.reply === undefined)
      events.push(event('reply', `replied: ${record.reply}`));
    if (record.responseStream === 'closed' && before?.responseStream !== 'closed')
      events.push(event('stream closed', 'response stream closed'));
    return events;
  }

  counters(pid: number | undefined): Counters {
    const jobs = [...this.#jobs.values()];
    const open = jobs.filter((job) => job.responseStream === 'open');
    return {
      runningHandlers: jobs.filter((job) => job.state === 'running').length,
      // Read from the server process itself where /proc shows it: what it really holds open.
      openFiles:
        canSeeFileDescriptors && pid !== undefined
          ? safeDescriptors(pid)
          : jobs.filter((job) => job.fileHandle === 'open').length,
      openStreams: open.length,
      heldStreams: open.filter((job) => job.state !== 'running').length,
    };
  }
}

function safeDescriptors(pid: number): number {
  try {
    return openDescriptorsTo(pid, 'sample.txt');
  } catch {
    return 0; // the process has just exited
  }
}
