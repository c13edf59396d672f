// 2025-11-25: what the checker does to a server in a session, and what it can honestly conclude
// from the outside. Each scenario adds findings (findings.ts); none needs anything of the server
// but MCP itself. A tool that reports no progress gets the weaker checks, and the report says so.
import { judged, RULES, type Finding, type Rule, type Verdict } from './findings.ts';
import { checkTasks } from './tasks.ts';
import {
  answer,
  ended,
  LEGACY,
  MODERN,
  now,
  NotOffered,
  openSession,
  progressOf,
  responseOf,
  settled,
  until,
  type Reading,
  type Session,
  type Target,
} from './wire.ts';

export interface CheckOptions {
  target: Target;
  tool: string;
  args: Record<string, unknown>;
  /** How long to watch after a cancel for progress, a response and the stream's end. */
  watchMs: number;
  /** Cancel at the first progress, or this long after the call when none has come. */
  cancelAfterMs: number;
  /** How many calls to cancel when counting the streams left open. */
  calls: number;
  /** Arguments that make the tool finish at once: a short call after the cancels. */
  shortArgs?: Record<string, unknown>;
  eras: (typeof LEGACY | typeof MODERN)[];
}

export type Add = (scenario: string, check: string, verdict: Verdict, seen: string, spec: Rule) => void;
export const ms = (t: number) => `${Math.round(t)} ms`;
const GRACE_MS = 500;
const NEEDS_LONGER = 'give --args that make it run for seconds';

/** A long call with a progress token, started; resolves at its first progress, or after `cancelAfterMs` without any. */
async function startCall(session: Session, o: CheckOptions, id: number, { wait = true } = {}) {
  const _meta = { progressToken: `check-server-${id}` };
  const reading = session.post(
    {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: o.tool, arguments: o.args, _meta },
    },
    true,
  );
  if (wait) await until(o.cancelAfterMs, () => ended(reading) || progressOf(reading).length > 0);
  return { id, reading };
}

export const cancel = (session: Session, params: Record<string, unknown>) =>
  session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params });

/** Whether the session still answers ping (a MUST). */
async function answers(session: Session, id: string): Promise<{ ok: boolean; seen: string }> {
  const ping = session.post({ jsonrpc: '2.0', id, method: 'ping' });
  await until(5_000, () => ended(ping));
  const reply = responseOf(ping, id)?.message as { result?: object; error?: { message: string } } | undefined;
  if (reply?.result) return { ok: true, seen: `ping answered (HTTP ${ping.status})` };
  ping.close();
  const why = reply?.error
    ? `error "${reply.error.message}"`
    : `no answer (HTTP ${ping.status}${ping.cutOff ? `, ${ping.cutOff}` : ''})`;
  return { ok: false, seen: `ping got ${why}` };
}

