// 2026-07-28: no session and no cancel notification over HTTP; closing the response stream is the
// cancel. What can be seen from outside is little, and the report says so.
import { judged, RULES, type Finding, type Rule, type Verdict } from './findings.ts';
import type { CheckOptions } from './scenarios.ts';
import { answer, ended, modernPost, MODERN, progressOf, until, type Reading } from './wire.ts';

export async function checkModern(o: CheckOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (check: string, verdict: Verdict, seen: string, spec: Rule) =>
    findings.push(judged({ era: MODERN, scenario: 'closing the stream', check, verdict, seen, spec }));
  const discover = modernPost(o.target, { id: 'check-discover', method: 'server/discover' });
  const found = (await answer(discover, 'check-discover')) as { result?: { supportedVersions?: string[] } } | undefined;
  const versions = found?.result?.supportedVersions ?? [];
  if (!versions.includes(MODERN)) {
    const offered = versions.length ? `, versions ${versions.join(', ')}` : '';
    add(
      'the server speaks 2026-07-28',
      'not observable',
      `server/discover got HTTP ${discover.status}${offered}: not offered, nothing to check`,
      RULES.discover,
    );
    return findings;
  }
  add('the server speaks 2026-07-28', 'pass', `server/discover lists ${versions.join(', ')}`, RULES.discover);
  const post = (id: unknown, method: string, params?: Record<string, unknown>, long = false): Reading =>
    modernPost(o.target, { id, method, params }, long);

  const call = post(
    9201,
    'tools/call',
    {
      name: o.tool,
      arguments: o.args,
      _meta: { progressToken: 'check-server-9201' },
    },
    true,
  );
  await until(o.cancelAfterMs, () => ended(call) || progressOf(call).length > 0);
  if (ended(call)) {
    add(
      'closing the stream stops the call',
      'not observable',
      'the call ended before it could be cancelled: give --args that make it run for seconds',
      RULES.modernDisconnect,
    );
    return findings;
  }
  const progress = progressOf(call).length;
  call.close();
  add(
    'closing the stream stops the call',
    'not observable',
    `closed the stream after ${progress} progress notification(s). Whether the handler stopped cannot be seen ` +
      "from outside: nothing can reach a closed stream, and the era has no status request (a tool of the server's own can tell, as lesson 12's get_job_status does)",
    RULES.modernDisconnect,
  );
  const list = post('check-tools-list', 'tools/list');
  const tools = (await answer(list, 'check-tools-list')) as { result?: { tools: unknown[] } } | undefined;
  add(
    'it serves the next request',
    tools?.result ? 'pass' : 'warning',
    tools?.result ? `tools/list answered (HTTP ${list.status})` : `tools/list got HTTP ${list.status}`,
    RULES.modernServes,
  );
  return findings;
}
