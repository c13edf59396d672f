// Lesson 11 server's AbortingTaskStore: task-store.ts's, or with --task-store F the one file F
// exports in its place (the exercise, exercise-task-store.ts: `npm run learn -- 11`).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { taskStoreFile } from './server-flags.ts';
import { AbortingTaskStore as LessonStore } from './task-store.ts';

/** tsx's tsImport loads a .ts file however this server was started. */
async function storeFrom(file: string): Promise<typeof LessonStore> {
  const tsx = 'tsx/esm/api'; // a variable, so the tests' bundle (quick-starts.ts) loads tsx from node_modules
  const api = (await import(tsx)) as {
    tsImport: (url: string, from: string) => Promise<{ AbortingTaskStore: typeof LessonStore }>;
  };
  return (await api.tsImport(pathToFileURL(resolve(file)).href, import.meta.url)).AbortingTaskStore;
}

export const AbortingTaskStore = taskStoreFile ? await storeFrom(taskStoreFile) : LessonStore;