export async function checkLegacy(o: CheckOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add: Add = (scenario, check, verdict, seen, spec) =>
    findings.push(judged({ era: LEGACY, scenario, check, verdict, seen, spec }));
  let session: Session;
  try {
    session = await openSession(o.target);
  } catch (error) {
    if (!(error instanceof NotOffered)) throw error;
    add(
      'initialize',
      'the server speaks 2025-11-25',
      'not observable',
      `${error.message}: not offered, nothing to check`,
      RULES.discover,
    );
    return findings;
  }
  const opened: Session[] = [session];
  const readings: Reading[] = [];
  try {
    const listing = session.post({ jsonrpc: '2.0', id: 'check-tools', method: 'tools/list' });
    const list = (await answer(listing, 'check-tools')) as
      | { result?: { tools: { name: string; execution?: { taskSupport?: string } }[] }; error?: { message: string } }
      | undefined;
    if (!list?.result) {
      // An HTTP error's JSON-RPC body has id null: show its message all the same.
      const error = listing.arrivals.map((a) => a.message).find((m) => 'error' in m) as
        { error: { message: string } } | undefined;
      const said = error ? ` "${error.error.message}"` : '';
      // Seen behind a round-robin load balancer: initialize reached one replica, this request another.
      const lost =
        listing.status === 404
          ? ': the session is unknown where this request landed (behind a load balancer, does it keep a session on the replica that opened it?)'
          : '';
      throw new Error(`tools/list in a new session got HTTP ${listing.status}${said}${lost}`);
    }
    const tools = list.result.tools;
    const tool = tools.find((t) => t.name === o.tool);
    if (!tool)
      throw new Error(
        `the server has no tool named ${o.tool}; it has: ${tools.map((t) => t.name).join(', ') || 'none'}`,
      );
    const asTask = tool.execution?.taskSupport === 'required';
    if (asTask) await checkTasks(o, session, add);
    else await stopsOnCancel(o, session, readings, add);

    const alive = await answers(session, 'check-after-cancels');
    add('session survives', 'ping after the cancels', alive.ok ? 'pass' : 'fail', alive.seen, RULES.ping);

    if (!asTask) await shortCall(o, session, add); // a task-only tool has no short call

    await checkRaces(o, session, opened, readings, add, asTask);

    const other = await openSession(o.target, {
      initializeId: 'check-init',
      beforeInitialized: async (s) => void (await cancel(s, { requestId: 'check-init', reason: 'check-server' }).done),
    });
    opened.push(other);
    const afterInit = await answers(other, 'check-after-init-cancel');
    add(
      'initialize',
      'a session whose initialize was cancelled still works',
      afterInit.ok ? 'pass' : 'fail',
      afterInit.seen,
      RULES.initialize,
    );
  } finally {
    for (const reading of readings) reading.close();
    await Promise.all(opened.map((s) => s.close()));
  }
  return findings;
}

/** With --short-args, a short call of the same tool: the session still serves it. */
async function shortCall(o: CheckOptions, session: Session, add: Add) {
  if (!o.shortArgs) {
    add(
      'session survives',
      'a short call after the cancels',
      'not observable',
      'give --short-args that make the tool finish at once',
      RULES.races,
    );
    return;
  }
  const id = 'check-short-call';
  const call = session.post({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: o.tool, arguments: o.shortArgs },
  });
  const reply = (await answer(call, id)) as { result?: { isError?: boolean }; error?: { message: string } } | undefined;
  const verdict = !reply?.result ? 'fail' : reply.result.isError ? 'warning' : 'pass';
  const seen = reply?.result
    ? `a result${reply.result.isError ? ', with isError: true' : ''}`
    : reply?.error
      ? `error "${reply.error.message}"`
      : `no answer (${call.cutOff ?? `HTTP ${call.status}`})`;
  add('session survives', 'a short call after the cancels', verdict, seen, RULES.races);
}

