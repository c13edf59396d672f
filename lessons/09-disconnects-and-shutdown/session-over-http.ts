// Calling a tool in an existing session with nothing but fetch and its Mcp-Session-Id header:
// how a client that closed its SDK transport (or a test whose client was killed) can still ask the
// server about a job. The session belongs to the server; a connection is only a way in. And two
// readings of the job it reports, as the lesson's client prints them.
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import type { jobReportSchema } from '../shared/jobs.ts';
import type { z } from 'zod';

type Shape = typeof jobReportSchema;
export type JobReport = { [K in keyof Shape]: z.infer<Shape[K]> };

let nextId = 0;

/** POSTs a tools/call in session `sessionId` and returns its result (the SSE body is read to the end). */
export async function callToolInSession(
  url: string,
  sessionId: string,
  name: string,
  args: Record<string, unknown>,
): Promise<{ isError?: boolean; structuredContent?: unknown; content?: { text?: string }[] }> {
  // A string id of our own: it cannot collide with the numbers the SDK client used in this session.
  const id = `over-http-${++nextId}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId,
      'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }),
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${body}`);
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const message = JSON.parse(line.slice('data: '.length)) as { id?: unknown; result?: never; error?: unknown };
    if (message.id === id && message.result) return message.result;
    if (message.id === id) throw new Error(`JSON-RPC error: ${JSON.stringify(message.error)}`);
  }
  throw new Error(`no reply to ${id} in: ${body}`);
}

/** The server's `get_job_status` report of request `requestId` in session `sessionId`. */
export async function jobStatusInSession(url: string, sessionId: string, requestId: string | number) {
  const result = await callToolInSession(url, sessionId, 'get_job_status', { requestId });
  if (result.isError) throw new Error(result.content?.[0]?.text ?? 'get_job_status failed');
  return result.structuredContent as JobReport;
}

/** Ends session `sessionId` (HTTP DELETE): the server aborts whatever still runs in it. */
export async function deleteSession(url: string, sessionId: string): Promise<number> {
  const response = await fetch(url, {
    method: 'DELETE',
    headers: { 'mcp-session-id': sessionId, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
  });
  return response.status;
}

/** The job has ended and its `finally` has run: file closed, scratch file removed. */
export const cleanedUp = (job: JobReport) =>
  job.state !== 'running' && job.fileHandle === 'closed' && job.resources?.['scratch file'] === 'removed';

/** How the job ended, in a few words: ran on to completion, or stopped after chunk N, and by what. */
export const howItEnded = (job: JobReport) =>
  job.state === 'completed'
    ? `ran on to completion: ${job.chunksDone}/${job.chunksTotal} chunks`
    : `${job.state} after chunk ${job.chunksDone}/${job.chunksTotal} (${job.resources?.['stopped by'] ?? '?'})`;
