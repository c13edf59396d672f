// fast-check arbitraries for the fuzz test: what a buggy client or an attacker might POST to a
// lesson server. Requests, notifications and responses, with known and made-up methods; ids of
// every JSON type; params of the wrong shape, huge or deeply nested; cancels for calls that run,
// that have finished, or never were; batches; bodies that are not JSON; wrong headers.
//
// Ids come from a small shared pool, so calls, cancels, status checks and reused ids meet.
import fc from 'fast-check';

/** Text written into a JSON body as is: what JSON.stringify cannot write (1e400, deep nesting), shown as `label`. */
export class Verbatim {
  constructor(
    readonly text: string,
    readonly label = text,
  ) {}
  [fc.toStringMethod]() {
    return this.label;
  }
}

export type Json = null | boolean | number | string | Verbatim | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** The JSON text of `value`; with `show`, each Verbatim as its short label (for reports). */
function writeJson(value: Json, show: boolean): string {
  if (value instanceof Verbatim) return show ? value.label : value.text;
  if (Array.isArray(value)) return `[${value.map((item) => writeJson(item, show)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}:${writeJson(item, show)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Which Mcp-Session-Id a POST carries: the run's own session, none, or one the server never issued. */
export type SessionHeader = 'own' | 'none' | { unknown: string };

/** One HTTP POST: its body, its session, and changes to the usual headers (null removes one). */
export class Post {
  readonly text: string;
  constructor(
    readonly body: Json,
    readonly session: SessionHeader = 'own',
    readonly headers: Readonly<Record<string, string | null>> = {},
  ) {
    this.text = writeJson(body, false);
  }
  [fc.toStringMethod]() {
    const session = this.session === 'own' ? '' : ` session=${JSON.stringify(this.session)}`;
    const headers = Object.entries(this.headers).map(([name, value]) => ` ${name}=${JSON.stringify(value)}`);
    const shown = writeJson(this.body, true);
    return `POST${session}${headers.join('')} ${shown.length > 300 ? `${shown.slice(0, 300)}…` : shown}`;
  }
}

/** Posts sent one after another (each once the previous one's response headers are in), or all at once. */
export class Step {
  constructor(
    readonly posts: readonly Post[],
    readonly together = false,
  ) {}
  [fc.toStringMethod]() {
    const posts = this.posts.map((post) => post[fc.toStringMethod]());
    return posts.length === 1 ? posts[0]! : `${this.together ? 'at once' : 'in turn'}:\n    ${posts.join('\n    ')}`;
  }
}

/** What one property run sends, in order. */
export class Sequence {
  constructor(readonly steps: readonly Step[]) {}
  get posts(): Post[] {
    return this.steps.flatMap((step) => step.posts);
  }
  [fc.toStringMethod]() {
    return `${this.steps.length} step(s):\n  ${this.steps.map((step) => step[fc.toStringMethod]()).join('\n  ')}`;
  }
}

/** `arbitrary` in about `inTen` of ten draws, undefined otherwise (shrinks to undefined). */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, inTen: number) =>
  fc.oneof({ weight: 10 - inTen, arbitrary: fc.constant(undefined) }, { weight: inTen, arbitrary });

/** An object without the keys whose value is undefined. */
const defined = (fields: Record<string, Json | undefined>): JsonObject =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as JsonObject;

// Values of every JSON type, and some that JSON.stringify cannot write.

// From 1,000 to 20,000 levels: past the depth where JSON.stringify overflows (about 5,000 on Node 20),
// yet far below the 1 MB body limit.
const nested = fc
  .tuple(fc.integer({ min: 1_000, max: 20_000 }), fc.boolean())
  .map(([depth, objects]) =>
    objects
      ? new Verbatim(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, `{"a":…} nested ${depth} deep`)
      : new Verbatim(`${'['.repeat(depth)}${']'.repeat(depth)}`, `[…] nested ${depth} deep`),
  );
const bigString = fc
  .integer({ min: 1_000, max: 100_000 })
  .map((length) => new Verbatim(JSON.stringify('x'.repeat(length)), `"x…" (${length} chars)`));
const oddNumber = fc
  .constantFrom('1e400', '-1e400', '-0', '1.0', '1E2', '0.0000001', '123456789012345678901234567890')
  .map((text) => new Verbatim(text));

const junk: fc.Arbitrary<Json> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom<Json>(
      ...[null, true, false, 0, -1, 1.5, 2 ** 53 + 2, -(2 ** 63), 1e21],
      ...['', '1', 'null', '__proto__', 'constructor', '\u0000', '\u{1F600}', '\ud800'],
      ...[[], {}, [null], { id: 1 }],
    ),
  },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: oddNumber },
  { weight: 1, arbitrary: bigString },
  { weight: 1, arbitrary: nested },
);

// Ids: a small pool of both JSON types (1 and "1" are different ids), so that messages collide.

const poolNumber = fc.integer({ min: 0, max: 6 });
const poolId: fc.Arbitrary<number | string> = fc.oneof(poolNumber, poolNumber.map(String));
/** The SDK ignores a cancel for id 0 or "" (`if (!requestId) return`, upstream #2283): a long call needs another id. */
const cancellableNumber = fc.integer({ min: 1, max: 6 });
const cancellableId: fc.Arbitrary<number | string> = fc.oneof(cancellableNumber, cancellableNumber.map(String));
const anyId: fc.Arbitrary<Json> = fc.oneof(
  { weight: 8, arbitrary: poolId },
  { weight: 1, arbitrary: fc.constantFrom<Json>(-1, 2 ** 53 - 1, '', ' 1', 'x'.repeat(1_000)) },
  { weight: 2, arbitrary: junk },
);

const request = (id: Json, method: string, params?: Json): JsonObject =>
  defined({ jsonrpc: '2.0', id, method, params });
const notification = (method: string, params?: Json): JsonObject => defined({ jsonrpc: '2.0', method, params });

// process_large_file: a valid call stays short (at most 10 chunks, 3 ms apart), so its stream
// must end soon; an invalid value anywhere must be refused, whatever the others are. (A missing
// chunkDelayMs means 250 ms a chunk, so it is left out only beside invalid chunks.)

const shortChunks = fc.integer({ min: 1, max: 10 });
const shortDelay = fc.integer({ min: 0, max: 3 });
const invalidCount = (tooBig: number): fc.Arbitrary<Json> =>
  fc.oneof(
    fc.constantFrom<Json>(-1, tooBig, 1e15, 2 ** 53 + 2, 1.5, '5', '', null, true, [], {}),
    fc.integer({ max: -1 }),
    fc.integer({ min: tooBig }),
    fc.double({ min: -1e6, max: 1e6, noInteger: true, noNaN: true }),
    fc.constantFrom('1e400', '-1e400').map((text) => new Verbatim(text)),
    fc.string({ maxLength: 10 }),
  );
const badChunks = fc.oneof(fc.constant<Json>(0), invalidCount(10_001));
const badDelay = invalidCount(60_001);
const anyPath: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>('', '.', '..', '../../etc/passwd', '/etc/passwd', 'nope.txt', 'sample.txt/'),
  fc.constantFrom<Json>('sample.txt\u0000', './sample.txt', '../data/sample.txt', 'SAMPLE.TXT', '%2e%2e/sample.txt'),
  fc.string({ unit: 'binary', maxLength: 30 }),
  junk,
);

const fileArguments: fc.Arbitrary<Json | undefined> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ path: fc.constant('sample.txt'), chunks: shortChunks, chunkDelayMs: shortDelay }),
  },
  { weight: 2, arbitrary: fc.record({ path: anyPath, chunks: shortChunks, chunkDelayMs: shortDelay }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { path: fc.constant('sample.txt'), chunks: badChunks, chunkDelayMs: fc.oneof(shortDelay, badDelay) },
      { requiredKeys: ['path', 'chunks'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      { path: fc.constant('sample.txt'), chunks: shortChunks, chunkDelayMs: badDelay },
      { requiredKeys: ['path', 'chunkDelayMs'] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ chunks: shortChunks, chunkDelayMs: shortDelay }) }, // no path
  { weight: 1, arbitrary: junk },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const toolCall = (name: fc.Arbitrary<Json>, args: fc.Arbitrary<Json | undefined>) =>
  fc
    .tuple(anyId, name, args, sometimes(fc.record({ progressToken: anyId }), 1), sometimes(junk, 1))
    .map(([id, toolName, toolArguments, meta, task]) =>
      request(id, 'tools/call', defined({ name: toolName, arguments: toolArguments, _meta: meta, task })),
    );

const fileCall = toolCall(fc.constant('process_large_file'), fileArguments);
const statusCall = toolCall(
  fc.constant('get_job_status'),
  fc.oneof(fc.record({ requestId: fc.oneof({ weight: 4, arbitrary: poolId }, { weight: 1, arbitrary: junk }) }), junk),
);
const otherToolCall = toolCall(
  fc.oneof(
    fc.constantFrom<Json>('no_such_tool', 'constructor', '__proto__', 'toString', '', 'PROCESS_LARGE_FILE'),
    fc.string({ maxLength: 20 }),
    junk,
  ),
  fc.oneof(junk, fc.constant(undefined)),
);

// Other requests, notifications and responses.

const initializeParams: fc.Arbitrary<Json> = fc.record({
  protocolVersion: fc.oneof(fc.constantFrom<Json>('2025-11-25', '2025-06-18', '2024-11-05', '1999-01-01'), junk),
  capabilities: fc.oneof(fc.constant<Json>({}), junk),
  clientInfo: fc.oneof(fc.constant<Json>({ name: 'fuzz', version: '0' }), junk),
});
// A notification sent as a request (with an id) is in here too, and tools/call with other params.
const OTHER_REQUEST_METHODS = [
  ...['ping', 'tools/list', 'resources/list', 'resources/read', 'resources/templates/list', 'prompts/list'],
  ...['prompts/get', 'logging/setLevel', 'completion/complete', 'tasks/get', 'tasks/cancel', 'tasks/list'],
  ...['tasks/result', 'sampling/createMessage', 'roots/list', 'notifications/cancelled', 'tools/call'],
];
const plausibleParams: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ level: fc.oneof(fc.constantFrom<Json>('debug', 'emergency', 'loud'), junk) }),
  fc.record({ taskId: fc.oneof(fc.string({ maxLength: 10 }), junk) }),
  fc.record({ cursor: junk }),
  fc.record({ ref: junk, argument: fc.record({ name: junk, value: junk }) }),
  fc.record({ uri: fc.oneof(fc.constantFrom<Json>('file:///etc/passwd', 'data:,x'), junk) }),
);
const otherRequest = fc
  .tuple(
    anyId,
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...OTHER_REQUEST_METHODS) },
      { weight: 1, arbitrary: fc.string() },
    ),
    fc.oneof(fc.constant(undefined), fc.constant<Json>({}), plausibleParams, junk),
  )
  .map(([id, method, params]) => request(id, method, params));
const initializeInSession = fc.tuple(anyId, initializeParams).map(([id, params]) => request(id, 'initialize', params));

const cancelParams: fc.Arbitrary<Json | undefined> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.oneof({ weight: 6, arbitrary: poolId }, { weight: 1, arbitrary: junk }),
        sometimes(fc.oneof(fc.string({ maxLength: 30 }), bigString, junk), 5),
        sometimes(fc.dictionary(fc.string({ maxLength: 8 }), junk, { maxKeys: 3 }), 2),
      )
      .map(([requestId, reason, extra]) => defined({ ...extra, requestId, reason })),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constant(undefined), fc.constant<Json>({}), junk) },
);
const cancel = cancelParams.map((params) => notification('notifications/cancelled', params));

const otherNotification = fc.oneof(
  fc.constant(notification('notifications/initialized')),
  fc.constant(notification('notifications/roots/list_changed')),
  fc
    .record({ progressToken: anyId, progress: fc.oneof(fc.integer(), junk), total: junk }, { requiredKeys: [] })
    .map((params) => notification('notifications/progress', params)),
  fc
    .tuple(fc.oneof(fc.constantFrom('notifications/message', 'notifications/whatever'), fc.string()), junk)
    .map(([method, params]) => notification(method, params)),
);

const response = fc.oneof(
  fc.tuple(anyId, junk).map(([id, result]) => ({ jsonrpc: '2.0', id, result })),
  fc
    .tuple(anyId, fc.oneof(fc.integer(), junk), fc.oneof(fc.string(), junk))
    .map(([id, code, message]) => ({ jsonrpc: '2.0', id, error: { code, message } })),
  fc.tuple(anyId, junk).map(([id, value]) => ({ jsonrpc: '2.0', id, result: value, error: value })),
  anyId.map((id) => ({ jsonrpc: '2.0', id })),
);

const message: fc.Arbitrary<JsonObject> = fc.oneof(
  { weight: 8, arbitrary: fileCall },
  { weight: 6, arbitrary: cancel },
  { weight: 5, arbitrary: otherRequest },
  { weight: 2, arbitrary: statusCall },
  { weight: 1, arbitrary: otherToolCall },
  { weight: 1, arbitrary: initializeInSession },
  { weight: 3, arbitrary: otherNotification },
  { weight: 2, arbitrary: response },
);

/** One change that makes a message something other than JSON-RPC 2.0, or bends it. */
const mutation: fc.Arbitrary<(m: JsonObject) => JsonObject> = fc.oneof(
  fc.constant(({ jsonrpc: _, ...rest }: JsonObject) => rest),
  fc
    .constantFrom<Json>('1.0', '2', 2, 2.0, '2.0 ', null, ['2.0'])
    .map((jsonrpc) => (m: JsonObject) => ({ ...m, jsonrpc })),
  junk.map((id) => (m: JsonObject) => ({ ...m, id })),
  fc.constant(({ id: _, ...rest }: JsonObject) => rest),
  fc.constantFrom<Json>(5, null, ['ping'], {}, '').map((method) => (m: JsonObject) => ({ ...m, method })),
  junk.map((params) => (m: JsonObject) => ({ ...m, params })),
  fc.tuple(fc.string({ maxLength: 8 }), junk).map(([key, value]) => (m: JsonObject) => ({ ...m, [key]: value })),
);

const RAW_BODIES = [
  ...['', ' ', '{', '{"jsonrpc":"2.0",', 'not json', '{"a":1}{"b":2}', 'null', '42', '"ping"', 'true', '[]', '[[]]'],
  '\ufeff{"jsonrpc":"2.0","id":1,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1,"id":{},"method":"ping"}',
  '{"jsonrpc":"2.0","id":2,"method":"ping","__proto__":{"polluted":true}}',
  '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"__proto__":{"requestId":1}}}',
  '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"process_large_file","arguments":{"__proto__":{"path":"sample.txt"}}}}',
];
const rawBody: fc.Arbitrary<Json> = fc.oneof(
  { weight: 24, arbitrary: fc.constantFrom(...RAW_BODIES).map((text) => new Verbatim(text, JSON.stringify(text))) },
  { weight: 8, arbitrary: fc.string({ unit: 'binary' }).map((text) => new Verbatim(text, JSON.stringify(text))) },
  { weight: 4, arbitrary: nested },
  // Past the 1 MB the server reads: about one message in a thousand.
  {
    weight: 1,
    arbitrary: fc.constant(
      new Verbatim(
        `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(1_100_000)}"}}`,
        '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"x…" (1.1 MB)}}',
      ),
    ),
  },
);