/** `calls` long calls, each cancelled at its first progress; the first is looked at closely, then all are counted. */
async function stopsOnCancel(o: CheckOptions, session: Session, readings: Reading[], add: Add) {
  const S = 'stops on cancel';
  // The first one running before the others are sent: a server that runs one call at a time (lesson
  // 05's lock) refuses the later ones, whichever of the POSTs it happens to read first.
  const firstCall = await startCall(session, o, 9001);
  const others = await Promise.all(Array.from({ length: o.calls - 1 }, (_, i) => startCall(session, o, 9002 + i)));
  const calls = [firstCall, ...others];
  readings.push(...calls.map((c) => c.reading));
  const first = calls[0]!;
  if (ended(first.reading)) {
    const what = responseOf(first.reading, first.id)
      ? 'was answered'
      : `ended (${first.reading.cutOff ?? 'no answer'})`;
    add(
      S,
      'the call runs long enough to cancel',
      'not observable',
      `the call ${what} before it could be cancelled: ${NEEDS_LONGER}`,
      RULES.stop,
    );
    return;
  }
  const cancelledAt = now();
  const cancels = calls.map((c) => cancel(session, { requestId: c.id, reason: 'check-server' }));
  const { status } = await settled(cancels[0]!);
  await Promise.all(cancels.map((c) => c.done));
  add(
    S,
    'the cancel is accepted',
    status === 202 ? 'pass' : status < 300 ? 'fail' : 'warning',
    `HTTP ${status}`,
    RULES.accepted,
  );
  await until(o.watchMs, () => calls.every((c) => ended(c.reading)));

  const progress = progressOf(first.reading);
  const before = progress.filter((a) => a.at < cancelledAt);
  const after = progress.filter((a) => a.at >= cancelledAt);
  // Notifications sent before the server read the cancel may still be on their way: allow them GRACE_MS.
  const late = after.filter((a) => a.at - cancelledAt > GRACE_MS);
  if (before.length === 0) {
    add(
      S,
      `progress stops within ${GRACE_MS} ms of the cancel`,
      'not observable',
      'the tool reported no progress, so whether it stopped cannot be seen: only what comes back and the stream are checked',
      RULES.stop,
    );
  } else {
    const last = after.length ? `, the last ${ms(after.at(-1)!.at - cancelledAt)} after it` : '';
    const still = late.length && !ended(first.reading) ? `, and the stream still open` : '';
    add(
      S,
      `progress stops within ${GRACE_MS} ms of the cancel`,
      late.length === 0 ? 'pass' : 'warning',
      `${before.length} progress notification(s) before the cancel, ${after.length} after${last}${still}`,
      RULES.stop,
    );
  }
  const heldFor =
    before.length === 0
      ? 'for a call that may or may not still run (it reports no progress)'
      : late.length
        ? 'for a call that runs on'
        : 'for a call that has stopped reporting progress';
  const response = responseOf(first.reading, first.id);
  const reply = response?.message as { result?: unknown; error?: { code: number; message: string } } | undefined;
  const when = response ? `${ms(response.at - cancelledAt)} after the cancel` : '';
  if (!reply) add(S, 'what comes back', 'pass', `nothing, in ${ms(o.watchMs)}`, RULES.noResponse);
  else if (reply.error) {
    const lsp = reply.error.code === -32800 ? " (LSP's RequestCancelled, not an MCP code; it ends the stream)" : '';
    add(
      S,
      'what comes back',
      'pass',
      `error ${reply.error.code} "${reply.error.message}", ${when}${lsp}`,
      RULES.noResponse,
    );
  } else {
    add(
      S,
      'what comes back',
      'warning',
      `a result, ${when}: the call ran to its end, or the server sent a result for a call it stopped; a client that reads it may take the call as done`,
      RULES.noResponse,
    );
  }
  add(
    S,
    'its response stream ends',
    ended(first.reading) ? 'pass' : 'warning',
    ended(first.reading)
      ? `ended ${ms(first.reading.endedAt! - cancelledAt)} after the cancel`
      : `still open ${ms(o.watchMs)} after the cancel: a stream and a socket held ${heldFor}`,
    RULES.streamEnds,
  );
  const open = calls.filter((c) => !ended(c.reading)).length;
  add(
    'stream released',
    `after ${o.calls} cancels, no response stream is left open`,
    open === 0 ? 'pass' : 'warning',
    `${open} of ${o.calls} still open ${ms(o.watchMs)} after their cancels`,
    RULES.streamEnds,
  );
}

