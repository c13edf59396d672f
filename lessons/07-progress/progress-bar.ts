// Lesson 07 client's progress bar, and the timeline that prints above it. In a terminal the bar
// redraws in place, and timeline lines print above it; elsewhere (a pipe, CI) there is no bar and
// each progress notification is a plain timeline line.
import cliProgress from 'cli-progress';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { prove } from '../shared/proof.ts';
import { createTimeline } from '../shared/timeline.ts';
import { flood } from './client-flags.ts';

const live = process.stdout.isTTY && flood === undefined;
const bars = live
  ? new cliProgress.MultiBar(
      {
        format: 'progress [{bar}] {percentage}% | {value}/{total} | {message}',
        barsize: 30,
        stream: process.stdout,
        hideCursor: true,
        // true leaves the terminal's line wrap on; the default (false) turns it off, which cuts every log
        // line at the right edge. The bar itself is still cut to the terminal's width.
        linewrap: true,
        forceRedraw: true, // redraw the bar below a log line even when its value has not changed
      },
      cliProgress.Presets.shades_classic,
    )
  : undefined;
let progressBar: cliProgress.SingleBar | undefined; // on screen from the first progress until stopBar()

export const log = createTimeline('client', (line) => {
  if (!progressBar) return console.log(line);
  bars!.log(`${line}\n`);
  bars!.update(); // now, not at the next redraw: clears the bar's line, writes this one, redraws the bar below
});

/** Draws one progress notification: on the bar in a terminal, as a timeline line elsewhere. */
export function drawProgress({ progress, total, message }: Progress, percent: number) {
  prove({ type: 'progress', progress, total, message, percent });
  if (bars) {
    progressBar ??= bars.create(total ?? 0, 0, { message: '' });
    progressBar.update(progress, { message: message ?? '' });
  } else {
    log.event(`progress ${progress}/${total ?? '?'} (${percent}%) "${message ?? ''}"`);
  }
}

/** Stops the bar (its last state stays on screen) and shows the cursor again; once, however often it is called. */
export const stopBar = () => {
  if (!progressBar) return;
  progressBar = undefined;
  bars!.stop();
};
