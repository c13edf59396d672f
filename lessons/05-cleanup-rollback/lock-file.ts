// An exclusive lock that anyone can see: a file created with the `wx` flag (O_CREAT | O_EXCL), which
// fails with EEXIST when the file is already there. open(2) makes the check and the create one atomic
// step (https://man7.org/linux/man-pages/man2/open.2.html), so two processes cannot both create it. The file says who holds the lock; deleting it releases it.
//
// Why a file rather than an in-memory mutex: it works across processes that share the data folder,
// a test (or you, with `ls`) can check from outside that it was released, and a lock left by a
// process that crashed is recognisable, because it names a pid that no longer runs.
import { open, readFile, unlink } from 'node:fs/promises';

export interface LockOwner {
  pid: number;
  requestId: string | number;
  idempotencyKey: string;
  since: string;
}

export class LockHeldError extends Error {
  override name = 'LockHeldError';
  /** Who holds it, when the file could be read (it may be mid-write, or just released). */
  constructor(readonly owner: LockOwner | undefined) {
    super(owner ? `held by request ${JSON.stringify(owner.requestId)} (pid ${owner.pid})` : 'held');
  }
}

/** Creates `path` holding `owner`, or throws LockHeldError naming the current holder. */
export async function acquireLock(path: string, owner: LockOwner): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new LockHeldError(await readLockOwner(path));
    throw error;
  }
  try {
    await handle.writeFile(JSON.stringify(owner));
  } catch (error) {
    await unlink(path); // a lock that says nothing about its owner helps no one
    throw error;
  } finally {
    await handle.close();
  }
}

export async function releaseLock(path: string): Promise<void> {
  await unlink(path);
}

export async function readLockOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockOwner;
  } catch {
    return undefined; // gone, or created but not written yet
  }
}

/** Whether process `pid` is running (signal 0 checks without sending anything). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // running, but not ours to signal
  }
}
