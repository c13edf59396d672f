// Lesson 13 server (SDK 2.x): the same `process_large_file` over stdio. serveStdio reads the
// client's first message and serves that era (2025-11-25 after initialize, 2026-07-28 after
// server/discover); in both, a cancel arrives as `notifications/cancelled` on stdin.
//
// Spec: https://modelcontextprotocol.io/specification/2026-07-28/basic/patterns/cancellation
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';
import { noteCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { parseFlags } from '../shared/cli.ts';
import { lessonDataFolder, resolveInDataFolder } from '../shared/data-folder.ts';
import { JobBook, jobReportSchema, trackJob } from '../shared/jobs.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';

parseFlags({}, 'Lesson 13 server (SDK 2.x, stdio). Its client starts it: npx tsx lessons/13-stdio/client-v2.ts');
const log = createTimeline('server', (line) => process.stderr.write(`${line}\n`)); // stdout is the protocol
const data = lessonDataFolder(import.meta.dirname, 'sample.txt', 1024 * 1024);
const jobs = new JobBook(() => new Map()); // no response streams on stdio: one pipe carries every reply

const wire = new StdioServerTransport();
const connection = serveStdio(
  ({ era }) => {
    prove({ type: 'server-era', pid: process.pid, era });
    log.event(`the client's first message chose the ${era === 'modern' ? '2026-07-28' : '2025-11-25'} era`);
    const server = new McpServer({ name: 'lesson-13-stdio-v2', version: '1.0.0' });
    server.registerTool(
      'process_large_file',
      {
        description: 'Reads a file from the lesson data folder in `chunks` chunks, waiting `chunkDelayMs` after each.',
        inputSchema: z.object({
          path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
          chunks: z.number().int().min(1).max(10_000).default(20),
          chunkDelayMs: z.number().int().min(0).max(60_000).default(250),
        }),
      },
      async ({ path, chunks, chunkDelayMs }, ctx) => {
        const { id, signal } = ctx.mcpReq;
        const file = resolveInDataFolder(data.folder, path, data.label);
        const fields = { tool: 'process_large_file', file: path, chunksTotal: chunks };
        const job = trackJob(jobs, id, fields, `${path}, ${chunks} chunks, ${chunkDelayMs} ms apart`, log);
        const handle = await open(file, 'r');
        job.fileOpened();
        const hash = createHash('sha256');
        try {
          const { size } = await handle.stat();
          const chunkSize = Math.ceil(size / chunks);
          const buffer = Buffer.alloc(chunkSize);
          for (let i = 0; i < chunks; i++) {
            const read = await handle.read(buffer, 0, chunkSize, i * chunkSize);
            hash.update(buffer.subarray(0, read.bytesRead));
            job.chunkDone();
            await sleep(chunkDelayMs, undefined, { signal }); // a cancel ends the wait at once
          }
          job.completed();
        } catch (error) {
          if (!signal.aborted) throw job.failed(error);
          job.stopped(stopReason(signal));
        } finally {
          await handle.close();
          job.fileClosed();
        }
        job.reply = signal.aborted ? 'nothing' : 'result'; // the SDK sends nothing for an aborted request
        if (signal.aborted) log.highlight(`#${id} replying: nothing (the SDK drops it; stdio holds no stream)`);
        else log.ok(`#${id} completed: replying with the result`);
        const text = `${job.state} after ${job.chunksDone} of ${chunks} chunks, sha256 ${hash.digest('hex')}`;
        return { content: [{ type: 'text', text }] };
      },
    );
    server.registerTool(
      'get_job_status',
      {
        description: 'Reports a tools/call of this connection by its JSON-RPC request id.',
        inputSchema: z.object({ requestId: z.union([z.number().int(), z.string()]) }),
        outputSchema: z.object(jobReportSchema),
      },
      async ({ requestId }) => {
        const job = jobs.get(requestId);
        if (!job) throw new Error(`No job with request id ${JSON.stringify(requestId)}: ${JSON.stringify(jobs.ids())}`);
        const report = jobs.report(job);
        return { content: [{ type: 'text', text: JSON.stringify(report) }], structuredContent: report };
      },
    );
    return server;
  },
  { transport: wire },
);
void connection;
const sdkOnMessage = wire.onmessage; // see each cancel before the SDK acts on it
wire.onmessage = (message) => {
  noteCancel(jobs, message as never, log);
  sdkOnMessage?.(message);
};
process.stdin.once('end', () => {
  const running = jobs.ids().filter((id) => jobs.get(id)?.state === 'running');
  prove({ type: 'stdin-closed', running });
  log.warn(`stdin closed, ${running.length} call(s) running: SDK 2.x closes the connection`);
});
process.once('exit', (code) => prove({ type: 'server-exit', pid: process.pid, code }));
prove({ type: 'server-start', pid: process.pid, sdk: '2.x' });
log.event(`serving over stdio (SDK 2.x, pid ${process.pid}; data folder: ${data.label})`);