const body: fc.Arbitrary<Json> = fc.oneof(
  { weight: 24, arbitrary: message },
  { weight: 4, arbitrary: fc.tuple(message, mutation).map(([m, mutate]) => mutate(m)) },
  { weight: 1, arbitrary: fc.array(fc.oneof({ weight: 4, arbitrary: message }, junk), { maxLength: 5 }) },
  { weight: 1, arbitrary: rawBody },
  { weight: 1, arbitrary: junk },
);

const HEADER_VALUES: Record<string, (string | null)[]> = {
  'content-type': [
    ...[null, '', 'text/plain', 'APPLICATION/JSON', 'application/json; charset=utf-8'],
    ...['application/json; charset=latin1', 'application/json-seq', 'application/x-www-form-urlencoded'],
  ],
  accept: [null, '', 'application/json', 'text/event-stream', '*/*', 'text/html'],
  'mcp-protocol-version': [null, '2025-06-18', '1999-01-01', 'junk'],
  origin: ['http://evil.example', 'null', 'http://localhost:1'],
  'content-encoding': ['gzip', 'x-unknown', 'identity'],
};
const HEADER_CHANGES = Object.entries(HEADER_VALUES).flatMap(([name, values]) =>
  values.map((value) => [name, value] as const),
);
const headerChanges: fc.Arbitrary<Record<string, string | null>> = fc.oneof(
  { weight: 30, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc
      .uniqueArray(fc.constantFrom(...HEADER_CHANGES), { minLength: 1, maxLength: 2, selector: ([name]) => name })
      .map((changes) => Object.fromEntries(changes)),
  },
);
const sessionHeader: fc.Arbitrary<SessionHeader> = fc.oneof(
  { weight: 40, arbitrary: fc.constant<SessionHeader>('own') },
  { weight: 1, arbitrary: fc.constant<SessionHeader>('none') },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('nope', '00000000-0000-0000-0000-000000000000', ' ', 'x'.repeat(200))
      .map((unknown) => ({ unknown })),
  },
);
const post = fc.tuple(body, sessionHeader, headerChanges).map(([b, session, headers]) => new Post(b, session, headers));

