// The report a lesson 05 run writes: into a temp file next to report.txt (or, with the broken
// --write-in-place, into report.txt itself), hashed as it is written, fsync'd before COMMIT.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Job } from '../shared/jobs.ts';
import type { Timeline } from '../shared/timeline.ts';

export function tempReport(job: Job, log: Timeline, writeInPlace: boolean) {
  const id = job.requestId;
  const hash = createHash('sha256');
  let file: FileHandle | undefined;
  return {
    async open(path: string) {
      file = await open(path, writeInPlace ? 'w' : 'wx');
      job.fileHandle = 'open';
      if (writeInPlace) job.resources.output = 'being overwritten in place';
    },
    async write(text: string) {
      hash.update(text);
      await file!.write(text);
    },
    /** Returns the sha256 of what was written, once its bytes are on disk and the file is closed. */
    async syncAndClose(): Promise<string> {
      await file!.sync();
      await file!.close();
      job.fileHandle = 'closed';
      return hash.digest('hex');
    },
    /** For `finally`: closes the file a stop left open, and says when report.txt is left half-written. */
    async closeIfOpen() {
      if (job.fileHandle === 'open') {
        await file?.close();
        job.fileHandle = 'closed';
        log.highlight(`#${id} temp file closed`);
      }
      if (writeInPlace && job.resources.output === 'being overwritten in place') {
        job.resources.output = 'left half-written';
        log.warn(`#${id} --write-in-place: report.txt is left half-written`);
      }
    },
  };
}

export type TempReport = ReturnType<typeof tempReport>;

/** fsyncs a folder, so that a rename inside it survives a power cut. */
export async function fsyncFolder(folder: string) {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
