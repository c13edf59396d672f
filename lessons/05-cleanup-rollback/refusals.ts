// Why lesson 05 refuses a call, in words the caller can act on: the lock is held (by a call with
// the same key, or another), or the key was first used with other arguments.
import { acquireLock, LockHeldError, type LockOwner } from './lock-file.ts';

/** A call that was not run; McpServer turns it into a tool error result, with this message. */
export class CallRefused extends Error {
  override name = 'CallRefused';
}

/** Takes the lock at `path` for `owner`, or refuses the call, saying who holds it (`label` names the file). */
export async function takeLock(path: string, label: string, owner: Omit<LockOwner, 'pid' | 'since'>): Promise<void> {
  try {
    await acquireLock(path, { pid: process.pid, ...owner, since: new Date().toISOString() });
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    throw new CallRefused(lockRefusal(owner.idempotencyKey, error, label));
  }
}

function lockRefusal(key: string, error: LockHeldError, label: string): string {
  const owner = error.owner;
  if (owner?.idempotencyKey === key) {
    return (
      `idempotency key "${key}" belongs to a call that is still running (request ${JSON.stringify(owner.requestId)}, ` +
      `since ${owner.since}); it was not run twice. Retry when that call has ended: you get its stored result ` +
      'if it completed, or a fresh run if it was cancelled'
    );
  }
  return (
    `busy: another process_large_file call holds the lock (${owner ? `request ${JSON.stringify(owner.requestId)}, key "${owner.idempotencyKey}"` : label}); ` +
    'one call at a time. Try again when it ends'
  );
}

export const otherArguments = (key: string, fingerprint: string) =>
  new CallRefused(
    `idempotency key "${key}" was first used with other arguments (${fingerprint}); ` +
      'use a new key for a different request',
  );