/**
 * A call that would run for minutes, then its cancel (either JSON type of the id, with a reason or
 * not, with extra fields or not); between them, sometimes a cancel with the id in the other JSON
 * type, or another request that reuses the id while the call runs. The cancel is built from the
 * call, so no shrink can leave a long call without one.
 */
const longCallThenCancel = fc
  .tuple(
    cancellableId,
    fc.integer({ min: 2, max: 20 }),
    fc.constantFrom<'nothing' | 'other type' | 'same id' | 'status'>('nothing', 'other type', 'same id', 'status'),
    // A reason that is not a string, or a bad _meta, makes the SDK drop the cancel: keep both valid.
    sometimes(fc.oneof(fc.string({ maxLength: 30 }), bigString), 5),
    sometimes(fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), junk, { maxKeys: 2 }), 2),
  )
  .map(([id, chunks, between, reason, extra]) => {
    const call = request(id, 'tools/call', {
      name: 'process_large_file',
      arguments: { path: 'sample.txt', chunks, chunkDelayMs: 60_000 },
    });
    const otherType = typeof id === 'number' ? String(id) : Number(id);
    const middle = {
      nothing: [],
      'other type': [notification('notifications/cancelled', { requestId: otherType })],
      'same id': [request(id, 'ping')],
      status: [request(`status of ${id}`, 'tools/call', { name: 'get_job_status', arguments: { requestId: id } })],
    }[between];
    const cancelIt = notification('notifications/cancelled', defined({ ...extra, requestId: id, reason }));
    return new Step([call, ...middle, cancelIt].map((m) => new Post(m)));
  });

/** `initialize` without a session: the server starts a new one (the test ends it with DELETE). */
const newSession = initializeParams.map((params) => new Step([new Post(request(0, 'initialize', params), 'none')]));

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 40, arbitrary: post.map((p) => new Step([p])) },
  { weight: 3, arbitrary: fc.array(post, { minLength: 2, maxLength: 3 }).map((posts) => new Step(posts, true)) },
  { weight: 3, arbitrary: longCallThenCancel },
  { weight: 1, arbitrary: newSession },
);

/**
 * Between `minSteps` and `maxSteps` steps. Each slot can shrink to "send nothing" (null, drawn in
 * about one slot in a billion), so a failure shrinks to the few steps that matter while a generated
 * run still sends at least `minSteps`.
 */
export const sequence = (minSteps: number, maxSteps: number): fc.Arbitrary<Sequence> =>
  fc
    .array(fc.option(step, { freq: 2 ** 30 }), { minLength: minSteps, maxLength: maxSteps })
    .map((slots) => new Sequence(slots.filter((slot): slot is Step => slot !== null)));
