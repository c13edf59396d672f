// Lesson 13 server (SDK 1.x): lesson 01's `process_large_file` over stdio. The client spawns this
// process; stdin and stdout carry the protocol, so the timeline goes to stderr. A cancel arrives
// as `notifications/cancelled` on stdin; there is no stream to close or hold.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#stdio
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { noteCancel, stopReason } from '../01-cancel-by-id/cancellation.ts';
import { parseFlags } from '../shared/cli.ts';
import { lessonDataFolder, resolveInDataFolder } from '../shared/data-folder.ts';
import { JobBook, registerJobStatusTool, trackJob } from '../shared/jobs.ts';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';

parseFlags({}, 'Lesson 13 server (SDK 1.x, stdio). Its client starts it: npx tsx lessons/13-stdio/client.ts');
const log = createTimeline('server', (line) => process.stderr.write(`${line}\n`)); // stdout is the protocol
const data = lessonDataFolder(import.meta.dirname, 'sample.txt', 1024 * 1024);
const jobs = new JobBook(() => new Map()); // no response streams on stdio: one pipe carries every reply

const server = new McpServer({ name: 'lesson-13-stdio', version: '1.0.0' });
server.registerTool(
  'process_large_file',
  {
    title: 'Process a large file',
    description: 'Reads a file from the lesson data folder in `chunks` chunks, waiting `chunkDelayMs` after each.',
    inputSchema: {
      path: z.string().min(1).describe('a file inside the lesson data folder, e.g. "sample.txt"'),
      chunks: z.number().int().min(1).max(10_000).default(20).describe('how many chunks to split the file into'),
      chunkDelayMs: z.number().int().min(0).max(60_000).default(250).describe('pause after each chunk, in ms'),
    },
  },
  async ({ path, chunks, chunkDelayMs }, extra) => {
    const file = resolveInDataFolder(data.folder, path, data.label);
    const fields = { tool: 'process_large_file', file: path, chunksTotal: chunks };
    const job = trackJob(jobs, extra.requestId, fields, `${path}, ${chunks} chunks, ${chunkDelayMs} ms apart`, log);
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
        await sleep(chunkDelayMs, undefined, { signal: extra.signal }); // a cancel ends the wait at once
      }
      job.completed();
    } catch (error) {
      if (!extra.signal.aborted) throw job.failed(error);
      job.stopped(stopReason(extra.signal));
    } finally {
      await handle.close();
      job.fileClosed();
    }
    if (extra.signal.aborted) {
      // SDK 1.x drops what a cancelled handler returns (protocol.js). On stdio that is all: nothing is held open.
      job.reply = 'nothing';
      log.highlight(`#${extra.requestId} replying: nothing (the spec's default; stdio holds no stream for it)`);
    } else {
      job.reply = 'result';
      log.ok(`#${extra.requestId} completed: replying with the result`);
    }
    const text = `${job.state} after ${job.chunksDone} of ${chunks} chunks, sha256 ${hash.digest('hex')}`;
    return { content: [{ type: 'text', text }] };
  },
);
registerJobStatusTool(server, jobs);

const transport = new StdioServerTransport();
await server.connect(transport);
const sdkOnMessage = transport.onmessage; // see each cancel before the SDK acts on it
transport.onmessage = (message) => {
  noteCancel(jobs, message, log);
  sdkOnMessage?.(message);
};
// SDK 1.x does not watch stdin's end (server/stdio.js), and a host's close() ends stdin, then sends
// SIGTERM 2 s later (client/stdio.js). Closing the server aborts every running handler
// (shared/protocol.js `_onclose`), so each stops and closes its file, and the process can exit.
process.stdin.once('end', () => {
  const running = jobs.ids().filter((id) => jobs.get(id)?.state === 'running');
  prove({ type: 'stdin-closed', running });
  log.warn(`stdin closed: the host is going away; closing the server stops the ${running.length} running call(s)`);
  void server.close();
});
process.once('exit', (code) => prove({ type: 'server-exit', pid: process.pid, code }));
prove({ type: 'server-start', pid: process.pid, sdk: '1.x' });
log.event(`serving over stdio (SDK 1.x, pid ${process.pid}; data folder: ${data.label})`);
