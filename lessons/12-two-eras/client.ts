// Lesson 12 client (SDK 2.x): connect with version negotiation, call process_large_file, cancel
// it by aborting the call's signal, and show what went on the wire and what the server stopped.
// The same code cancels in either era; what it sends depends on the era it negotiated.
//
// Spec: https://modelcontextprotocol.io/specification/2026-07-28/basic/patterns/cancellation
//       https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Client,
  SdkError,
  SdkErrorCode,
  StreamableHTTPClientTransport,
  type CallToolResult,
  type RequestId,
  type VersionNegotiationMode,
} from '@modelcontextprotocol/client';
import { exitPlainlyIfServerLost } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';
import * as flags from './client-flags.ts';
import { printJobReport, printLateReplies, settledJob } from './server-report.ts';

const { url, era, cancel, cancelAfterMs, chunks, chunkDelayMs, reason, expected } = flags;
const log = createTimeline('client');
const mode: VersionNegotiationMode = era === '2026-07-28' ? { pin: '2026-07-28' } : era;

// --- The wire, as this client sends it ---------------------------------------------------------
// A fetch wrapper sees every HTTP request the SDK makes: the id of the tools/call as it leaves,
// the cancel notification (2025 era), and the moment the call's response stream is closed (2026).
const controller = new AbortController(); // the call's signal: aborting it is the cancel, in both eras
const callId = deferred<RequestId>();
const cancelWentOut = deferred<void>();
const SHOWN = new Set(['server/discover', 'initialize']);

const watchingFetch: typeof fetch = async (input, init) => {
  const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
  const method = body?.method as string | undefined;
  const params = body?.params as { name?: string; requestId?: RequestId; reason?: string } | undefined;
  if (method === 'tools/call' && params?.name === 'process_large_file') {
    callId.resolve(body!.id as RequestId);
    init?.signal?.addEventListener('abort', () => {
      // In the 2026 era the SDK aborts this fetch when the caller aborts; closing the client aborts it too.
      if (!controller.signal.aborted || client.getProtocolEra() !== 'modern') return;
      log.highlight(`-> closed the response stream of #${String(body!.id)} (no notification: the close is the cancel)`);
      cancelWentOut.resolve();
    });
  } else if (init?.method === 'DELETE') {
    log.detail('-> DELETE (end the session)');
  }
  const response = await fetch(input, init);
  if (method === 'notifications/cancelled') {
    const shown = `{ requestId: ${JSON.stringify(params?.requestId)}, reason: "${params?.reason}" }`;
    log.highlight(`-> POST notifications/cancelled ${shown}  <- HTTP ${response.status}`);
    cancelWentOut.resolve();
  } else if (method && SHOWN.has(method)) {
    log.detail(`-> POST ${method}  <- HTTP ${response.status}`);
  }
  return response;
};

// --- Connect: the era is decided here, once ------------------------------------------------------
const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: watchingFetch });
const client = new Client({ name: 'lesson-12-client', version: '1.0.0' }, { versionNegotiation: { mode } });
const lateReplies: string[] = [];
client.onerror = (error) => {
  // SDK 2.x reports a reply to a request it already gave up on here, and drops it.
  const match = /unknown message ID: (.*)$/s.exec(error.message);
  if (match) {
    const reply = JSON.parse(match[1]!) as { id: RequestId; error?: { code: number } };
    lateReplies.push(reply.error ? `error ${reply.error.code}` : 'result');
  }
};

log.event(`connecting to ${url} (version negotiation: ${era})`);
try {
  await client.connect(transport);
} catch (error) {
  const refused = era === '2026-07-28' && error instanceof SdkError && error.code === SdkErrorCode.EraNegotiationFailed;
  if (refused && expected === 'no-connect') {
    log.ok(`observed: no-connect, as expected: ${error.message}`);
    process.exit(0);
  }
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail(
    refused
      ? 'the server does not offer that revision: --era auto falls back to 2025-11-25'
      : 'is the server running? npx tsx lessons/12-two-eras/server.ts',
  );
  process.exit(1);
}
exitPlainlyIfServerLost(log, url, 'npx tsx lessons/12-two-eras/server.ts');
const version = client.getNegotiatedProtocolVersion();
if (client.getProtocolEra() === 'modern') {
  log.event(`connected: protocol ${version}. No initialize, no session: every request stands alone`);
} else {
  const session = transport.sessionId ? `session ${transport.sessionId}` : 'no session (this server is stateless)';
  log.event(`connected: protocol ${version} (the 2025 era), ${session}`);
}

// --- Call, then cancel by aborting -----------------------------------------------------------------
const call = client.callTool(
  { name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } },
  { signal: controller.signal, timeout: chunks * chunkDelayMs + 60_000 },
);
const settled = call.then(
  (result) => ({ result: result as CallToolResult }),
  (error: unknown) => ({ error }),
);
const id = await callId.promise;
log.event(`-> tools/call #${id} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart)`);

if (cancel) {
  const due = sleep(cancelAfterMs, 'due' as const, { ref: false });
  if ((await Promise.race([settled, due])) === 'due') {
    log.highlight(`aborting the call after ${cancelAfterMs} ms (reason: "${reason}")`);
    controller.abort(reason);
    const sent = await Promise.race([cancelWentOut.promise.then(() => true), sleep(5000, false, { ref: false })]);
    if (!sent) log.fail('the SDK sent no cancel and closed no stream within 5 s of the abort');
  } else {
    log.warn('the call finished before the cancel was due');
  }
}

const outcome = await settled;
if ('result' in outcome) {
  const text = outcome.result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
  log.ok(`<- result: ${text}`);
} else if (outcome.error instanceof SdkError && controller.signal.aborted) {
  // The SDK gives up locally at once, with its timeout code even for a user's abort.
  log.event(`the call rejected at once: SdkError ${outcome.error.code} "${outcome.error.message}"`);
} else {
  log.fail(`the call failed: ${outcome.error instanceof Error ? outcome.error.message : String(outcome.error)}`);
}

// --- Ask the server what it did: the proof of a cancel is on the server's side --------------------
const job = await settledJob(client, id);
// A reply the server sent after the abort reaches onerror (above): wait a moment for it, then say so.
await printLateReplies(lateReplies, controller.signal.aborted ? job.reply : 'nothing', id, log);
printJobReport(job, id, log);

if (client.getProtocolEra() === 'legacy') await transport.terminateSession().catch(() => {});
await client.close();

const observed = job.state === 'cancelled' && job.fileHandle === 'closed' ? 'stopped' : job.state;
if (observed === expected) {
  log.ok(`observed: ${observed}, as expected`);
} else {
  log.fail(`observed: ${observed}, expected: ${expected}`);
  process.exitCode = 1;
}
