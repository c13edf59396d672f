// The playground in a real browser: headless Chromium (Debian's), driven by playwright-core. For
// each server policy and era the test clicks start, then a way of stopping the call, and checks
// what the page's timeline shows against what the lesson server recorded and what its process
// holds open. One screenshot per case goes to a folder outside the repository.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startLessonServer, startTs } from '../../lessons/shared/processes.ts';
import { canSeeFileDescriptors, openDescriptorsTo } from '../../lessons/shared/testing.ts';
import { scaled, waitFor } from '../../lessons/shared/wait.ts';

const PLAYGROUND = join(import.meta.dirname, 'playground.ts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Outside git (node_modules is ignored), and kept after the run: the test command's temp folder is not. */
export const SCREENSHOTS =
  process.env.PLAYGROUND_SCREENSHOTS ??
  join(import.meta.dirname, '../../node_modules/.cache/mcp-cancellation-lessons/playground');

const missing = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}: sudo apt-get install -y chromium`;
if (missing && process.env.LESSONS_NEVER_SKIP) throw new Error(`LESSONS_NEVER_SKIP is set, but ${missing}`);

let playground: Awaited<ReturnType<typeof startLessonServer>>;
let browser: Browser;
let page: Page;
/** Every host the page fetched anything from: the playground must need no network beyond it. */
const hosts = new Set<string>();

interface Shown {
  lane: string;
  kind: string;
  text: string;
}
/** The timeline as the page shows it: every mark, by lane and kind, with its label. */
const timeline = (): Promise<Shown[]> =>
  page.$$eval('.ev', (marks) =>
    marks.map((mark) => ({
      lane: (mark as HTMLElement).dataset.lane!,
      kind: (mark as HTMLElement).dataset.kind!,
      text: mark.getAttribute('aria-label') ?? '',
    })),
  );
const shows = async (lane: string, kind: string) => (await timeline()).some((e) => e.lane === lane && e.kind === kind);
const waitForMark = (lane: string, kind: string) =>
  waitFor(`the ${lane} lane to show "${kind}"`, () => shows(lane, kind), { timeoutMs: 15_000 });
const counter = async (name: string) => Number(await page.textContent(`#count-${name}`));

type Records = { type: string; requestId?: unknown; tool?: string; [field: string]: unknown }[];
const serverInfo = async () =>
  (await (await fetch(new URL('/api/server', playground.url))).json()) as { pid: number; era: string; policy: string };
/** The lesson server's own latest record of the page's current call (by its session and id). */
async function lastJob() {
  const [session, callId] = await page.evaluate(() => [document.body.dataset.session, document.body.dataset.callId]);
  const records = (await (await fetch(new URL('/api/records', playground.url))).json()) as Records;
  return records
    .filter((r) => r.type === 'job' && r.tool === 'process_large_file')
    .filter((r) => JSON.stringify(r.requestId) === callId && (!session || r.session === session))
    .at(-1)!;
}

async function useServer(era: string, policy: string) {
  const current = await serverInfo();
  if (current.era !== era || current.policy !== policy) {
    if (current.era !== era) await page.selectOption('#era', era);
    if (era === '2025-11-25' && current.policy !== policy) await page.selectOption('#policy', policy);
    await waitFor('the new server', async () => {
      const info = await serverInfo();
      return info.era === era && (era !== '2025-11-25' || info.policy === policy) && info.pid !== current.pid;
    });
  }
  await page.waitForSelector('#start:not([disabled])');
}

async function startCall() {
  await page.fill('#chunks', '20');
  await page.fill('#delay', '150');
  // Keyboard, not a click: the page must work without a mouse.
  await page.focus('#start');
  await page.keyboard.press('Enter');
  await waitForMark('client', 'request sent');
  await waitFor('two chunks', async () => (await timeline()).filter((e) => e.kind === 'chunk').length >= 2);
}

