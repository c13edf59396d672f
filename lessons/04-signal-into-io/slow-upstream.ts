// A slow upstream HTTP service, started inside the lesson server on a free 127.0.0.1 port: it
// streams `chunks` lines, `delayMs` apart, and records for each response whether it finished or
// whether the client closed the connection first. That record is the upstream's own proof that a
// cancelled fetch really hung up.
import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Job } from '../shared/jobs.ts';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';

export interface UpstreamResponse {
  /** Shown in the log, e.g. "#1". */
  tag: string;
  /** Unique per request: tells the caller which of its jobs this response served. */
  key: string;
  chunksTotal: number;
  chunksSent: number;
  /** 'sending' until the response ends one way or the other. */
  state: 'sending' | 'sent in full' | 'closed by the client';
}

export interface SlowUpstream {
  /** `${url}?chunks=N&delayMs=D&tag=T&key=K` streams N lines, D ms apart. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** One line per chunk, the same for every reader: `chunk 3/20 <sha256 of "3">`. */
export const upstreamLine = (i: number, total: number) =>
  `chunk ${i}/${total} ${createHash('sha256').update(String(i)).digest('hex')}\n`;

export async function startSlowUpstream(
  log: Timeline,
  onEnd: (response: UpstreamResponse) => void = () => {},
): Promise<SlowUpstream> {
  const server = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://upstream').searchParams;
    const chunksTotal = Number(query.get('chunks') ?? 20);
    const delayMs = Number(query.get('delayMs') ?? 250);
    const record: UpstreamResponse = {
      tag: query.get('tag') ?? '',
      key: query.get('key') ?? '',
      chunksTotal,
      chunksSent: 0,
      state: 'sending',
    };
    if (!Number.isInteger(chunksTotal) || chunksTotal < 1 || !Number.isInteger(delayMs) || delayMs < 0) {
      res.writeHead(400).end('chunks and delayMs must be whole numbers\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    const sendNext = () => {
      record.chunksSent++;
      res.write(upstreamLine(record.chunksSent, chunksTotal));
      if (record.chunksSent === chunksTotal) res.end();
      else timer = setTimeout(sendNext, delayMs);
    };
    let timer = setTimeout(sendNext, 0);
    // 'close' fires both after a normal end and when the client hangs up; writableEnded tells them apart.
    res.on('close', () => {
      clearTimeout(timer);
      record.state = res.writableEnded ? 'sent in full' : 'closed by the client';
      const what = `upstream: ${record.tag} ${record.state} after ${record.chunksSent}/${chunksTotal} chunks`;
      if (res.writableEnded) log.detail(what);
      else log.highlight(`${what} (response unfinished)`);
      onEnd(record);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/records`,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The upstream, for tool calls: `urlFor(job, …)` is the address a job fetches, and the job's
 * `resources['upstream response']` then says how that response ended (sent in full, or closed by
 * the client), as the upstream saw it.
 */
export async function startUpstreamForJobs(log: Timeline) {
  const jobs = new Map<string, Job>();
  const upstream = await startSlowUpstream(log, (response) => {
    const job = jobs.get(response.key);
    jobs.delete(response.key);
    if (job)
      job.resources['upstream response'] =
        `${response.state} after ${response.chunksSent}/${response.chunksTotal} chunks`;
  });
  prove({ type: 'upstream', url: upstream.url, port: upstream.port });
  return {
    ...upstream,
    urlFor(job: Job, chunks: number, delayMs: number): string {
      const key = randomUUID();
      jobs.set(key, job);
      job.resources['upstream response'] = 'open';
      const query = new URLSearchParams({
        chunks: String(chunks),
        delayMs: String(delayMs),
        tag: `#${job.requestId}`,
        key,
      });
      return `${upstream.url}?${query}`;
    },
  };
}
