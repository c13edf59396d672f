// Helpers for lesson tests: an SDK client that records what it sends, and a look at the file
// descriptors a server process really holds (Linux /proc), independent of the server's own bookkeeping.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { ProofRecord } from './proof.ts';

export interface RecordingClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Every message the client has sent, in order. */
  sent: JSONRPCMessage[];
  /** Ends the session (DELETE) and closes the client. */
  close(): Promise<void>;
}

export async function connectRecordingClient(url: string): Promise<RecordingClient> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const sent: JSONRPCMessage[] = [];
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    sent.push(...(Array.isArray(message) ? message : [message]));
    return send(message, options);
  };
  const client = new Client({ name: 'lesson-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    transport,
    sent,
    async close() {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** The text of a tool result's content, joined. */
export const textOf = (result: object) =>
  (((result as { content?: unknown }).content ?? []) as CallToolResult['content'])
    .map((c) => (c.type === 'text' ? c.text : ''))
    .join('\n');

export const canSeeFileDescriptors = existsSync('/proc/self/fd');

/** How many file descriptors of process `pid` point at a path ending in `suffix` (Linux only). */
export function openDescriptorsTo(pid: number, suffix: string): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).endsWith(suffix)) count++;
    } catch {
      // closed while we looked
    }
  }
  return count;
}

/** The `error.message` of a JSON-RPC error response body. */
export async function jsonRpcErrorMessage(response: Response): Promise<string> {
  const body = (await response.json()) as { error?: { message?: string } };
  return body.error?.message ?? `(no JSON-RPC error in ${JSON.stringify(body)})`;
}

/** Index of the first line (from `from` on) matching `pattern`; fails with the whole output when there is none. */
export function lineIndex(lines: string[], pattern: RegExp, from = 0): number {
  const index = lines.findIndex((line, i) => i >= from && pattern.test(line));
  assert.notEqual(index, -1, `no line matches ${pattern} in:\n${lines.join('\n')}`);
  return index;
}

/** Fails unless each pattern's first matching line comes after the previous one's. */
export function assertInOrder(lines: string[], patterns: RegExp[]) {
  const order = patterns.map((pattern) => lineIndex(lines, pattern));
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
    `not in the order ${patterns.join(', ')}:\n${lines.join('\n')}`,
  );
}

/** A proof record (proof.ts) as a test reads it: any field may be asked for. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Proof = { type: string; [field: string]: any };

/** The proof records of `type` that a process has handed its test so far, in order. */
export const proofOf = (process: { proof(): ProofRecord[] }, type: string): Proof[] =>
  process.proof().filter((record) => record.type === type) as Proof[];

/** The one proof record of `type`; fails, showing them all, unless there is exactly one. */
export function onlyProof(process: { proof(): ProofRecord[] }, type: string): Proof {
  const found = proofOf(process, type);
  assert.equal(
    found.length,
    1,
    `expected one "${type}" record in:\n${process
      .proof()
      .map((r) => JSON.stringify(r))
      .join('\n')}`,
  );
  return found[0]!;
}

/**
 * Index of the first proof record that `matches`; fails, showing them all, when there is none.
 * For order: what happened first was recorded first.
 */
export function proofIndex(records: ProofRecord[], what: string, matches: (record: Proof) => boolean): number {
  const index = records.findIndex((record) => matches(record as Proof));
  assert.notEqual(index, -1, `no proof record of ${what} in:\n${records.map((r) => JSON.stringify(r)).join('\n')}`);
  return index;
}

/** Fails unless each step's first record comes after the previous step's. */
export function assertProvedInOrder(records: ProofRecord[], steps: [string, (record: Proof) => boolean][]) {
  const order = steps.map(([what, matches]) => proofIndex(records, what, matches));
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
    `not in the order ${steps.map(([what]) => what).join(', ')}:\n${records.map((r) => JSON.stringify(r)).join('\n')}`,
  );
}

/** Matches job records of `requestId` (with its JSON type) for which `holds` is true. */
export const jobWhere =
  (requestId: string | number, holds: (job: Proof) => boolean = () => true) =>
  (record: Proof) =>
    record.type === 'job' && record.requestId === requestId && holds(record);

/**
 * True when git says `file` (absolute, or from the repository root) is as committed: an exercise
 * file a learner is working on is not the exercise as given, and tests of it as given skip.
 */
export const asShipped = (file: string): boolean =>
  spawnSync('git', ['diff', '--quiet', 'HEAD', '--', file], { cwd: join(import.meta.dirname, '../..') }).status === 0;
