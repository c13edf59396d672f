// What the lesson 05 client asks the server about a call, and how it prints the answers: the
// server's own record of the call (get_job_status), and the state it left behind, read from the
// file system and the database (inspect_side_effects).
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';

export interface SideEffects {
  lockFile: string;
  tempDirs: string[];
  report: { exists: boolean; sha256?: string };
  rows?: number;
  storedResult?: Record<string, unknown> | null;
}

export interface ImportResult {
  rows: number;
  batches: number;
  outputSha256: string;
  completedAt: string;
  replayed: boolean;
}

export const short = (sha: string | undefined) => (sha ? `sha256 ${sha.slice(0, 12)}…` : 'absent');
export const textOf = (result: CallToolResult) =>
  result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ');

export async function inspect(client: Client, key: string): Promise<SideEffects> {
  const result = await client.callTool({ name: 'inspect_side_effects', arguments: { idempotencyKey: key } });
  prove({ type: 'side-effects', key, ...(result.structuredContent as object) });
  return result.structuredContent as unknown as SideEffects;
}

export function describeState(state: SideEffects): string {
  const temp = state.tempDirs.length === 0 ? 'no temp dir' : `temp dirs ${state.tempDirs.join(', ')}`;
  const lock = state.lockFile === 'absent' ? 'lock free' : `lock ${state.lockFile}`;
  const stored = state.storedResult ? 'a stored result' : 'no stored result';
  return `${state.rows} rows and ${stored} for the key; ${lock}; ${temp}; report.txt ${short(state.report.sha256)}`;
}

/** Waits until the server has finished with call `id` (its `finally` has run), and returns its record. */
export async function jobWhenDone(client: Client, id: RequestId): Promise<Record<string, unknown>> {
  for (;;) {
    const status = await client.callTool({ name: 'get_job_status', arguments: { requestId: id } });
    const job = status.structuredContent as { state: string; resources?: Record<string, string> } | undefined;
    if (job && job.state !== 'running' && job.resources?.lock !== 'held') {
      prove({ type: 'server-report', requestId: id, job });
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The server's record of a call, as the client prints it: how it ended, and what became of each resource. */
export function describeJob(state: string, resources: Record<string, string>): string {
  return (
    `${state}; cancel arrived after "${resources['cancel arrived after'] ?? '-'}"; ` +
    `transaction ${resources.transaction ?? 'never begun'}, temp dir ${resources['temp dir'] ?? 'never created'}, ` +
    `lock ${resources.lock}, output ${resources.output}`
  );
}

/** What a retry got back, and whether the server ran the import for it (its record has a temp dir) or nothing. */
export async function retryResult(
  client: Client,
  result: CallToolResult,
  id: RequestId,
  log: Timeline,
): Promise<ImportResult> {
  const out = result.structuredContent as unknown as ImportResult;
  if (result.isError) {
    log.fail(`<- tool error: ${textOf(result)}`);
    process.exit(1);
  }
  const record = await jobWhenDone(client, id);
  const ran = (record.resources as Record<string, string>)['temp dir'] !== undefined;
  prove({ type: 'retry', requestId: id, ...out, ran });
  log.ok(
    `<- ${out.replayed ? 'the stored result (replayed: true)' : 'completed'}: ${out.rows} rows in ${out.batches} batches, ` +
      `report.txt ${short(out.outputSha256)}; the server ${ran ? 'ran the import' : 'ran nothing'}`,
  );
  return out;
}
