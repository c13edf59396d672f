// Lesson 13 client (SDK 1.x): spawn the server over stdio, call process_large_file, cancel it by
// aborting the call's signal (the SDK writes notifications/cancelled to the server's stdin), then
// ask the server over the same stdio what it stopped and closed.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { deferred, waitFor } from '../shared/wait.ts';
import * as flags from './client-flags.ts';
import {
  closeServerStdin,
  isAlive,
  printServerReport,
  serverCommand,
  serverPid,
  showServerStderr,
} from './stdio-side.ts';

const { cancel, cancelAfterMs, closeStdinAfterMs, chunks, chunkDelayMs, reason, expected } = flags;
const log = createTimeline('client');

const transport = new StdioClientTransport(serverCommand(flags.server, []));
showServerStderr(transport.stderr);
// Every message this client writes to the server's stdin: the call's id as it leaves, and the cancel.
const callId = deferred<RequestId>();
const send = transport.send.bind(transport);
transport.send = (message: JSONRPCMessage) => {
  if ('method' in message && message.method === 'tools/call' && 'id' in message) callId.resolve(message.id);
  if ('method' in message && message.method === 'notifications/cancelled') {
    prove({ type: 'cancel-sent', params: message.params });
    log.highlight(`-> stdin: notifications/cancelled ${JSON.stringify(message.params)}`);
  }
  return send(message);
};

// SDK 1.x's Client hands the version initialize agreed to the transport, if it takes one
// (client/index.js, connect()); the stdio transport does not, so this one keeps it.
let protocol = 'none';
(transport as Transport).setProtocolVersion = (version) => (protocol = version);

const client = new Client({ name: 'lesson-13-client', version: '1.0.0' });
log.event('spawning the server (stdio) and connecting');
await client.connect(transport);
const pid = serverPid(transport);
prove({ type: 'connected', pid, protocol });
log.detail(`connected: server pid ${pid}, protocol ${protocol} (initialize over stdio)`);

const controller = new AbortController();
const settled = client
  .callTool({ name: 'process_large_file', arguments: { path: 'sample.txt', chunks, chunkDelayMs } }, undefined, {
    signal: controller.signal,
    timeout: chunks * chunkDelayMs + 60_000,
  })
  .then(
    (result) => ({ result }),
    (error: Error) => ({ error: error.message }),
  );
const id = await callId.promise;
log.event(`-> stdin: tools/call #${id} process_large_file (${chunks} chunks, ${chunkDelayMs} ms apart)`);

const delay = closeStdinAfterMs ?? cancelAfterMs;
let stdinClosed = false;
if (cancel || closeStdinAfterMs !== undefined) {
  const due = sleep(delay, 'due' as const);
  if ((await Promise.race([settled, due])) !== 'due') log.warn('the call finished first');
  else if (cancel) {
    log.highlight(`aborting the call after ${delay} ms (reason: "${reason}")`);
    controller.abort(reason);
  } else {
    closeServerStdin(transport, log);
    stdinClosed = true;
  }
}
const outcome = await settled;
prove({ type: 'came-back', ...outcome });
log.event(`<- ${'result' in outcome ? 'result' : `the call rejected: ${outcome.error}`}`);

let observed: string;
if (!stdinClosed) {
  const job = await printServerReport(client, id, log);
  observed = job?.state === 'cancelled' && job.fileHandle === 'closed' ? 'stopped' : String(job?.state);
  await client.close(); // ends the server's stdin; SDK 1.x's server then exits: nothing else keeps it alive
} else {
  // stdin is closed: nothing more can be asked. A result means the handler ran on to the end.
  observed = 'result' in outcome ? 'ran-on' : 'stopped';
  await waitFor('the server process to exit', () => !isAlive(pid), { timeoutMs: chunks * chunkDelayMs + 10_000 });
  log.detail(`the server process ${pid} has exited`);
}
prove({ type: 'outcome', observed, expected });
if (observed === expected) log.ok(`observed: ${observed}, as expected`);
else {
  log.fail(`observed: ${observed}, expected: ${expected}`);
  process.exitCode = 1;
}
