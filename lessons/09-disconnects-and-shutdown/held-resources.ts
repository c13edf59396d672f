// What a server process holds for its clients, counted three ways: the shared wiring's record of
// response streams, the SDK transport's own stream table, and the kernel's list of TCP connections.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export const heldResourcesSchema = {
  openResponseStreams: z
    .number()
    .describe("this session's request responses (SSE streams) still open, not counting this call's"),
  sdkStreams: z
    .number()
    .describe("the SDK transport's open request streams, each with its own keep-alive timer, not counting this call's"),
  sdkRequestMappings: z.number().describe("the SDK transport's request-id-to-stream entries, not counting this call's"),
  tcpConnections: z
    .number()
    .nullable()
    .describe("established TCP connections this process holds on its port, this call's included (null: no /proc)"),
};

export type HeldResources = { [K in keyof typeof heldResourcesSchema]: z.infer<(typeof heldResourcesSchema)[K]> };

/**
 * The SDK 1.x transport's stream tables are private. Reading them here is diagnosis only, never
 * something to build on: a test pins their names, so an SDK upgrade that renames them fails loudly.
 */
interface TransportInternals {
  _webStandardTransport: {
    _streamMapping: Map<string, unknown>;
    _requestToStreamMapping: Map<RequestId, string>;
    _standaloneSseStreamId: string;
  };
}

export function countHeldResources(
  transport: StreamableHTTPServerTransport,
  port: number,
  ownRequestId: RequestId,
  openResponseStreams: number,
): HeldResources {
  return {
    openResponseStreams,
    ...countSdkStreams(transport, ownRequestId),
    tcpConnections: establishedConnections(process.pid, port),
  };
}

/**
 * The SDK transport's open request streams (the standalone GET stream left out) and its
 * request-id-to-stream entries, not counting request `ownRequestId`'s when one is given.
 */
export function countSdkStreams(transport: StreamableHTTPServerTransport, ownRequestId?: RequestId) {
  const inner = (transport as unknown as TransportInternals)._webStandardTransport;
  const ownStream = ownRequestId === undefined ? undefined : inner._requestToStreamMapping.get(ownRequestId);
  const streams = [...inner._streamMapping.keys()].filter((id) => id !== inner._standaloneSseStreamId);
  return {
    sdkStreams: streams.filter((id) => id !== ownStream).length,
    sdkRequestMappings: [...inner._requestToStreamMapping.keys()].filter((id) => id !== ownRequestId).length,
  };
}

/**
 * Established TCP connections on local `port` held by process `pid`: the socket inodes in
 * /proc/PID/net/tcp{,6} in state 01 (ESTABLISHED), intersected with the process's open descriptors.
 * Linux only; null elsewhere.
 */
export function establishedConnections(pid: number, port: number): number | null {
  let tables: string;
  try {
    tables = ['tcp', 'tcp6'].map((t) => readFileSync(`/proc/${pid}/net/${t}`, 'utf8')).join('\n');
  } catch {
    return null;
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const line of tables.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '01') inodes.add(fields[9]!);
  }
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode && inodes.has(inode)) count++;
    } catch {
      // closed while we looked
    }
  }
  return count;
}

/** Whether the session's standalone SSE stream (opened by the client's GET) is open; it has a keep-alive timer too. */
export function hasStandaloneStream(transport: StreamableHTTPServerTransport): boolean {
  const inner = (transport as unknown as TransportInternals)._webStandardTransport;
  return inner._streamMapping.has(inner._standaloneSseStreamId);
}

/** The client's side: what the server's count_held_resources tool reports now. */
export const countHeld = async (client: Client) =>
  (await client.callTool({ name: 'count_held_resources', arguments: {} })).structuredContent as HeldResources;

/** The counts in one line, as the client prints them. */
export const describeHeld = (r: HeldResources) =>
  `${r.openResponseStreams} open response streams, ${r.sdkStreams} SDK streams with a keep-alive timer, ` +
  `${r.sdkRequestMappings} request-to-stream entries, ${r.tcpConnections ?? '?'} TCP connections`;