describe('the playground in Chromium', { skip: missing ?? false, timeout: scaled(120_000) }, () => {
  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    playground = await startLessonServer(PLAYGROUND);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('request', (request) => hosts.add(new URL(request.url()).host));
    await page.goto(playground.url);
    await page.waitForSelector('#start:not([disabled])');
  });
  after(async () => {
    console.log(`playground screenshots: ${SCREENSHOTS}`);
    await browser?.close();
    await playground?.stop();
  });

  for (const [policy, reply] of [
    ['error', 'error -32800'],
    ['result', 'clean-cancel result'],
    ['none', undefined],
  ] as const) {
    test(`2025-11-25, --on-cancel ${policy}: notifications/cancelled stops the handler, closes its file, and ${reply ? `the reply is ${reply}` : 'nothing is replied: the stream is held'}`, async () => {
      await useServer('2025-11-25', policy);
      await startCall();
      await page.click('#cancel');
      await waitForMark('client', 'cancel sent');
      await waitForMark('server', 'handler stopped');
      await waitForMark('server', 'file closed');
      const job = await waitFor('the job record to settle', async () => {
        const j = await lastJob();
        return j.state === 'cancelled' && j.reply !== undefined && j;
      });
      assert.ok((job.chunksDone as number) < 20);
      assert.equal(job.fileHandle, 'closed');
      if (canSeeFileDescriptors) assert.equal(openDescriptorsTo((await serverInfo()).pid, 'sample.txt'), 0);
      if (reply) {
        assert.equal(job.reply, reply);
        await waitForMark('client', 'reply received');
        await waitForMark('server', 'stream closed');
        await waitFor('no open stream', async () => (await counter('openStreams')) === 0);
      } else {
        assert.match(String(job.reply), /^nothing/);
        await waitFor('the held stream counted', async () => (await counter('heldStreams')) === 1);
        assert.equal(await shows('client', 'reply received'), false);
      }
      assert.equal(await counter('runningHandlers'), 0);
      assert.equal(await counter('openFiles'), 0);
      await page.screenshot({ path: join(SCREENSHOTS, `2025-${policy}.png`), fullPage: true });
      if (!reply) {
        await page.click('#end-session'); // DELETE frees the held stream
        await page.waitForSelector('#start:enabled');
      }
    });
  }

  test('2025-11-25: aborting the fetch is a disconnect, not a cancel: the handler reads on to the end', async () => {
    await useServer('2025-11-25', 'error');
    await startCall();
    await page.click('#abort-fetch');
    await waitForMark('client', 'fetch aborted');
    const job = await waitFor('the call to finish', async () => {
      const j = await lastJob();
      return j.state !== 'running' && j;
    });
    assert.equal(job.state, 'completed');
    assert.equal(job.chunksDone, 20);
    assert.equal(await shows('client', 'cancel sent'), false);
    await waitForMark('server', 'handler stopped');
    await page.screenshot({ path: join(SCREENSHOTS, '2025-abort-fetch.png'), fullPage: true });
  });

  test('2025-11-25: ending the session (DELETE) stops the handler', async () => {
    await useServer('2025-11-25', 'error');
    await startCall();
    await page.click('#end-session');
    await waitForMark('client', 'session ended');
    await waitForMark('server', 'handler stopped');
    const job = await lastJob();
    assert.equal(job.state, 'cancelled');
    assert.equal(job.fileHandle, 'closed');
    await page.screenshot({ path: join(SCREENSHOTS, '2025-end-session.png'), fullPage: true });
  });

  test('2026-07-28: closing the stream is the cancel: the handler stops, and nothing is replied', async () => {
    await useServer('2026-07-28', 'error');
    await startCall();
    await page.click('#close-stream');
    await waitForMark('client', 'stream closed');
    await waitForMark('server', 'cancel received');
    await waitForMark('server', 'handler stopped');
    await waitForMark('server', 'file closed');
    const job = await waitFor('the job record to settle', async () => {
      const j = await lastJob();
      return j.state === 'cancelled' && j.reply !== undefined && j;
    });
    assert.equal(job.reply, 'nothing');
    assert.equal(await shows('client', 'reply received'), false);
    if (canSeeFileDescriptors) assert.equal(openDescriptorsTo((await serverInfo()).pid, 'sample.txt'), 0);
    await page.screenshot({ path: join(SCREENSHOTS, '2026-close-stream.png'), fullPage: true });
  });

  test('everything the page loaded came from the playground itself: no fonts or scripts from the network', () => {
    assert.deepEqual([...hosts], [new URL(playground.url).host]);
  });

  test('hovering an event shows its JSON-RPC message; at a phone width nothing spills sideways', async () => {
    await page.hover('.ev[data-lane="client"][data-kind="request sent"]');
    assert.match((await page.textContent('#detail')) ?? '', /"method": "tools\/call"/);
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone`);
    await page.screenshot({ path: join(SCREENSHOTS, 'phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});

test('the playground says plainly when its port is busy or a flag is wrong', async () => {
  const first = await startLessonServer(PLAYGROUND);
  try {
    const busy = startTs(PLAYGROUND, ['--port', new URL(first.url).port]);
    assert.equal(await busy.exited, 1);
    assert.match(busy.output(), /port \d+ on 127\.0\.0\.1 is in use: stop what holds it, or pass --port N/);
    assert.doesNotMatch(busy.output(), /\n\s+at /, 'no stack trace');
  } finally {
    await first.stop();
  }
  const wrong = startTs(PLAYGROUND, ['--era', '2024']);
  assert.equal(await wrong.exited, 2);
  assert.match(wrong.output(), /--era must be one of 2025-11-25, 2026-07-28; got "2024"/);
});
