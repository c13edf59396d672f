/// <reference lib="dom" />
// The playground page: a real MCP client in the browser (SDK 1.x for 2025-11-25, SDK 2.x for
// 2026-07-28), the ways of stopping a call the lessons teach, and one timeline with two lanes.
// The client lane is what this page sent and received; the server lane comes from the
// playground's own event stream (/api/events), read from the lesson server's records.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { Client as Client2, StreamableHTTPClientTransport as Transport2 } from '@modelcontextprotocol/client';
import type { Counters, LaneEvent } from '../server-lane.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const now = () => performance.timeOrigin + performance.now();
const MCP_URL = new URL('/mcp', location.href);

// --- The timeline ----------------------------------------------------------------------------------
let events: LaneEvent[] = [];
let selected: LaneEvent | undefined;

/** A server event of another call (an earlier one, still closing its stream) stays off this call's timeline. */
function ofThisCall(event: LaneEvent): boolean {
  if (event.lane === 'client') return true;
  const { session } = (event.detail ?? {}) as { session?: string };
  if (session !== undefined && session !== document.body.dataset.session) return false;
  return event.requestId === undefined || event.requestId === callId;
}

function addEvent(event: LaneEvent) {
  if (!ofThisCall(event)) return;
  events.push(event);
  events.sort((a, b) => a.at - b.at);
  addEventListener('resize', render);
  render();
}
const client = (kind: string, text: string, detail?: unknown, requestId?: string | number) =>
  addEvent({ lane: 'client', at: now(), kind, text, detail, requestId });

/** A tick every 1, 2 or 5 × 10^n ms, about six across the span. */
function tickStep(span: number): number {
  const raw = span / 6;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw)!;
}

function render() {
  const t0 = events[0]?.at ?? now();
  const span = Math.max(1000, (events.at(-1)?.at ?? t0) - t0) * 1.04;
  const axis = $('axis');
  const step = tickStep(span);
  axis.replaceChildren(
    ...Array.from({ length: Math.floor(span / step) + 1 }, (_, i) => {
      const tick = document.createElement('span');
      tick.style.left = `${((i * step) / span) * 100}%`;
      tick.textContent = `${((i * step) / 1000).toFixed(step < 1000 ? (step < 100 ? 2 : 1) : 0)} s`;
      return tick;
    }),
  );
  for (const lane of ['client', 'server'] as const) {
    const track = $(`lane-${lane}`);
    const width = track.clientWidth || 800;
    // Labels that would overlap go one row down: events a few ms apart stay readable.
    const rows: number[] = [];
    track.replaceChildren(
      ...events
        .filter((event) => event.lane === lane)
        .map((event) => {
          const mark = document.createElement('button');
          mark.type = 'button';
          mark.className = `ev ${event.kind.replaceAll(' ', '-')}`;
          mark.dataset.lane = lane;
          mark.dataset.kind = event.kind;
          const x = ((event.at - t0) / span) * width;
          mark.style.left = `${x.toFixed(1)}px`;
          if (event.kind !== 'chunk') {
            mark.textContent = event.kind;
            const labelWidth = event.kind.length * 6.4 + 14;
            let row = rows.findIndex((right) => x >= right + 3);
            if (row === -1) row = rows.push(0) - 1;
            rows[row] = x + labelWidth;
            mark.style.top = `${1.7 + row * 1.55}rem`;
          }
          const seconds = ((event.at - t0) / 1000).toFixed(3);
          mark.setAttribute('aria-label', `${lane}, +${seconds} s: ${event.text}`);
          mark.title = `+${seconds} s ${event.text}`;
          const show = () => showDetail(event, seconds);
          mark.addEventListener('mouseenter', show);
          mark.addEventListener('focus', show);
          if (event === selected) mark.classList.add('selected');
          return mark;
        }),
    );
    track.style.height = `${2.2 + Math.max(1, rows.length) * 1.55}rem`;
  }
  const list = $('event-list');
  list.replaceChildren(
    ...events.map((event) => {
      const item = document.createElement('li');
      item.dataset.lane = event.lane;
      item.dataset.kind = event.kind;
      item.textContent = `+${((event.at - t0) / 1000).toFixed(3)} s  ${event.lane}  ${event.text}`;
      return item;
    }),
  );
}

