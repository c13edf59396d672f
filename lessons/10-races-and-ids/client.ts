// Lesson 10 client: the races and id mix-ups a cancel can meet, one scenario each. Each prints what
// it sent and what came back, then asks the server (get_job_status) what really happened.
// second-cancel is written out below; the others, in scenarios.ts, have the same shape.
//
// Spec: https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation
import { setTimeout as sleep } from 'node:timers/promises';
import { cancelAfterMs, only, SCENARIOS, url } from './client-flags.ts';
import { Session } from './recording-session.ts';
import { otherScenarios, runScenarios, type Checks } from './scenarios.ts';
import { describe, REQUEST_CANCELLED } from './what-came-back.ts';
import { exitPlainlyIfServerLost } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';

const log = createTimeline('client');
const main = new Session(log); // records every message it sends and receives

async function secondCancel(): Promise<Checks> {
  const { id, settled } = await main.startCall(); // id: as it left on the wire, never guessed
  await sleep(cancelAfterMs);
  // A user's click, then a timeout, say: the second leaves as soon as the first is accepted, so the
  // server reads them in this order while the handler is stopping or has stopped.
  const statuses = [await main.cancel(id, 'first'), await main.cancel(id, 'second')];
  const outcome = describe(main, id, await settled);
  const job = await main.report(id); // the server's account: get_job_status
  log.detail(`[${main.tag}] replies to #${id} on the wire: ${main.repliesTo(id).length}`);
  return [
    ['both cancels got HTTP 202', statuses.every((s) => s === 202)],
    ['the call was cancelled', outcome === 'cancelled' && job.state === 'cancelled'],
    ['stopped by the first cancel', job.cancelReason === 'first'],
    ['exactly one reply', main.repliesTo(id).length === 1 && job.reply === `error ${REQUEST_CANCELLED}`],
    ['file handle closed', job.fileHandle === 'closed'],
  ];
}

log.event(`connecting to ${url}`);
try {
  await main.connect();
} catch (error) {
  log.fail(`cannot connect to ${url}: ${(error as Error).message}`);
  log.detail('is the server running? npx tsx lessons/10-races-and-ids/server.ts');
  process.exit(1);
}
exitPlainlyIfServerLost(log, url, 'npx tsx lessons/10-races-and-ids/server.ts');
log.detail(`session ${main.transport.sessionId}, protocol ${main.transport.protocolVersion}`);

const scenarios = {
  ...otherScenarios(main),
  'second-cancel': { about: 'cancel the same call twice, one right after the other', run: secondCancel },
};
const failed = await runScenarios(only ? [only] : SCENARIOS, scenarios, log);

await main.close();
log.detail('session ended (DELETE)');
if (failed.length > 0) {
  log.fail(`${failed.length} expectation(s) not met`);
  process.exitCode = 1;
}
