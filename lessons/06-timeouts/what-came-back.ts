// Lesson 06 client: what came back, said on the client's timeline: a call's error, the cancel the
// SDK sent for it, the late reply the SDK no longer waited for, and the server's account of the job.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError, type CallToolResult, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';
import type { Wire } from './wire.ts';

export interface JobReport {
  state: string;
  chunksDone: number;
  chunksTotal: number;
  cancelReason?: string;
  fileHandle: string;
  resources?: Record<string, string>;
  reply?: string;
}

export const describeError = (error: unknown) =>
  error instanceof McpError
    ? `McpError ${error.code} "${error.message}"${error.data === undefined ? '' : ` data ${JSON.stringify(error.data)}`}`
    : String(error);

export const textOf = (result: CallToolResult) =>
  result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');

export function whatCameBack(client: Client, wire: Wire, log: Timeline) {
  async function jobStatus(id: RequestId): Promise<JobReport> {
    const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
    return status.structuredContent as unknown as JobReport;
  }

  /** The server's account of a job, once its reply reached this client. */
  async function serverAccount(id: RequestId): Promise<JobReport> {
    await waitFor(`the server's reply to #${id}`, () => wire.repliesTo(id).length > 0, { timeoutMs: 10_000 });
    const job = await jobStatus(id);
    prove({ type: 'server-report', requestId: id, job });
    const how =
      job.state === 'completed'
        ? `completed all ${job.chunksTotal} chunks`
        : `${job.state} after chunk ${job.chunksDone}/${job.chunksTotal}, stopped by the ${job.resources?.['stopped by']}`;
    log.event(`server reports #${id}: ${how}; file handle ${job.fileHandle}; replied ${job.reply}`);
    return job;
  }

  /** After the SDK gave up on a request, the server's answer still arrives; the SDK hands it to onerror. */
  async function showLateReply(id: RequestId) {
    await waitFor(`the server's reply to #${id}`, () => wire.repliesTo(id).length > 0, { timeoutMs: 10_000 });
    const reply = wire.repliesTo(id)[0]!;
    if ('error' in reply) {
      const { code, message, data } = reply.error;
      log.detail(
        `<- #${id} late reply, which the SDK passes to onerror: error ${code} "${message}" ${JSON.stringify(data)}`,
      );
    }
  }

  function cancelSent(id: RequestId, who: string) {
    const cancel = wire.cancelsSentFor(id).at(-1);
    if (cancel) log.highlight(`${who} sent notifications/cancelled ${JSON.stringify(cancel.params)}`);
    else log.warn(`no notifications/cancelled was sent for #${id}`);
  }

  return { jobStatus, serverAccount, showLateReply, cancelSent };
}
