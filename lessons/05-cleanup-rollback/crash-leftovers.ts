// What a crashed lesson 05 server leaves behind, and removing it at start-up.
import { existsSync } from 'node:fs';
import { readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { prove } from '../shared/proof.ts';
import type { Timeline } from '../shared/timeline.ts';
import { isRunning, readLockOwner } from './lock-file.ts';
import { paths, show } from './server-flags.ts';

/**
 * A crash (SIGKILL, power cut) runs no `finally`: it can leave the lock file and a temp dir. The
 * database needs nothing: PostgreSQL discards a transaction that never committed. At start-up,
 * remove what a process that no longer runs left behind. (A pid can be reused after a reboot; a
 * production lock would also record the boot id or use an advisory lock in the database.)
 */
export async function removeCrashLeftovers(log: Timeline) {
  const owner = await readLockOwner(paths.lock);
  if (owner && owner.pid !== process.pid && !isRunning(owner.pid)) {
    await unlink(paths.lock);
    prove({ type: 'stale lock removed', owner });
    log.warn(
      `removed a stale lock left by pid ${owner.pid}, which is no longer running (request ${JSON.stringify(owner.requestId)}, key ${owner.idempotencyKey})`,
    );
  } else if (existsSync(paths.lock)) {
    log.warn(
      `${show(paths.lock)} is held by ${owner ? `pid ${owner.pid}, which is running` : 'an unknown process'}: left alone`,
    );
  }
  for (const name of await readdir(paths.temp)) {
    const pid = Number(/^run-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !isRunning(pid)) {
      await rm(join(paths.temp, name), { recursive: true, force: true });
      prove({ type: 'stale temp dir removed', name, pid });
      log.warn(`removed ${show(join(paths.temp, name))}, left by pid ${pid}, which is no longer running`);
    }
  }
}
