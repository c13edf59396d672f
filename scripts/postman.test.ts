// The Postman collection, run headless by newman, against real lesson servers: each folder passes
// against its lesson's server and, where that server has a flag that breaks the lesson's point (lesson
// 01's --ignore-signal, say), fails against it on the server's own record.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLessonServer } from '../lessons/shared/processes.ts';
import { checkReadmeOutput } from '../lessons/shared/readme-output.ts';
import { assertInOrder } from '../lessons/shared/testing.ts';
import { COLLECTION_FILE, FLOWS, formatReport, runPostmanFlow } from './postman.ts';

const lesson01 = FLOWS['01']!;
const lesson05 = FLOWS['05']!;
const lesson06 = FLOWS['06']!;
const lesson07 = FLOWS['07']!;
const lesson10 = FLOWS['10']!;
const lesson11 = FLOWS['11']!;

describe('folder 01 against a default lesson 01 server', () => {
  let server: Awaited<ReturnType<typeof startLessonServer>>;
  before(async () => (server = await startLessonServer(lesson01.server)));
  after(() => server?.stop());

  test('two lanes, as two tabs: it cancels a running call, the server confirms it stopped, and the README shows the run', async () => {
    const result = await runPostmanFlow(lesson01, server.url);
    const { failures, steps } = result;

    assert.deepEqual(failures, [], server.output());
    checkReadmeOutput(join(import.meta.dirname, '../postman/README.md'), 'newman-01', formatReport(result));
    assert.deepEqual(
      steps.map((step) => `${step.lane} ${step.name.split(' ')[0]} ${step.status}`),
      [
        'setup 1. 200 OK',
        'setup 2. 202 Accepted',
        'setup 3. 200 OK',
        'A 4. 200 OK',
        'B 5. 202 Accepted',
        'B 6. 200 OK',
        'B 7. 200 OK',
      ],
    );
  });

  test('one lane, as the Collection Runner runs it: the cancel goes out after the call has finished, and the tests say so', async () => {
    const inOrder = lesson01.phases.flatMap((phase) => Object.values(phase).flat());
    const { failures, steps } = await runPostmanFlow({ ...lesson01, phases: [{ runner: inOrder }] }, server.url);

    assert.deepEqual(
      steps.map((step) => step.name.split(' ')[0]),
      ['1.', '2.', '3.', '4.', '5.', '6.', '7.'],
    );
    // The call ran its 20 chunks and got its result; the cancel found it completed.
    assert.ok(steps[3]!.ms! >= 20 * 250, `the call took ${steps[3]!.ms} ms`);
    assert.deepEqual(steps[4]!.console, ['job already completed: nothing left to cancel']);
    const failed = failures.join('\n');
    assert.match(failed, /"the reply is error -32800 "Request cancelled""/);
    assert.match(
      failed,
      /"the call was running when this cancel went out": send the call first, and this cancel while it runs: expected 'completed' to equal 'running'/,
    );
    assert.match(failed, /"state is "cancelled"": expected 'completed' to equal 'cancelled'/);
    assert.match(failed, /"stopped before the last chunk"/);
    assert.match(failed, /"stopped within one chunk of the cancel arriving"/);
    assert.equal(failures.length, 5, failed);
  });
});

test('folder 01 fails against a handler that ignores the cancel', async (t) => {
  const server = await startLessonServer(lesson01.server, ['--ignore-signal']);
  t.after(() => server.stop());

  const { failures } = await runPostmanFlow(lesson01, server.url);

  const failed = failures.join('\n');
  assert.match(failed, /"state is "cancelled"": expected '(running|completed)' to equal 'cancelled'/);
  assert.match(failed, /"stopped within one chunk of the cancel arriving": expected \d+ to be at most 1/);
  assert.match(failed, /"the reply is error -32800 "Request cancelled""/);
});

test('folder 05: a cancelled call leaves nothing behind, a retry with its key runs once, and the README shows the run', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'postman-05-'));
  const server = await startLessonServer(lesson05.server, ['--data', data]);
  t.after(async () => {
    await server.stop();
    rmSync(data, { recursive: true, force: true });
  });

  const result = await runPostmanFlow(lesson05, server.url);

  assert.deepEqual(result.failures, [], server.output());
  // Where the cancel lands (which batch, which step of it) varies from run to run.
  checkReadmeOutput(join(import.meta.dirname, '../postman/README.md'), 'newman-05', formatReport(result), [
    [/batch \d+\/(\d+): [^"]+/g, 'batch N/$1: STEP'],
  ]);
  assert.deepEqual(
    result.steps.map((step) => `${step.lane} ${step.name.split(' ')[0]} ${step.status}`),
    [
      'setup 1. 200 OK',
      'setup 2. 202 Accepted',
      'A 3. 200 OK',
      'B 4. 202 Accepted',
      'B 5. 200 OK',
      'finish 6. 200 OK',
      'finish 7. 200 OK',
      'finish 8. 200 OK',
    ],
  );
});