function showDetail(event: LaneEvent, seconds: string) {
  selected = event;
  $('detail-title').textContent = `${event.lane}, +${seconds} s: ${event.text}`;
  $('detail').textContent = event.detail === undefined ? '(no message)' : JSON.stringify(event.detail, null, 2);
}

// --- The server lane and its counters, from the playground's own channel ----------------------------------
interface ServerInfo {
  era: '2025-11-25' | '2026-07-28';
  policy: string;
  about: string;
  pid: number;
}
let server: ServerInfo | undefined;
const feed = new EventSource('/api/events');
feed.addEventListener('server', (message: MessageEvent<string>) => {
  server = JSON.parse(message.data) as ServerInfo;
  $('server-about').textContent = `${server.about}, pid ${server.pid}`;
  $<HTMLSelectElement>('era').value = server.era;
  $<HTMLSelectElement>('policy').value = server.policy;
  $<HTMLSelectElement>('policy').disabled = server.era !== '2025-11-25';
  document.body.dataset.era = server.era;
  void connect();
});
feed.addEventListener('event', (message: MessageEvent<string>) => addEvent(JSON.parse(message.data) as LaneEvent));
feed.addEventListener('counters', (message: MessageEvent<string>) => {
  const counters = JSON.parse(message.data) as Counters;
  for (const [name, value] of Object.entries(counters)) $(`count-${name}`).textContent = String(value);
});

// --- The MCP client in this page ----------------------------------------------------------------------------
type AnyClient = {
  callTool(params: object, schema?: unknown, options?: object): Promise<unknown>;
  notification(notification: object): Promise<void>;
  close(): Promise<void>;
};
let mcp: { client: AnyClient; transport: { sessionId?: string; terminateSession?(): Promise<void> } } | undefined;
let callId: string | number | undefined;
let callFetch: AbortController | undefined;
let callSignal: AbortController | undefined;
let connecting: Promise<void> | undefined;

/** Sees every HTTP request the SDK makes: the call as it leaves, the cancel, the DELETE. */
const watchingFetch: typeof fetch = async (input, init) => {
  const body =
    typeof init?.body === 'string'
      ? (JSON.parse(init.body) as JSONRPCMessage & { params?: { name?: string } })
      : undefined;
  const method = body && 'method' in body ? body.method : undefined;
  let signal = init?.signal ?? undefined;
  if (method === 'tools/call' && body?.params?.name === 'process_large_file') {
    callId = (body as { id: string | number }).id;
    document.body.dataset.callId = JSON.stringify(callId); // for the test: which record is this call's
    callFetch = new AbortController();
    signal = signal ? AbortSignal.any([signal, callFetch.signal]) : callFetch.signal;
    client('request sent', `tools/call #${callId} process_large_file`, body, callId);
  } else if (method === 'notifications/cancelled') {
    const { requestId } = (body as { params?: { requestId?: unknown } }).params ?? {};
    client('cancel sent', `notifications/cancelled for #${JSON.stringify(requestId)}`, body);
  } else if (init?.method === 'DELETE') {
    client('session ended', 'DELETE: end the session', {
      method: 'DELETE',
      'mcp-session-id': mcp?.transport.sessionId,
    });
  }
  // no-store: the session's GET stream, whose answer has not begun, would otherwise hold Chromium's
  // cache lock for this URL, and a DELETE to it would wait behind the GET.
  return fetch(input, { ...init, signal, cache: 'no-store' });
};

