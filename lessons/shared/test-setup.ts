// Imported by the test command into every test file's process (node --test --import), before the
// file itself: its waits then allow for a loaded machine (stretchDeadlines in wait.ts), and the
// lesson processes it starts run from bundles made once (quick-starts.ts).
import { prepareQuickStarts } from './quick-starts.ts';
import { stretchDeadlines } from './wait.ts';

stretchDeadlines();
await prepareQuickStarts();