test('folder 05 fails against a server that writes its output in place', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'postman-05-'));
  const server = await startLessonServer(lesson05.server, ['--data', data, '--write-in-place']);
  t.after(async () => {
    await server.stop();
    rmSync(data, { recursive: true, force: true });
  });

  const { failures } = await runPostmanFlow(lesson05, server.url);

  assert.match(failures.join('\n'), /"report\.txt untouched": expected 'left half-written' to equal 'untouched'/);
});

test('folder 06: the server stops the call at its deadline, says so, and the README shows the run', async (t) => {
  const server = await startLessonServer(lesson06.server);
  t.after(() => server.stop());

  const result = await runPostmanFlow(lesson06, server.url);

  assert.deepEqual(result.failures, [], server.output());
  checkReadmeOutput(join(import.meta.dirname, '../postman/README.md'), 'newman-06', formatReport(result));
  assert.deepEqual(
    result.steps.map((step) => `${step.lane} ${step.name.split(' ')[0]} ${step.status}`),
    ['run 1. 200 OK', 'run 2. 202 Accepted', 'run 3. 200 OK', 'run 4. 200 OK', 'run 5. 200 OK'],
  );
});

test('folder 06 fails when the server caps the deadline below what the call asked for', async (t) => {
  const server = await startLessonServer(lesson06.server, ['--deadline-ms', '200']);
  t.after(() => server.stop());

  const { failures } = await runPostmanFlow(lesson06, server.url);

  const failed = failures.join('\n');
  assert.match(failed, /"its text names the deadline and how far the job got": expected 'Deadline of 200 ms passed/);
  assert.match(failed, /"stopped by the deadline, not by a cancel": expected 'deadline \(200 ms\)'/);
});

test('folder 07: progress echoes the token and climbs to its total before the result, none without a token, and the README shows the run', async (t) => {
  const server = await startLessonServer(lesson07.server);
  t.after(() => server.stop());

  const result = await runPostmanFlow(lesson07, server.url);

  assert.deepEqual(result.failures, [], server.output());
  checkReadmeOutput(join(import.meta.dirname, '../postman/README.md'), 'newman-07', formatReport(result));
  assert.deepEqual(
    result.steps.map((step) => `${step.lane} ${step.name.split(' ')[0]} ${step.status}`),
    [
      'run 1. 200 OK',
      'run 2. 202 Accepted',
      'run 3. 200 OK',
      'run 4. 200 OK',
      'run 5. 200 OK',
      'run 6. 200 OK',
      'run 7. 200 OK',
    ],
  );
  await server.waitForLine(/session \S+ ended/);
  assertInOrder(server.lines, [
    /tools\/call #1: process_large_file sample\.txt, 5 chunks, 250 ms apart, progressToken "progress-1"/,
    /#1 completed: \d+ sent, last 5\/5;/,
    /tools\/call #3: process_large_file sample\.txt, 5 chunks, 250 ms apart, no progressToken/,
    /#3 completed: not requested \(no progressToken\)/,
  ]);
});

test('folder 10: "1" cancels nothing, 1 stops the call, a repeat and an unknown id are ignored, and the README shows the run', async (t) => {
  const server = await startLessonServer(lesson10.server);
  t.after(() => server.stop());

  const result = await runPostmanFlow(lesson10, server.url);

  assert.deepEqual(result.failures, [], server.output());
  checkReadmeOutput(join(import.meta.dirname, '../postman/README.md'), 'newman-10', formatReport(result));
  assert.deepEqual(
    result.steps.map((step) => `${step.lane} ${step.name.split(' ')[0]} ${step.status}`),
    [
      'setup 1. 200 OK',
      'setup 2. 202 Accepted',
      'A 3. 200 OK',
      'B 4. 202 Accepted',
      'B 5. 200 OK',
      'B 6. 202 Accepted',
      'B 7. 200 OK',
      'finish 8. 202 Accepted',
      'finish 9. 200 OK',
      'finish 10. 202 Accepted',
      'finish 11. 200 OK',
      'finish 12. 200 OK',
    ],
  );
  // Every cancel got the same empty 202; the server's log says what it made of each.
  await server.waitForLine(/session \S+ ended/);
  assertInOrder(server.lines, [
    /notifications\/cancelled for "1" matches no request: the running one's id is 1, and ids must match in JSON type/,
    /notifications\/cancelled for #1 \(reason: "right type"\)/,
    /#1 handler stopped after chunk \d+\/20, on the cancel \(reason: "right type"\)/,
    /notifications\/cancelled for #1, which already cancelled: nothing to cancel, ignored/,
    /notifications\/cancelled for 999 matches no request in this session: ignored/,
  ]);
  assert.equal(server.lines.filter((line) => line.includes('handler stopped')).length, 1, server.output());
  assert.equal(server.lines.filter((line) => line.includes('replying:')).length, 1, server.output());
});

test('folder 11: tasks/cancel cancels the task, the server confirms its work stopped, and the README shows the run', async (t) => {
  const server = await startLessonServer(lesson11.server);
  t.after(() => server.stop());

  const result = await runPostmanFlow(lesson11, server.url);

  assert.deepEqual(result.failures, [], server.output());
  // Task ids are random.
  checkReadmeOutput(join(import.meta.dirname, '../postman/README.md'), 'newman-11', formatReport(result), [
    [/"taskId":"[0-9a-f]{32}"/g, '"taskId":"<task-id>"'],
  ]);
  assert.deepEqual(
    result.steps.map((step) => `${step.lane} ${step.name.split(' ')[0]} ${step.status}`),
    [
      'run 1. 200 OK',
      'run 2. 202 Accepted',
      'run 3. 200 OK',
      'run 4. 200 OK',
      'run 5. 200 OK',
      'run 6. 200 OK',
      'run 7. 200 OK',
      'run 8. 200 OK',
      'run 9. 200 OK',
    ],
  );
});

test('folder 11 fails against the stock task store, where tasks/cancel does not stop the work', async (t) => {
  const server = await startLessonServer(lesson11.server, ['--unwired']);
  t.after(() => server.stop());

  const { failures } = await runPostmanFlow(lesson11, server.url);

  const failed = failures.join('\n');
  // The task still says cancelled: only the server's record of the work shows it ran on.
  assert.doesNotMatch(failed, /"the task is cancelled"|"the answer is the task, now cancelled"/);
  assert.match(failed, /"the work was cancelled, before the last chunk": expected 'completed' to equal 'cancelled'/);
  assert.match(failed, /"stopped within one chunk of tasks\/cancel arriving": expected \d+ to be at most 1/);
});

test("the collection's pre-request script is postman/mcp-helpers.js, where eslint checks it", () => {
  const collection = JSON.parse(readFileSync(COLLECTION_FILE, 'utf8')) as {
    event: { listen: string; script: { exec: string[] } }[];
  };
  const script = collection.event.find((event) => event.listen === 'prerequest')?.script.exec.join('\n');
  const file = readFileSync(join(import.meta.dirname, '../postman/mcp-helpers.js'), 'utf8');
  assert.equal(script?.trim(), file.trim(), 'copy one into the other: they must stay identical');
});

test("every request's URL resolves on import: its folder's lessonNNUrl, a collection variable with a value", () => {
  const collection = JSON.parse(readFileSync(COLLECTION_FILE, 'utf8')) as {
    variable: { key: string; value: string }[];
    item: { name: string; event?: unknown[]; item: { name: string; request: { url: { raw: string } } }[] }[];
  };
  const values = new Map(collection.variable.map(({ key, value }) => [key, value]));
  for (const folder of collection.item) {
    const flow = Object.values(FLOWS).find((f) => f.folder === folder.name);
    assert.ok(flow, `no flow runs folder ${folder.name}`);
    assert.equal(folder.event, undefined, `${folder.name}: a folder script would run only when a request is sent`);
    for (const { name, request } of folder.item) {
      assert.equal(request.url.raw, `{{${flow.urlVariable}}}`, `${folder.name} / ${name}`);
    }
    assert.match(values.get(flow.urlVariable) ?? '', /^http:\/\/127\.0\.0\.1:31\d\d\/mcp$/, flow.urlVariable);
  }
});
