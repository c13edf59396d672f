// What the lesson 02 clients print of the server's own record of a call (get_job_status), once the
// handler has finished: the proof of a cancel is on the server's side.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallToolResult, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';

/** Any client that can call a tool: SDK 1.x's `Client` (client.ts) or SDK 2.x's (client-v2.ts). */
type ToolCaller = { callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown> };

/**
 * Asks until the handler has finished: the SDK rejects the call the moment we abort, before the
 * server has even answered the cancel, so the first look may be early.
 */
export async function printServerReport(client: ToolCaller, id: RequestId, log: Timeline): Promise<void> {
  let job: Record<string, unknown> = {};
  for (let attempt = 0; attempt <= 100; attempt++) {
    const status = (await client.callTool({ name: 'get_job_status', arguments: { requestId: id } })) as CallToolResult;
    job = status.structuredContent ?? {};
    if (job.state !== 'running' && job.fileHandle !== 'open') break;
    await sleep(20);
  }
  prove({ type: 'server-report', requestId: id, job });
  log.event(
    `server reports #${JSON.stringify(id)}: ${String(job.state)} after chunk ${String(job.chunksDone)}/${String(job.chunksTotal)}, ` +
      `reason ${JSON.stringify(job.cancelReason ?? null)}, file handle ${String(job.fileHandle)}`,
  );
}
