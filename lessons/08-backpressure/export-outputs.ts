// export_log's output files, behind its result's resource_link: the backpressure://outputs/{name}
// resource that serves a completed one with resources/read, and the folder cleared at start-up.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/server/tools#resource-links
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

/** The largest output one resources/read returns; bigger files are read from disk. */
const MAX_READ_BYTES = 16 * 1024 * 1024;

export const outputUri = (name: string) => `backpressure://outputs/${name}`;
export const megabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

/** Makes the output folder, and empties it of earlier runs' outputs: this lesson's exports can be large. */
export function clearOutputs(outputFolder: string) {
  mkdirSync(outputFolder, { recursive: true });
  for (const old of readdirSync(outputFolder)) rmSync(join(outputFolder, old), { force: true });
}

/** Serves each completed output as a resource; `outputLabel` is the folder as messages show it. */
export function registerOutputResource(server: McpServer, outputFolder: string, outputLabel: string) {
  server.registerResource(
    'export output',
    new ResourceTemplate('backpressure://outputs/{name}', { list: undefined }),
    { title: 'The full output of an export_log call', mimeType: 'text/plain' },
    async (uri, { name }) => {
      const file = completedOutput(outputFolder, String(name));
      const { size } = await stat(file);
      if (size > MAX_READ_BYTES) {
        throw new Error(
          `${name} is ${megabytes(size)}, more than one resources/read returns here (${megabytes(MAX_READ_BYTES)}); ` +
            `read it from ${outputLabel}/${name}`,
        );
      }
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: await readFile(file, 'utf8') }] };
    },
  );
}

/** A completed output file by name; partial ones and anything outside the folder are not served. */
function completedOutput(outputFolder: string, name: string): string {
  if (!/^[\w.-]+\.log$/.test(name) || name.includes('..')) {
    throw new Error(`"${name}" is not an export_log output name (like export-1a2b3c4d-3.log)`);
  }
  if (!readdirSync(outputFolder).includes(name)) {
    throw new Error(`no completed output named "${name}" (a cancelled export leaves none)`);
  }
  return join(outputFolder, name);
}
