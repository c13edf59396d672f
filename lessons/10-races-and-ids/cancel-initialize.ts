// Lesson 10 client, the initialize scenario: initialize MUST NOT be cancelled, yet aborting
// connect() makes SDK 1.x send a cancel for it; and the session the server made is out of reach.
import { McpError, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { Session } from './recording-session.ts';
import type { Checks } from './scenarios.ts';
import type { Timeline } from '../shared/timeline.ts';
import { waitFor } from '../shared/wait.ts';

export async function cancelInitialize(log: Timeline): Promise<Checks> {
  // connect() with a signal that fires while initialize is still on its way back.
  const slowMs = 500;
  const late = new Session(log, slowMs);
  const controller = new AbortController();
  log.event(
    `-> initialize, the answer ${slowMs} ms slow on the network; connect(transport, { signal }) aborts while it is on its way`,
  );
  const connecting = late.client.connect(late.transport, { signal: controller.signal });
  // Abort once the server has answered (its HTTP status is in) and the answer is still on the slow
  // network: a fixed delay could fire before the server answered, on a busy machine.
  await waitFor('the server to answer initialize', () =>
    late.posts.some((p) => p.body.includes('"method":"initialize"')),
  );
  controller.abort('user gave up connecting');
  let rejected = false;
  try {
    await connecting;
    log.fail('connect() resolved');
  } catch (error) {
    rejected = true;
    log.highlight(
      `<- connect() rejected: ${error instanceof McpError ? `McpError ${error.code} "${error.message}"` : String(error)}`,
    );
  }
  const init = late.sent.find((m) => 'method' in m && m.method === 'initialize') as { id: RequestId } | undefined;
  const cancel = late.sent.find((m) => 'method' in m && m.method === 'notifications/cancelled') as
    { params: { requestId: RequestId; reason?: string } } | undefined;
  if (cancel) {
    log.warn(
      `the SDK sent notifications/cancelled ${JSON.stringify(cancel.params)}: it cancels initialize, which the spec forbids`,
    );
    log.detail('that cancel has no Mcp-Session-Id to carry: a session id arrives only with the initialize answer');
  }
  const answered = late.posts.find((p) => p.body.includes('"method":"initialize"'))?.status;
  log.warn(
    `the server answered initialize (HTTP ${answered}) and made a session; this client never read its id ` +
      `(transport.sessionId: ${late.transport.sessionId}), so it cannot end that session`,
  );
  return [
    ['connect() rejected', rejected],
    ['the SDK sent a cancel naming initialize', cancel !== undefined && cancel.params.requestId === init?.id],
    ['the server answered initialize anyway', answered === 200 && late.transport.sessionId === undefined],
  ];
}
