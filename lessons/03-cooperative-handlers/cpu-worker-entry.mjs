// Loads cpu-worker.ts in the worker thread. On Node 20, tsx registers its TypeScript loader only in
// the main thread, so `new Worker('cpu-worker.ts')` fails there with ERR_UNKNOWN_FILE_EXTENSION,
// under `npx tsx` and `node --import tsx` alike (lesson.test.ts checks both).
// tsImport is tsx's public API for importing one TypeScript file from JavaScript.
import { tsImport } from 'tsx/esm/api';

await tsImport('./cpu-worker.ts', import.meta.url);
