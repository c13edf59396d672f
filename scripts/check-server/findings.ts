// What the checker reports: one finding per thing it looked at, each with what was seen, what the
// spec says about it and a verdict. The spec's words are quoted from the revision each era speaks.

export type Verdict = 'pass' | 'fail' | 'warning' | 'not observable';

export interface Finding {
  /** The protocol revision the checker spoke. */
  era: '2025-11-25' | '2026-07-28';
  scenario: string;
  check: string;
  verdict: Verdict;
  /** What was seen, in plain words, with the figures. */
  seen: string;
  /** The spec's requirement this is judged by, and where it is. */
  spec: Rule;
}

export interface Rule {
  level: 'MUST' | 'MUST NOT' | 'SHOULD' | 'SHOULD NOT' | 'MAY' | 'none';
  text: string;
  url: string;
}

const LEGACY_SPEC = 'https://modelcontextprotocol.io/specification/2025-11-25';
const MODERN_SPEC = 'https://modelcontextprotocol.io/specification/2026-07-28';
const CANCELLATION = `${LEGACY_SPEC}/basic/utilities/cancellation`;
const TASKS = `${LEGACY_SPEC}/basic/utilities/tasks`;

export const RULES = {
  stop: {
    level: 'SHOULD',
    text: 'Receivers of cancellation notifications SHOULD: Stop processing the cancelled request',
    url: `${CANCELLATION}#behavior-requirements`,
  },
  noResponse: {
    level: 'SHOULD',
    text: 'Receivers of cancellation notifications SHOULD: ... Not send a response for the cancelled request',
    url: `${CANCELLATION}#behavior-requirements`,
  },
  streamEnds: {
    level: 'SHOULD',
    text: 'The SSE stream SHOULD eventually include a JSON-RPC response for the JSON-RPC request sent in the POST body',
    url: `${LEGACY_SPEC}/basic/transports#sending-messages-to-the-server`,
  },
  accepted: {
    level: 'MUST',
    text: 'If the input is a JSON-RPC response or notification: If the server accepts the input, the server MUST return HTTP status code 202 Accepted with no body',
    url: `${LEGACY_SPEC}/basic/transports#sending-messages-to-the-server`,
  },
  ignoreInvalid: {
    level: 'SHOULD',
    text: 'Invalid cancellation notifications SHOULD be ignored: Unknown request IDs, Already completed requests, Malformed notifications',
    url: `${CANCELLATION}#error-handling`,
  },
  races: {
    level: 'MUST',
    text: 'Both parties MUST handle these race conditions gracefully',
    url: `${CANCELLATION}#timing-considerations`,
  },
  ping: {
    level: 'MUST',
    text: 'The receiver MUST respond promptly with an empty response',
    url: `${LEGACY_SPEC}/basic/utilities/ping`,
  },
  sameDirection: {
    level: 'MUST',
    text: 'Cancellation notifications MUST only reference requests that: Were previously issued in the same direction',
    url: `${CANCELLATION}#behavior-requirements`,
  },
  otherSession: {
    level: 'none',
    text: 'No sentence of the spec names sessions here; a request id is chosen by its client and is unique only within its own session, so a cancel from another session names some other request',
    url: `${LEGACY_SPEC}/basic/transports#session-management`,
  },
  initialize: {
    level: 'MUST NOT',
    text: 'The initialize request MUST NOT be cancelled by clients (a client rule: the server should come to no harm when one breaks it)',
    url: `${CANCELLATION}#behavior-requirements`,
  },
  modernDisconnect: {
    level: 'MUST',
    text: 'Closing the SSE response stream is the cancellation signal. The server MUST treat a client disconnect as cancellation of that request',
    url: `${MODERN_SPEC}/basic/patterns/cancellation#transport-specific-cancellation`,
  },
  modernServes: {
    level: 'none',
    text: 'A closed stream cancels one request: the server goes on answering the others',
    url: `${MODERN_SPEC}/basic/transports/streamable-http`,
  },
  discover: {
    level: 'none',
    text: 'A 2026-07-28 client learns what a server speaks from server/discover; a 2025-era server answers initialize instead',
    url: `${MODERN_SPEC}/basic/versioning`,
  },
  taskCancelled: {
    level: 'MUST',
    text: 'Upon receiving a valid cancellation request, receivers ... MUST transition the task to cancelled status before sending the response',
    url: `${TASKS}#task-cancellation`,
  },
  taskStaysCancelled: {
    level: 'MUST',
    text: 'Once a task is cancelled, it MUST remain in cancelled status even if execution continues to completion or fails',
    url: `${TASKS}#task-cancellation`,
  },
  taskTerminal: {
    level: 'MUST',
    text: 'Receivers MUST reject cancellation requests for tasks already in a terminal status (completed, failed, or cancelled) with error code -32602 (Invalid params)',
    url: `${TASKS}#task-cancellation`,
  },
  taskStop: {
    level: 'SHOULD',
    text: 'Upon receiving a valid cancellation request, receivers SHOULD attempt to stop the task execution',
    url: `${TASKS}#task-cancellation`,
  },
} satisfies Record<string, Rule>;

/** Only a MUST (or MUST NOT) broken is a fail; anything else that did not hold is a warning. */
export function judged(finding: Finding): Finding {
  const must = finding.spec.level === 'MUST' || finding.spec.level === 'MUST NOT';
  return finding.verdict === 'fail' && !must ? { ...finding, verdict: 'warning' } : finding;
}

/** Any MUST the server broke: the checker exits non-zero. */
export const brokeAMust = (findings: Finding[]) => findings.some((f) => f.verdict === 'fail');
