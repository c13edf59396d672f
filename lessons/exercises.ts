// Every lesson's exercise, in lesson order: what `npm run learn` offers (scripts/learn.ts).
import type { Exercise } from './shared/exercise-kit.ts';
import { exercise as e01 } from './01-cancel-by-id/exercise-check.ts';
import { exercise as e02 } from './02-abort-signal/exercise-check.ts';
import { exercise as e03 } from './03-cooperative-handlers/exercise-check.ts';
import { exercise as e04 } from './04-signal-into-io/exercise-check.ts';
import { exercise as e05 } from './05-cleanup-rollback/exercise-check.ts';
import { exercise as e06 } from './06-timeouts/exercise-check.ts';
import { exercise as e07 } from './07-progress/exercise-check.ts';
import { exercise as e08 } from './08-backpressure/exercise-check.ts';
import { exercise as e09 } from './09-disconnects-and-shutdown/exercise-check.ts';
import { exercise as e10 } from './10-races-and-ids/exercise-check.ts';
import { exercise as e11 } from './11-tasks/exercise-check.ts';
import { exercise as e12 } from './12-two-eras/exercise-check.ts';
import { exercise as e13 } from './13-stdio/exercise-check.ts';
import { exercise as e14 } from './14-replicas/exercise-check.ts';

export const exercises: Exercise[] = [e01, e02, e03, e04, e05, e06, e07, e08, e09, e10, e11, e12, e13, e14];
