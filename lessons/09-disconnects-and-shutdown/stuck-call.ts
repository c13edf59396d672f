// A process with one call that never finishes its clean-up (it waits on something no signal
// reaches), shut down by the shutdown that --shutdown F names (shutdown.ts by default): the
// exercise's check (exercise-check.ts) sends it SIGTERM and reads the shutdown's records and the
// exit code. A real server's calls all stop in time, so this is where the deadline shows.
//
//   npx tsx lessons/09-disconnects-and-shutdown/stuck-call.ts [--shutdown F] [--shutdown-deadline-ms N]
import { setTimeout as sleep } from 'node:timers/promises';
import { createTimeline } from '../shared/timeline.ts';
import { shutdownDeadlineMs } from './server-flags.ts';
import { shutDownGracefully } from './shutdown-choice.ts';

const log = createTimeline('server');
let running = 1;
void sleep(60_000).then(() => (running = 0)); // no signal, so stopping it changes nothing

shutDownGracefully({
  log,
  deadlineMs: shutdownDeadlineMs,
  stopAll: () => running,
  stillBusy: () => running,
  close: async () => undefined, // no sessions here
});
log.ok(
  `ready: ${running} call running that never cleans up (shutdown deadline ${shutdownDeadlineMs} ms): send SIGTERM`,
);
