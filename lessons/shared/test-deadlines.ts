// Imported by the test command into every test file's process (node --test --import), before the
// file itself: its waits then allow for a loaded machine. See stretchDeadlines in wait.ts.
import { stretchDeadlines } from './wait.ts';

stretchDeadlines();
