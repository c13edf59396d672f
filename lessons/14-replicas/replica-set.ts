// Three replica processes behind a throwaway HAProxy, and a throwaway Redis for the cancel bus:
// what cluster.ts runs for a reader, and what the lesson's tests start to read each replica's
// own proof. Each replica is a lesson server started as its own process on a free port.
import { join } from 'node:path';
import chalk from 'chalk';
import { startLessonServer, type StartedProcess } from '../shared/processes.ts';
import { missingServices, startHaproxy, startRedis, type Service } from '../shared/throwaway-services.ts';
import { haproxyConfig, type Balance } from './haproxy-config.ts';

/** What runs on each replica. */
export const REPLICA_KINDS = {
  sessions: {
    file: join(import.meta.dirname, '../01-cancel-by-id/server.ts'),
    about: "lesson 01's server: SDK 1.x, 2025-11-25, a session per client",
  },
  stateless: {
    file: join(import.meta.dirname, 'server.ts'),
    about: "this lesson's server: SDK 1.x, 2025-11-25, stateless",
  },
  exercise: {
    file: join(import.meta.dirname, 'exercise-server.ts'),
    about: "this lesson's exercise-server.ts: server.ts that does not hear the bus",
  },
  'sessions-v2': {
    file: join(import.meta.dirname, '../01-cancel-by-id/server-v2.ts'),
    about: "lesson 01's SDK 2.x server: 2025-11-25, a session per client",
  },
  v2: {
    file: join(import.meta.dirname, '../12-two-eras/server.ts'),
    about: "lesson 12's server: SDK 2.x, 2026-07-28, stateless",
  },
} as const;
export type ReplicaKind = keyof typeof REPLICA_KINDS;
/** The kinds that run this lesson's replica (or its exercise): they take --name and --bus. */
export const isStateless = (kind: ReplicaKind) => kind === 'stateless' || kind === 'exercise';

export interface ReplicaSetOptions {
  kind: ReplicaKind;
  balance: Balance;
  /** Start a Redis and give each (stateless) replica `--bus`. */
  bus: boolean;
  abortOnClose?: boolean;
  /** The balancer's port (0 or unset: a free one). */
  port?: number;
  count?: number;
  /** Each line a replica writes, raw (colours kept). */
  onLine?: (replica: string, line: string) => void;
  /** Extra flags for every replica. */
  replicaArgs?: string[];
}

export type Replica = StartedProcess & { name: string; url: string; port: number };

export interface ReplicaSet {
  /** The balancer's MCP endpoint: what a client connects to. */
  url: string;
  replicas: Replica[];
  replica(name: string): Replica;
  haproxy: Service & { config: string };
  redis?: Service & { url: string };
  stop(): Promise<void>;
}

/**
 * A replica's line as terminal 1 shows it: its `server` label replaced by the replica's name, or
 * undefined for its "listening on" line (the cluster says that once for all of them).
 */
export function relayLine(replica: string, line: string): string | undefined {
  if (/listening on http/.test(line)) return undefined;
  return line.replace(/server(?= )/, chalk.magenta(replica.padEnd(6)));
}

/** Thrown when HAProxy or Redis is not installed: its message says how to install them. */
export class MissingServiceError extends Error {
  override name = 'MissingServiceError';
}

export async function startReplicaSet(options: ReplicaSetOptions): Promise<ReplicaSet> {
  const { kind, balance, bus, count = 3 } = options;
  const missing = missingServices(bus ? ['haproxy', 'redis-server'] : ['haproxy']);
  if (missing) throw new MissingServiceError(missing);

  // Stopped in the reverse of the order they start in: the balancer, then the replicas (each
  // finishing its calls' clean-up, lesson 09), then the bus they were using.
  const stages: { stop(): Promise<unknown> }[][] = [];
  const stop = async () => {
    for (const stage of stages.reverse()) await Promise.all(stage.map((service) => service.stop()));
  };
  try {
    const redis = bus ? await startRedis() : undefined;
    if (redis) stages.push([redis]);
    const replicaStage: Replica[] = [];
    stages.push(replicaStage);
    const names = Array.from({ length: count }, (_, i) => `r${i + 1}`);
    const replicas = await Promise.all(
      names.map(async (name) => {
        const args = [
          ...(isStateless(kind) ? ['--name', name, ...(redis ? ['--bus', redis.url] : [])] : []),
          ...(options.replicaArgs ?? []),
        ];
        const server = await startLessonServer(REPLICA_KINDS[kind].file, args, {
          onLine: options.onLine && ((line) => options.onLine!(name, line)),
        });
        const replica: Replica = { ...server, name, port: Number(new URL(server.url).port) };
        replicaStage.push(replica);
        return replica;
      }),
    );
    const config = (port: number) =>
      haproxyConfig({
        port,
        balance,
        replicas: replicas.map(({ name, port: p }) => ({ name, port: p })),
        abortOnClose: options.abortOnClose,
      });
    const haproxy = await startHaproxy(config, options.port);
    stages.push([haproxy]);
    return {
      url: `http://127.0.0.1:${haproxy.port}/mcp`,
      replicas,
      replica: (name) => replicas.find((replica) => replica.name === name)!,
      haproxy,
      redis,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
