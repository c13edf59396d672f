// Lesson servers shared by the tests of one file, each test seeing its own part of the log.
import { after } from 'node:test';
import { startLessonServer } from './processes.ts';

export type LessonServer = Awaited<ReturnType<typeof startLessonServer>>;

/**
 * Call at the top of a test file. The first test that asks for `file` with given flags starts it,
 * later ones with the same flags reuse it, and all are stopped after the file's last test. Sharing
 * took the suite from 179 server starts to 129, each 0.15-0.3 s of CPU.
 *
 * The tests of a file run one at a time, so each gets a view whose `lines`, `output()` and
 * `waitForLine` begin where that test began: it reads its own part of the server's log. A test
 * that stops or kills its server, or reads the log from its start (a README block), starts its own.
 * A test in such a file must not block its process for seconds (a spawnSync): meanwhile the server
 * closes the idle keep-alive connection, and the next test's fetch fails on it ("other side closed").
 */
export function sharedServers(file: string) {
  const started = new Map<string, Promise<LessonServer>>();
  after(async () => {
    await Promise.all([...started.values()].map(async (server) => (await server.catch(() => undefined))?.stop()));
  });
  return async (args: string[] = []): Promise<LessonServer> => {
    const key = JSON.stringify(args);
    if (!started.has(key)) started.set(key, startLessonServer(file, args));
    const server = await started.get(key)!;
    const from = server.lines.length;
    const fromRecord = server.proof().length;
    const lines = () => server.lines.slice(from);
    return {
      ...server,
      get lines() {
        return lines();
      },
      output: () => lines().join('\n'),
      waitForLine: (pattern, timeoutMs, start = 0) => server.waitForLine(pattern, timeoutMs, from + start),
      proof: () => server.proof().slice(fromRecord),
      waitForProof: (what, matches, timeoutMs, start = 0) =>
        server.waitForProof(what, matches, timeoutMs, fromRecord + start),
      waitForJob: (requestId, until, options = {}) =>
        server.waitForJob(requestId, until, { ...options, from: fromRecord + (options.from ?? 0) }),
      stop: () => Promise.reject(new Error('a shared server is stopped after the last test: start one of its own')),
    };
  };
}

/**
 * A test file's `withServer(args, body)`: runs `body` against the file's shared server with `args`
 * or, given `{ own: true }`, against one of its own, stopped once `body` is done (for a test that
 * stops or kills its server, or reads its whole log).
 */
export function serverRunner(file: string) {
  const shared = sharedServers(file);
  return async (args: string[], body: (server: LessonServer) => Promise<void>, { own = false } = {}) => {
    if (!own) return body(await shared(args));
    const server = await startLessonServer(file, args);
    try {
      await body(server);
    } finally {
      await server.stop();
    }
  };
}
