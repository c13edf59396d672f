// Lesson 14, terminal 1: three replicas behind HAProxy (and Redis, for the cancel bus), each
// started here on free ports with a generated config, all stopped by Ctrl-C. Every replica's
// lines are shown under its name, so you can see which one ran a call and which one a cancel
// landed on. Flags choose the deployment: see --help and the lesson's README.
import { choiceFlag, intFlag, parseFlags } from '../shared/cli.ts';
import { createTimeline } from '../shared/timeline.ts';
import {
  isStateless,
  MissingServiceError,
  relayLine,
  REPLICA_KINDS,
  startReplicaSet,
  type ReplicaKind,
} from './replica-set.ts';

export const DEFAULT_PORT = 3114;

const HELP = `
Lesson 14 cluster: three replicas behind HAProxy, and Redis for the cancel bus.

Usage: npx tsx lessons/14-replicas/cluster.ts [options]

  --replicas KIND        what each replica runs (default: stateless)
                           stateless  this lesson's server.ts: SDK 1.x, 2025-11-25, no sessions
                           exercise   this lesson's exercise-server.ts (npm run learn -- 14)
                           sessions   lesson 01's server: SDK 1.x, 2025-11-25, a session per client
                           sessions-v2  lesson 01's SDK 2.x server: 2025-11-25, a session per client
                           v2         lesson 12's server: SDK 2.x, 2026-07-28
  --balance HOW          round-robin, or sticky on Mcp-Session-Id (default: sticky for
                         sessions, round-robin otherwise)
  --no-bus               stateless replicas without the cancel bus (and without Redis)
  --no-abort-on-close    leave option abortonclose out of HAProxy's config
  --port N               the balancer's port on 127.0.0.1 (default: ${DEFAULT_PORT}; 0 picks a free one)
  -h, --help             show this help

Needs HAProxy and Redis: sudo apt-get install -y haproxy redis-server
`;

const flags = parseFlags(
  {
    replicas: { type: 'string' },
    balance: { type: 'string' },
    'no-bus': { type: 'boolean' },
    'no-abort-on-close': { type: 'boolean' },
    port: { type: 'string' },
  },
  HELP,
);
const kind = choiceFlag('replicas', flags.replicas, Object.keys(REPLICA_KINDS) as ReplicaKind[], 'stateless');
const balance = choiceFlag(
  'balance',
  flags.balance,
  ['round-robin', 'sticky'],
  kind.startsWith('sessions') ? 'sticky' : 'round-robin',
);
const bus = isStateless(kind) && !flags['no-bus'];
const port = intFlag('port', flags.port, DEFAULT_PORT, 0, 65_535);

const log = createTimeline('cluster');
const relay = (replica: string, line: string) => {
  const shown = relayLine(replica, line);
  if (shown !== undefined) console.log(shown);
};

log.event(`starting 3 replicas (${REPLICA_KINDS[kind].about})${bus ? ', Redis for the cancel bus' : ''} and HAProxy`);
const set = await startReplicaSet({
  kind,
  balance,
  bus,
  abortOnClose: !flags['no-abort-on-close'],
  port,
  onLine: relay,
}).catch((error: Error) => {
  log.fail(error instanceof MissingServiceError ? `cannot start the cluster: ${error.message}` : error.message);
  process.exit(1);
});
for (const replica of set.replicas) log.detail(`${replica.name}: 127.0.0.1:${replica.port}, pid ${replica.child.pid}`);
if (set.redis) log.detail(`cancel bus: Redis at ${set.redis.url}, pid ${set.redis.child.pid}`);
log.detail(`HAProxy config:\n${set.haproxy.config.trimEnd()}`);
const how = balance === 'sticky' ? 'sticky on Mcp-Session-Id' : 'round robin';
log.ok(`listening on ${set.url}  (HAProxy, ${how} over ${set.replicas.map((r) => r.name).join(', ')})`);

for (const replica of set.replicas)
  void replica.exited.then(
    (code) => stopping || log.warn(`${replica.name} exited (code ${code}): HAProxy sends what it had elsewhere`),
  );
for (const service of [set.haproxy, set.redis])
  service?.child.once(
    'exit',
    (code) =>
      stopping || (log.fail(`${service === set.haproxy ? 'HAProxy' : 'Redis'} exited (code ${code})`), process.exit(1)),
  );

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  log.event('stopping the balancer, the replicas (each finishes its clean-up), and Redis');
  await set.stop();
  log.ok('stopped');
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
