// The report a lesson 05 run writes: into a temp file next to report.txt (or, with the broken
// --write-in-place or in the exercise, into report.txt itself), hashed as it is written, fsync'd before COMMIT.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Job } from '../shared/jobs.ts';
import type { Timeline } from '../shared/timeline.ts';

/** The report of job `job`; `output` is report.txt, which only a broken writer opens itself. */
export function tempReport(job: Job, log: Timeline, output: string) {
  const id = job.requestId;
  const hash = createHash('sha256');
  let file: FileHandle | undefined;
  let inPlace = false;
  return {
    /** True once it has opened report.txt itself rather than a temp file: a stop leaves it half-written. */
    get inPlace() {
      return inPlace;
    },
    async open(path: string) {
      inPlace = path === output;
      file = await open(path, inPlace ? 'w' : 'wx');
      job.fileHandle = 'open';
      if (inPlace) job.resources.output = 'being overwritten in place';
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
      if (inPlace && job.resources.output === 'being overwritten in place') {
        job.resources.output = 'left half-written';
        log.warn(`#${id} report.txt is left half-written (written in place, not renamed into place)`);
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
