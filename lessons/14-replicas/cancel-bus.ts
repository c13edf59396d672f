// The cancel bus: Redis pub/sub that carries a `notifications/cancelled` from the replica it
// landed on to the replica running the call it names.
//
// Every replica subscribes to one channel. A replica that receives a cancel publishes it; every
// replica hears it (the publisher too), and the one holding a running call with that key aborts
// it. Pub/sub delivers only to who is listening now and keeps nothing: a cancel published before
// the call has started, or while its replica is disconnected from Redis, is lost, and a cancel is
// advice anyway (the spec lets a receiver ignore it).
//
// The key is the caller and the request id. In a stateless deployment there is no session to
// scope a request id by, and SDK 1.x numbers every client's requests from 0, so two clients' calls
// often share an id. `callerOf` in server.ts says who the caller is.
//
// Redis pub/sub: https://redis.io/docs/latest/develop/pubsub/  (client: node-redis, `redis` on npm)
import { createClient } from 'redis';
import type { Timeline } from '../shared/timeline.ts';

const CHANNEL = 'mcp:cancelled';

interface CancelMessage {
  key: string;
  reason?: string;
  /** The replica the notification landed on. */
  from: string;
}

export interface CancelBus {
  /** Registers a running call under `key`; its signal aborts when a cancel for `key` is heard. */
  watch(key: string): { signal: AbortSignal; /** the call has finished: forget it */ done(): void };
  /** Publishes a cancel for `key`, heard by every replica. */
  publish(key: string, reason: string | undefined): Promise<void>;
  close(): Promise<void>;
}

export async function connectCancelBus(url: string, replica: string, log: Timeline): Promise<CancelBus> {
  const publisher = createClient({ url });
  const subscriber = publisher.duplicate(); // a subscribed connection can do nothing else
  for (const client of [publisher, subscriber]) {
    // node-redis reconnects by itself; without a listener an 'error' event would end the process.
    client.on('error', (error: Error) => log.warn(`cancel bus: ${error.message}`));
  }
  await Promise.all([publisher.connect(), subscriber.connect()]);

  const running = new Map<string, AbortController>();
  await subscriber.subscribe(CHANNEL, (text) => {
    const { key, reason, from } = JSON.parse(text) as CancelMessage;
    const controller = running.get(key);
    if (!controller || controller.signal.aborted) return; // not ours: another replica runs it, or none
    log.highlight(`cancel bus: a cancel for ${key} landed on ${from}; this replica runs it: stopping it`);
    controller.abort(reason ?? 'cancelled through the cancel bus');
  });

  return {
    watch(key) {
      const controller = new AbortController();
      running.set(key, controller);
      return { signal: controller.signal, done: () => running.delete(key) };
    },
    async publish(key, reason) {
      await publisher.publish(CHANNEL, JSON.stringify({ key, reason, from: replica } satisfies CancelMessage));
    },
    async close() {
      await Promise.all([subscriber.close(), publisher.close()]);
    },
  };
}
