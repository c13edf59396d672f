// Lesson 05 in SDK 2.x: the same clean-up under ctx.mcpReq.signal. A small 2.x server in this process
// (createMcpHandler, 2026-07-28, over real HTTP on 127.0.0.1) runs lesson 05's shape of work: rows
// INSERTed batch by batch in one PGlite transaction (database.ts) and a temp file, with a pause per
// batch that the signal cuts short. A 2.x client aborts the call: ROLLBACK, temp file removed.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { scaled, waitFor } from '../shared/wait.ts';
import { openPglite } from './database.ts';

describe(
  'lesson 05 in SDK 2.x: a cancel rolls back the transaction and removes the temp file',
  { timeout: scaled(60_000) },
  () => {
    test('2026-07-28: the client aborts mid-import; no rows, no temp file, the handler saw ctx.mcpReq.signal', async () => {
      const folder = mkdtempSync(join(tmpdir(), 'lesson05-v2-'));
      const db = await openPglite(join(folder, 'pglite'));
      await db.query('CREATE TABLE imported (batch integer, line integer)');
      const tempPath = join(folder, 'report.txt.tmp');
      const run = { batchesDone: 0, outcome: '', rowsSeenInTransaction: 0 };

      const handler = createMcpHandler(() => {
        const server = new McpServer({ name: 'lesson-05-v2-probe', version: '1.0.0' });
        server.registerTool(
          'process_large_file',
          { inputSchema: z.object({ batches: z.number() }) },
          async ({ batches }, ctx) => {
            const signal = ctx.mcpReq.signal; // 1.x's extra.signal
            const report = await open(tempPath, 'w');
            try {
              await db.transaction(async (tx) => {
                for (let b = 1; b <= batches; b++) {
                  await tx.query('INSERT INTO imported SELECT $1, g FROM generate_series(1, 100) g', [b]);
                  await report.write(`batch ${b}\n`);
                  run.batchesDone = b;
                  run.rowsSeenInTransaction = Number(
                    (await tx.query<{ n: string }>('SELECT count(*) AS n FROM imported'))[0]!.n,
                  );
                  await sleep(100, undefined, { signal }); // a cancel throws here: db.transaction sends ROLLBACK
                }
              });
              run.outcome = 'committed';
            } catch (error) {
              run.outcome = signal.aborted ? 'rolled back' : `failed: ${(error as Error).message}`;
              throw error;
            } finally {
              await report.close();
              await rm(tempPath, { force: true });
            }
            return { content: [{ type: 'text', text: 'imported' }] };
          },
        );
        return server;
      });
      const http = createServer(toNodeHandler(handler));
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
      const client = new Client(
        { name: 'lesson-05-v2', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      try {
        await client.connect(new StreamableHTTPClientTransport(new URL(url)));
        const controller = new AbortController();
        const call = client.callTool(
          { name: 'process_large_file', arguments: { batches: 50 } },
          { signal: controller.signal },
        );
        const settled = call.catch((error: Error) => error);
        await waitFor('three batches in the transaction', () => run.batchesDone >= 3);
        assert.ok(existsSync(tempPath), 'the temp file exists while the import runs');
        controller.abort('user changed their mind');
        assert.ok((await settled) instanceof Error);
        await waitFor('the handler to roll back', () => run.outcome !== '');
        assert.equal(run.outcome, 'rolled back');
        assert.ok(run.rowsSeenInTransaction >= 300, 'rows were inserted inside the transaction');
        assert.equal(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM imported'))[0]!.n), 0);
        await waitFor('the temp file to go', () => !existsSync(tempPath));
        assert.ok(run.batchesDone < 50);
      } finally {
        await client.close();
        await handler.close();
        http.closeAllConnections();
        http.close();
        await db.close();
        rmSync(folder, { recursive: true, force: true });
      }
    });
  },
);
