// Runs ahead of every test file: the test command bundles it in front of each one (see
// testBundles in quick-starts.ts; from source, `node --test --import tsx --import ./lessons/shared/test-setup.ts`).
// Its waits then allow for a loaded machine (stretchDeadlines in wait.ts), and the lesson
// processes it starts run from bundles made once (quick-starts.ts).
import { prepareQuickStarts } from './quick-starts.ts';
import { stretchDeadlines } from './wait.ts';

stretchDeadlines();
await prepareQuickStarts();
