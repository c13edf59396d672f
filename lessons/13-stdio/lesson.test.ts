// Lesson 13: the same cancel over stdio with SDK 1.x and 2.x; what a closed stdin does in each line.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startTs } from '../shared/processes.ts';
import { checkReadmeOutput } from '../shared/readme-output.ts';
import { onlyProof, proofOf } from '../shared/testing.ts';
import { scaled } from '../shared/wait.ts';
import { isAlive } from './stdio-side.ts';

const here = import.meta.dirname;
const run = async (file: string, args: string[]) => {
  const client = startTs(join(here, file), ['--chunks', '20', '--chunk-delay', '100', ...args]);
  const code = await client.exited;
  return { client, code };
};
/** Every server process the client spawned (2.x's probe sibling included) has exited. */
const noServerLeft = (client: Parameters<typeof proofOf>[0]) => {
  const pids = proofOf(client, 'server-start').map((r) => r.pid as number);
  assert.ok(pids.length > 0);
  for (const pid of pids) assert.equal(isAlive(pid), false, `server ${pid} outlived its client`);
  return pids;
};
const job = (client: Parameters<typeof proofOf>[0]) => proofOf(client, 'job').at(-1)!;

for (const [file, sdk] of [
  ['client.ts', '1.x'],
  ['client-v2.ts', '2.x'],
] as const) {
  describe(`lesson 13 over stdio with SDK ${sdk}`, () => {
    test('the abort writes notifications/cancelled, the handler stops within a chunk and closes its file', async () => {
      // In 2026-07-28 over stdio there is no handshake: the call is written before the server has
      // loaded, so on a busy machine a short delay can cancel a call whose handler has not begun.
      const late = sdk === '2.x' ? ['--cancel-after', String(scaled(1500)), '--chunks', '60'] : [];
      const { client, code } = await run(file, ['--cancel-after', '900', ...late]);
      assert.equal(code, 0, client.output());
      if (sdk === '1.x') assert.equal(onlyProof(client, 'connected').protocol, '2025-11-25'); // agreed, not assumed
      const id = onlyProof(client, 'server-report').requestId;
      assert.equal(onlyProof(client, 'cancel-sent').params.requestId, id);
      const last = job(client);
      assert.equal(last.state, 'cancelled');
      assert.equal(last.fileHandle, 'closed');
      assert.equal(last.reply, 'nothing');
      assert.ok(last.chunksDone <= last.chunksDoneWhenCancelArrived + 1);
      assert.ok('error' in onlyProof(client, 'came-back')); // the SDK gives up locally at once
      noServerLeft(client);
      if (sdk === '1.x') checkReadmeOutput(join(here, 'README.md'), 'client', client.lines, [[/pid \d+/g, 'pid N']]);
    });
    test('a closed stdin mid-call', async () => {
      const { client, code } = await run(file, ['--close-stdin-after', '900']);
      assert.equal(code, 0, client.output());
      assert.deepEqual(onlyProof(client, 'stdin-closed').running.length, 1);
      const last = job(client);
      // 1.x: server.ts closes its McpServer on stdin's end, which aborts the handler (protocol.js _onclose).
      // 2.x: the transport closes on stdin's end by itself and aborts the handler. No reply; the call rejects.
      assert.equal(last.state, 'cancelled');
      assert.ok(last.chunksDone < 20, `stopped early: ${last.chunksDone}/20`);
      assert.equal(last.fileHandle, 'closed');
      assert.ok('error' in onlyProof(client, 'came-back'));
      assert.equal(onlyProof(client, 'server-exit').code, 0); // it exits by itself, no signal needed
      noServerLeft(client);
    });
  });
}

test("SDK 1.x's own stdin (exercise-server.ts, which leaves it to the SDK): a closed stdin stops nothing, the result still comes back", async () => {
  const closeStdin = ['--server', 'exercise-server.ts', '--close-stdin-after', '900'];
  // As the README's Things to try runs it (--expect ran-on), and as its Exercise does (expects stopped).
  const [ranOn, unsolved] = await Promise.all([
    run('client.ts', [...closeStdin, '--expect', 'ran-on']),
    run('client.ts', closeStdin),
  ]);
  assert.equal(ranOn.code, 0, ranOn.client.output());
  assert.equal(unsolved.code, 1, unsolved.client.output());
  assert.deepEqual(onlyProof(unsolved.client, 'outcome'), {
    ...onlyProof(unsolved.client, 'outcome'),
    observed: 'ran-on',
    expected: 'stopped',
  });
  for (const { client } of [ranOn, unsolved]) {
    assert.deepEqual(onlyProof(client, 'stdin-closed').running.length, 1);
    const last = job(client);
    assert.deepEqual([last.state, last.chunksDone, last.fileHandle], ['completed', 20, 'closed']);
    assert.ok('result' in onlyProof(client, 'came-back'));
    assert.equal(onlyProof(client, 'server-exit').code, 0); // nothing else holds it, once the handler is done
    noServerLeft(client);
  }
});

describe('lesson 13 in SDK 2.x: the era over stdio', () => {
  test('auto negotiates 2026-07-28 on a probe sibling, then one session process', async () => {
    const { client, code } = await run('client-v2.ts', ['--no-cancel']);
    assert.equal(code, 0, client.output());
    assert.equal(onlyProof(client, 'connected').protocol, '2026-07-28');
    assert.deepEqual(
      proofOf(client, 'server-era').map((r) => r.era),
      ['modern', 'modern'],
    );
    assert.equal(noServerLeft(client).length, 2); // the probe's own process, and the session's
  });
});

test('a bad flag gives a plain message, no stack trace', async () => {
  const { client, code } = await run('client.ts', ['--chunks', 'many']);
  assert.equal(code, 2);
  assert.match(client.output(), /--chunks must be a whole number/);
  assert.doesNotMatch(client.output(), /at .*\.ts:\d+/);
});
