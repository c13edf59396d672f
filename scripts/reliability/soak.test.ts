// npm run soak, for a few seconds: it starts the lesson server, runs every kind of cycle, prints its
// samples and a verdict, writes its JSON and leaves no process behind, on its own and on Ctrl-C.
// A run this short says nothing about a trend (the script says so); the trend rule is checked on
// made-up series instead.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startTs } from '../../lessons/shared/processes.ts';
import { scaled, waitFor } from '../../lessons/shared/wait.ts';
import { judgeTrend, type Limit, type ProcessReading, type Trend } from './soak-measure.ts';

const SOAK = join(import.meta.dirname, 'soak.ts');
const SAMPLE_ROW = /runner\s+\d+ s\s+\d+\.\d\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+/;

interface SoakJson {
  serverPid: number;
  counts: Record<string, number>;
  samples: unknown[];
  after?: { server: ProcessReading };
  trend: { judged: boolean };
  verdict: { behaved: boolean; released: boolean; interrupted: boolean; exitCode: number };
}

function tempJson(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'soak-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'soak.json');
}

const processGone = (pid: number) =>
  waitFor(`process ${pid} to be gone`, () => !existsSync(`/proc/${pid}`), { timeoutMs: 5000 });

describe('npm run soak', { concurrency: true, timeout: scaled(30_000) }, () => {
  test('--seconds 2: every kind of cycle runs, samples and a verdict are printed, the JSON written, nothing left running', async (t) => {
    const out = tempJson(t);
    const soak = startTs(SOAK, ['--seconds', '2', '--session-cycles', '3', '--session-idle-ms', '500', '--out', out]);
    t.after(() => soak.stop());

    const [, pid] = await soak.waitForLine(/server pid (\d+) listening on http:\/\/127\.0\.0\.1:\d+\/mcp/);
    const code = await soak.exited;
    const output = soak.output();

    assert.equal(code, 0, output);
    assert.ok(soak.lines.filter((line) => SAMPLE_ROW.test(line)).length >= 2, output);
    assert.match(output, /runner\s+idle\s/);
    assert.match(output, /runner\s+after\s+[\d.]+\s+\d+\s+0\s+\d+\s+0\s/); // no connection, no handle on sample.txt
    assert.match(output, /trend: not judged/);
    assert.match(
      output,
      /verdict: trend not judged \(run too short\); every cycle behaved; everything released → exit 0/,
    );

    const json = JSON.parse(readFileSync(out, 'utf8')) as SoakJson;
    assert.equal(json.serverPid, Number(pid));
    for (const kind of [
      'cancel-mid-call',
      'complete',
      'cancel-after-completion',
      'cancel-unknown-id',
      'delete-mid-call',
    ])
      assert.ok(json.counts[kind]! > 0, `no ${kind} cycle in ${JSON.stringify(json.counts)}`);
    assert.equal(json.counts.unexpected, 0);
    // Every session ends: DELETEd, or its client vanished and the server expired it.
    assert.equal(json.counts.sessionsDeleted! + json.counts.sessionsVanished!, json.counts.sessionsOpened);
    assert.equal(json.counts.sessionsExpired, json.counts.sessionsVanished);
    assert.equal(json.counts.lateReplies, json.counts['cancel-mid-call']); // one -32800 per cancelled call
    assert.ok(json.samples.length >= 2);
    assert.equal(json.after?.server.tcp, 0);
    assert.equal(json.after?.server.sampleFileFds, 0);
    assert.equal(json.trend.judged, false);
    const { behaved, released, exitCode } = json.verdict;
    assert.deepEqual({ behaved, released, exitCode }, { behaved: true, released: true, exitCode: 0 });
    await processGone(Number(pid));
  });

  test('Ctrl-C: it stops the server, prints the partial report and exits 130', async (t) => {
    const out = tempJson(t);
    const soak = startTs(SOAK, ['--minutes', '5', '--every', '1', '--out', out]);
    t.after(() => soak.stop());

    const [, pid] = await soak.waitForLine(/server pid (\d+) listening/);
    await soak.waitForLine(SAMPLE_ROW);
    soak.child.kill('SIGINT');
    const code = await soak.exited;
    const output = soak.output();

    assert.equal(code, 130, output);
    assert.match(output, /SIGINT: finishing the cycles in flight/);
    assert.match(output, /\d+ cycles in [\d.]+ s/);
    assert.match(output, /verdict: .*; interrupted → exit 130/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as SoakJson;
    assert.equal(json.verdict.interrupted, true);
    await processGone(Number(pid));
  });

  test('--help', async () => {
    const soak = startTs(SOAK, ['--help']);
    assert.equal(await soak.exited, 0);
    assert.match(soak.output(), /Usage: npm run soak/);
  });
});

describe('the trend rule', () => {
  const limits: Limit[] = [
    { metric: 'rssMb', label: 'RSS', maxRise: 30 },
    { metric: 'fds', label: 'fds', maxRise: 4 },
  ];
  const rule = { warmUpS: 30, minJudgedS: 150, minSamples: 12 };
  const noise = (i: number, amplitude: number) => (((i * 7) % 5) - 2) * (amplitude / 2); // -a..+a, no trend
  /** Three minutes of samples every 5 s, as `npm run soak -- --minutes 3` takes them. */
  const run = (rssMb: (t: number) => number, fds: (t: number) => number) =>
    Array.from({ length: 37 }, (_, i) => {
      const t = i * 5;
      return { t, server: { rssMb: rssMb(t) + noise(i, 15), fds: fds(t), tcp: 16, threads: 12, sampleFileFds: 1 } };
    });
  const growing = (trend: Trend) => (trend.judged ? trend.metrics.filter((m) => !m.flat).map((m) => m.metric) : null);

  test('a steep warm-up, then noise around a level: flat', () => {
    const trend = judgeTrend(
      run(
        (t) => (t < 30 ? 110 + 2 * t : 170),
        (t) => 44 + (t % 15 === 0 ? 2 : 0),
      ),
      limits,
      rule,
    );
    assert.deepEqual(growing(trend), []);
  });

  test('one descriptor more every 20 s, or RSS up 15 MB a minute: growth', () => {
    assert.deepEqual(
      growing(
        judgeTrend(
          run(
            () => 170,
            (t) => 44 + Math.floor(t / 20),
          ),
          limits,
          rule,
        ),
      ),
      ['fds'],
    );
    assert.deepEqual(
      growing(
        judgeTrend(
          run(
            (t) => 170 + (t / 60) * 15,
            () => 44,
          ),
          limits,
          rule,
        ),
      ),
      ['rssMb'],
    );
  });

  test('a run too short to judge is not judged', () => {
    const trend = judgeTrend(
      run(
        () => 170,
        () => 44,
      ).slice(0, 30),
      limits,
      rule,
    );
    assert.equal(trend.judged, false);
  });
});
