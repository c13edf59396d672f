// export_log's result. A tool result is one JSON-RPC message: 120 MB of lines in it would be 120 MB
// more in both processes. So it carries at most `maxResultBytes` of whole lines, a note of how many
// it left out, and a resource_link to the full output (served by export-outputs.ts).
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/server/tools#resource-links
import { z } from 'zod';
import { outputUri } from './export-outputs.ts';

export const exportLogOutputSchema = {
  status: z.literal('completed'),
  lines: z.number(),
  bytes: z.number(),
  sha256: z.string().describe('of the full output'),
  linesInResult: z.number(),
  truncated: z.boolean(),
  uri: z.string().describe('the full output, as a resource'),
  liveLinesSent: z.number(),
  liveLinesSkipped: z.number(),
  waitsForRoom: z.number(),
};

export interface ExportDone {
  lines: number;
  bytes: number;
  sha256: string;
  liveLinesSent: number;
  liveLinesSkipped: number;
  waitsForRoom: number;
}

/** The result of a completed export of output `name`, whose first bytes (up to the cap) are `head`. */
export function cappedResult(name: string, head: string, done: ExportDone) {
  const { lines, bytes, sha256, liveLinesSent, liveLinesSkipped, waitsForRoom } = done;
  const linesInResult = head.split('\n').length - 1;
  const truncated = linesInResult < lines;
  const uri = outputUri(name);
  const result = { status: 'completed' as const, lines, bytes, sha256, linesInResult, truncated, uri };
  const note = truncated
    ? `\n[truncated: ${linesInResult} of ${lines} lines shown (${head.length} of ${bytes} bytes). The full output is ${uri}]`
    : '';
  return {
    content: [
      { type: 'text' as const, text: head.slice(0, head.lastIndexOf('\n') + 1) + note },
      { type: 'resource_link' as const, uri, name, mimeType: 'text/plain', size: bytes },
    ],
    structuredContent: { ...result, liveLinesSent, liveLinesSkipped, waitsForRoom },
  };
}