/** Cancels that name nothing running, and wrong cancels beside a running call: each ignored, nothing broken. */
async function checkRaces(
  o: CheckOptions,
  session: Session,
  opened: Session[],
  readings: Reading[],
  add: Add,
  asTask: boolean,
) {
  const R = 'races';
  const quiet = (reading: Reading) => (reading.status === 202 ? 'ignored (202)' : `HTTP ${reading.status}`);
  const healthy = async (check: string, cancelled: Reading, label: string) => {
    const alive = await answers(session, `check-${label}`);
    const verdict = !alive.ok ? 'fail' : cancelled.status === 202 ? 'pass' : 'warning';
    add(
      R,
      check,
      verdict,
      `${quiet(cancelled)}; ${alive.seen}`,
      alive.ok && cancelled.status !== 202 ? RULES.ignoreInvalid : RULES.races,
    );
  };
  await session.post({ jsonrpc: '2.0', id: 'check-done', method: 'ping' }).done;
  await healthy(
    'a cancel for a request already answered',
    await settled(cancel(session, { requestId: 'check-done' })),
    'completed',
  );
  await healthy(
    'a cancel for an id never sent',
    await settled(cancel(session, { requestId: 'check-never-sent' })),
    'unknown',
  );

  const wrongCancels: [string, (s: Session) => Reading, Rule][] = [
    ['"9100" (a string) does not cancel 9100 (a number)', (s) => cancel(s, { requestId: '9100' }), RULES.ignoreInvalid],
    ['a cancel with no requestId', (s) => cancel(s, { reason: 'check-server' }), RULES.ignoreInvalid],
  ];
  if (asTask) {
    for (const [check, , rule] of wrongCancels)
      add(R, check, 'not observable', 'the tool runs only as a task: no call stays open to watch', rule);
  } else {
    const startedAt = performance.now();
    const running = await startCall(session, o, 9100);
    readings.push(running.reading);
    // The same call beside it, sent no cancel: when 9100 ends with a result, this says whether a
    // wrong cancel stopped it (a clean-cancel result) or it finished by itself. Second, so that a
    // tool that lets one call at a time hold something (lesson 05's idempotency key) refuses it.
    const controlLagMs = performance.now() - startedAt;
    const control = await startCall(session, o, 9101, { wait: false });
    readings.push(control.reading);
    const stranger = await openSession(o.target);
    opened.push(stranger);
    const fromStranger: [string, (s: Session) => Reading, Rule] = [
      "another session's cancel for this session's id",
      () => cancel(stranger, { requestId: 9100 }),
      RULES.otherSession,
    ];
    for (const [check, send, rule] of [...wrongCancels, fromStranger]) {
      if (ended(running.reading)) {
        add(R, check, 'not observable', `the call had already ended: ${NEEDS_LONGER}`, rule);
        continue;
      }
      const wrong = await settled(send(session));
      const progressBefore = progressOf(running.reading).length;
      await until(Math.min(o.watchMs, 1000), () => ended(running.reading));
      const since = progressOf(running.reading).length - progressBefore;
      const reply = responseOf(running.reading, 9100)?.message as { result?: { isError?: boolean } } | undefined;
      // Had 9100 finished by itself, 9101 would finish as far behind it as it started, give or take.
      if (reply?.result) await until(controlLagMs + Math.min(o.watchMs, 1000), () => ended(control.reading));
      if (reply?.result && !reply.result.isError && ended(control.reading)) {
        add(R, check, 'not observable', `the call finished by itself, with its result: ${NEEDS_LONGER}`, rule);
        continue;
      }
      const stoppedBy =
        reply?.result && !ended(control.reading)
          ? 'the call ended with a result while the same call started beside it (9101) runs on: the wrong cancel stopped it, and the result is a clean-cancel one'
          : undefined;
      // No session: the server cannot tell the two clients apart when they send the same headers.
      const stateless =
        rule === RULES.otherSession && !session.hasSession
          ? '; there is no session (no Mcp-Session-Id), so a stateless server must scope request ids by who calls, such as by the credential'
          : '';
      const seen = stoppedBy
        ? `${stoppedBy}${stateless}`
        : ended(running.reading)
          ? `the call ended (${responseOf(running.reading, 9100) ? 'answered' : 'no answer'}): the wrong cancel stopped it${stateless}`
          : progressBefore > 0
            ? `the call runs on (${since} progress notification(s) since)`
            : 'the call runs on (no progress to watch: its stream is still open)';
      add(R, check, ended(running.reading) ? 'fail' : 'pass', `${quiet(wrong)}; ${seen}`, rule);
    }
    await settled(cancel(session, { requestId: 9100 }));
    await settled(cancel(session, { requestId: 9101 }));
  }
  await healthy(
    'the same cancel twice',
    await settled(cancel(session, { requestId: asTask ? 'check-done' : 9100 })),
    'repeated',
  );
}
