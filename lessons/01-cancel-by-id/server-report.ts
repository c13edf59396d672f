// What the lesson 01 client prints of the server's own record of a call (get_job_status): the
// proof of a cancel is on the server's side.
import type { CallToolResult, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';

/** Any client that can call a tool: SDK 1.x's `Client` (client.ts) or SDK 2.x's (client-v2.ts). */
type ToolCaller = { callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown> };

export async function printServerReport(client: ToolCaller, id: RequestId, log: Timeline): Promise<void> {
  const status = (await client.callTool({ name: 'get_job_status', arguments: { requestId: id } })) as CallToolResult;
  const job = status.structuredContent;
  prove({ type: 'server-report', requestId: id, job });
  if (!job) {
    log.warn(
      `server has no record of #${id}: ${status.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ')}`,
    );
    return;
  }
  const stopped =
    job.state === 'cancelled'
      ? `stopped after chunk ${job.chunksDone}/${job.chunksTotal} ` +
        `(cancel arrived after chunk ${job.chunksDoneWhenCancelArrived}; stopped ${job.cancelToStopMs} ms later)`
      : `${job.state}, ${job.chunksDone}/${job.chunksTotal} chunks`;
  log.event(`server reports #${id}: ${stopped}`);
  log.event(
    `server reports #${id}: file handle ${job.fileHandle}, response stream ${job.responseStream}, replied ${job.reply ?? 'nothing yet'}`,
  );
}
