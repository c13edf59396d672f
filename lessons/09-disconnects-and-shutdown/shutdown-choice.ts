// Lesson 09 server's shutdown: shutdown.ts's, or with --shutdown F the one file F exports in its
// place (the exercise, exercise-shutdown.ts: `npm run learn -- 09`). Only this server takes the
// flag: every other lesson server shuts down through shutdown.ts itself.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTimeline } from '../shared/timeline.ts';
import { shutdownFile } from './server-flags.ts';
import { shutDownGracefully as lessonShutdown } from './shutdown.ts';

/** tsx's tsImport loads a .ts file however this server was started. */
export async function shutdownFrom(file: string): Promise<typeof lessonShutdown> {
  const tsx = 'tsx/esm/api'; // a variable, so the tests' bundle (quick-starts.ts) loads tsx from node_modules
  const api = (await import(tsx)) as {
    tsImport: (url: string, from: string) => Promise<{ shutDownGracefully: typeof lessonShutdown }>;
  };
  return (await api.tsImport(pathToFileURL(resolve(file)).href, import.meta.url)).shutDownGracefully;
}

export const shutDownGracefully = shutdownFile ? await shutdownFrom(shutdownFile) : lessonShutdown;
if (shutdownFile) createTimeline('server').warn(`the shutdown comes from ${shutdownFile}, not shutdown.ts`);
