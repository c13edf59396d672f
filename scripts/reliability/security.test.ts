// Security checks that need no fleet of servers (every-lesson-server.test.ts has those): the 1.x
// lessons' Origin rule against SDK 2.x's, a cancel that reaches only its own session, and
// symlinks in a data folder.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { localhostAllowedOrigins, validateOriginHeader } from '@modelcontextprotocol/server';
import { OutsideDataFolderError, resolveInDataFolder } from '../../lessons/shared/data-folder.ts';
import { originIsAllowed } from '../../lessons/shared/http-guards.ts';
import { startLessonServer } from '../../lessons/shared/processes.ts';
import { openRawSession } from '../../lessons/shared/raw-mcp.ts';
import { scaled } from '../../lessons/shared/wait.ts';

const root = join(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'reliability-security-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test("the 1.x lessons' Origin rule is SDK 2.x's localhostOriginValidation rule", () => {
  const origins = [
    undefined,
    '',
    'http://localhost',
    'http://localhost:5173',
    'https://127.0.0.1:8443',
    'http://[::1]:3000',
    'null',
    'file://',
    'https://evil.example',
    'http://localhost.evil.example',
    'http://127.0.0.1.nip.io',
    'not a url',
    'chrome-extension://abcdef',
  ];
  for (const origin of origins) {
    assert.equal(
      originIsAllowed(origin),
      validateOriginHeader(origin, localhostAllowedOrigins()).ok,
      `Origin ${JSON.stringify(origin)}`,
    );
  }
});

describe('a cancel reaches only its own session', { timeout: scaled(30_000) }, () => {
  test('two sessions both run id 1: a cancel of 1 in one stops that one; the other reads on to the end', async () => {
    const server = await startLessonServer(join(root, 'lessons/01-cancel-by-id/server.ts'));
    try {
      const [a, b] = [await openRawSession(server.url), await openRawSession(server.url)];
      const call = {
        jsonrpc: '2.0' as const,
        id: 1,
        method: 'tools/call',
        params: { name: 'process_large_file', arguments: { path: 'sample.txt', chunks: 20, chunkDelayMs: 50 } },
      };
      const [inA, inB] = [await a.stream(call), await b.stream(call)];
      await server.waitForLine(/#1 chunk 2\/20/);
      const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } };
      assert.equal((await a.post(cancel)).status, 202);
      await Promise.all([inA.done, inB.done]);

      assert.equal((inA.messages.at(-1) as { error?: { code: number } }).error?.code, -32800);
      const last = inB.messages.at(-1) as { result?: { structuredContent?: { status: string; chunksDone: number } } };
      assert.equal(last.result?.structuredContent?.status, 'completed');
      assert.equal(last.result?.structuredContent?.chunksDone, 20);
      assert.equal(server.lines.filter((line) => /notifications\/cancelled for #1/.test(line)).length, 1);
    } finally {
      await server.stop();
    }
  });
});

test('a symlink in the data folder that leads out is refused; one that stays inside is followed', () => {
  const folder = join(scratch, 'data');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(scratch, 'secret.txt'), 'not yours');
  writeFileSync(join(folder, 'inside.txt'), 'yours');
  symlinkSync(join(scratch, 'secret.txt'), join(folder, 'link-out.txt'));
  symlinkSync(join(folder, 'inside.txt'), join(folder, 'link-in.txt'));
  assert.throws(() => resolveInDataFolder(folder, 'link-out.txt'), OutsideDataFolderError);
  assert.equal(readFileSync(resolveInDataFolder(folder, 'link-in.txt'), 'utf8'), 'yours');
  assert.throws(() => resolveInDataFolder(folder, '.'), OutsideDataFolderError);
});