async function connect() {
  const era = server!.era;
  connecting = (async () => {
    await mcp?.client.close().catch(() => {});
    const watch = (message: JSONRPCMessage) => {
      if ('id' in message && message.id === callId && ('result' in message || 'error' in message)) {
        const what = 'error' in message ? `error ${message.error.code} "${message.error.message}"` : 'a result';
        client('reply received', `#${String(callId)}: ${what}`, message, callId);
      }
    };
    if (era === '2025-11-25') {
      const transport = new StreamableHTTPClientTransport(MCP_URL, { fetch: watchingFetch });
      const c = new Client({ name: 'playground', version: '1.0.0' });
      await c.connect(transport);
      const onmessage = transport.onmessage!.bind(transport);
      transport.onmessage = ((message: JSONRPCMessage, extra?: never) => {
        watch(message);
        (onmessage as (m: unknown, e?: unknown) => void)(message, extra);
      }) as typeof transport.onmessage;
      mcp = { client: c as unknown as AnyClient, transport };
    } else {
      const transport = new Transport2(MCP_URL, { fetch: watchingFetch });
      const c = new Client2(
        { name: 'playground', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      await c.connect(transport);
      const onmessage = transport.onmessage!.bind(transport);
      transport.onmessage = ((message: JSONRPCMessage, extra?: never) => {
        watch(message);
        (onmessage as (m: unknown, e?: unknown) => void)(message, extra);
      }) as typeof transport.onmessage;
      mcp = { client: c as unknown as AnyClient, transport };
    }
    document.body.dataset.session = mcp.transport.sessionId ?? '';
    $('status').textContent =
      `connected (${era}${mcp.transport.sessionId ? `, session ${mcp.transport.sessionId}` : ', no session'})`;
  })();
  await connecting.catch((error: Error) => ($('status').textContent = `cannot connect: ${error.message}`));
  setRunning(false);
}

function setRunning(running: boolean) {
  $<HTMLButtonElement>('start').disabled = running;
  for (const button of document.querySelectorAll<HTMLButtonElement>('.stop')) button.disabled = !running;
}

$('start').addEventListener('click', async () => {
  await connecting;
  if (!mcp) await connect();
  events = [];
  selected = undefined;
  addEventListener('resize', render);
  render();
  setRunning(true);
  callSignal = new AbortController();
  const args = {
    path: 'sample.txt',
    chunks: Number($<HTMLInputElement>('chunks').value),
    chunkDelayMs: Number($<HTMLInputElement>('delay').value),
  };
  const options = { signal: callSignal.signal, timeout: 600_000 };
  const call =
    server!.era === '2025-11-25'
      ? mcp!.client.callTool({ name: 'process_large_file', arguments: args }, undefined, options)
      : mcp!.client.callTool({ name: 'process_large_file', arguments: args }, options);
  call
    .then(
      (result) => client('call settled', 'the call resolved', result, callId),
      (error: Error) => client('call settled', `the call rejected: ${error.message}`, { error: error.message }, callId),
    )
    .finally(() => setRunning(false));
});

$('cancel').addEventListener('click', async () => {
  await mcp!.client.notification({
    method: 'notifications/cancelled',
    params: { requestId: callId, reason: 'stopped from the playground' },
  });
});
$('abort-fetch').addEventListener('click', () => {
  client('fetch aborted', "aborted the call's fetch: a disconnect, which in 2025-11-25 is not a cancel");
  callFetch?.abort('the page aborted the fetch');
  setRunning(false);
});
$('end-session').addEventListener('click', async () => {
  // Let go of this connection at once: a new one (another server, the next call) made while the
  // DELETE is on its way must not be undone when it comes back.
  const ending = mcp;
  mcp = undefined;
  setRunning(false);
  await ending?.transport.terminateSession?.();
  await ending?.client.close().catch(() => {});
});
$('close-stream').addEventListener('click', () => {
  client('stream closed', 'aborted the call: the SDK closes its response stream, which in 2026-07-28 is the cancel');
  callSignal?.abort('stopped from the playground');
});

async function switchServer() {
  const era = $<HTMLSelectElement>('era').value;
  const policy = $<HTMLSelectElement>('policy').value;
  $('status').textContent = 'starting the server…';
  setRunning(true);
  $<HTMLButtonElement>('start').disabled = true;
  const response = await fetch('/api/server', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ era, policy }),
  });
  if (!response.ok) $('status').textContent = `the server did not start: ${await response.text()}`;
  // The 'server' event on /api/events reconnects the client.
}
$('era').addEventListener('change', () => void switchServer());
$('policy').addEventListener('change', () => void switchServer());
$('clear').addEventListener('click', () => {
  events = [];
  selected = undefined;
  addEventListener('resize', render);
  render();
});
addEventListener('resize', render);
render();
