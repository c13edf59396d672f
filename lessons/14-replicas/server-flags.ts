// Lesson 14 server's flags, read when server.ts imports this: its help text, and the values.
import { intFlag, parseFlags } from '../shared/cli.ts';

export const DEFAULT_PORT = 3141;

const HELP = `
Lesson 14 server: one replica of a stateless deployment (SDK 1.x, protocol 2025-11-25).
Every POST gets a fresh McpServer; a notifications/cancelled that lands on this replica is
carried to the replica running the call by the cancel bus (Redis pub/sub), when there is one.
cluster.ts starts three of these behind HAProxy: npx tsx lessons/14-replicas/cluster.ts

Usage: npx tsx lessons/14-replicas/server.ts [options]

  --port N       port on 127.0.0.1 (default: $PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --name NAME    this replica's name, in its log (default: replica)
  --bus URL      the cancel bus: a Redis URL, e.g. redis://127.0.0.1:6379 (default: none;
                 then a cancel stops only a call running in the request's own server: none)
  -h, --help     show this help
`;

const flags = parseFlags({ port: { type: 'string' }, name: { type: 'string' }, bus: { type: 'string' } }, HELP);
export const port = intFlag('port', flags.port ?? process.env.PORT, DEFAULT_PORT, 0, 65_535);
export const name = flags.name ?? 'replica';
export const busUrl = flags.bus;
if (busUrl !== undefined && !/^rediss?:\/\/./.test(busUrl)) {
  console.error(`--bus must be a Redis URL such as redis://127.0.0.1:6379; got "${busUrl}"`);
  process.exit(2);
}
