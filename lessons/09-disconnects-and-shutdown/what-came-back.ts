// What the lesson 09 client observed, said and handed to its test (proof.ts): the outcome, and
// whether it is the one --expect asked for (exit code 1 when it is not).
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import type { Outcome } from './client-flags.ts';

export function judge(observed: Outcome, expected: Outcome, log: Timeline): void {
  prove({ type: 'outcome', observed, expected });
  if (observed === expected) {
    log.ok(`observed: ${observed}, as expected`);
  } else {
    log.fail(`observed: ${observed}, expected: ${expected}`);
    process.exitCode = 1;
  }
}
