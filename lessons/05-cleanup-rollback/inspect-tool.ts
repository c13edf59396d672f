// Lesson 05's proof: `inspect_side_effects` reads what a process_large_file call can leave behind
// from the file system and the database, rather than from the job's own record.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Sql } from './database.ts';
import { countRows, findStoredResult } from './import-tables.ts';
import { readLockOwner } from './lock-file.ts';
import { paths } from './server-flags.ts';

export function registerInspectTool(server: McpServer, db: Sql) {
  server.registerTool(
    'inspect_side_effects',
    {
      title: 'Inspect side effects',
      description:
        'Reads the state a process_large_file call can leave behind, from the file system and the database: ' +
        'the lock file, temp dirs, report.txt, and, for an idempotency key, its rows and stored result.',
      inputSchema: { idempotencyKey: z.string().optional().describe('also count the rows and result of this key') },
      outputSchema: {
        lockFile: z.string().describe('"absent", or who holds it'),
        tempDirs: z.array(z.string()).describe('folders left in the temp area'),
        report: z.object({ exists: z.boolean(), sha256: z.string().optional(), firstLine: z.string().optional() }),
        rows: z
          .number()
          .optional()
          .describe("rows in the database under the key (committed ones: others can't be seen)"),
        storedResult: z.record(z.string(), z.unknown()).nullable().optional(),
      },
    },
    async ({ idempotencyKey }) => {
      const owner = await readLockOwner(paths.lock);
      const report = existsSync(paths.output) ? await readFile(paths.output) : undefined;
      const state = {
        lockFile: existsSync(paths.lock) ? `held by ${JSON.stringify(owner ?? 'unknown')}` : 'absent',
        tempDirs: await readdir(paths.temp),
        report: report
          ? {
              exists: true,
              sha256: createHash('sha256').update(report).digest('hex'),
              firstLine: report.toString('utf8').split('\n')[0],
            }
          : { exists: false },
        ...(idempotencyKey !== undefined && {
          rows: await countRows(db, idempotencyKey),
          storedResult: (await findStoredResult(db, idempotencyKey))?.result ?? null,
        }),
      };
      return { content: [{ type: 'text', text: JSON.stringify(state, null, 2) }], structuredContent: state };
    },
  );
}
