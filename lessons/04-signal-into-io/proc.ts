// What a process really holds, read from Linux /proc, independent of the server's own bookkeeping.
// (A candidate for lessons/shared/testing.ts, next to openDescriptorsTo.)
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The inodes of the sockets process `pid` has open. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

/**
 * The TCP connections process `pid` holds open whose local or remote port is `port` (listening
 * sockets excluded), each as its two ports. Either end counts, so a server that talks to itself shows two.
 */
export function tcpConnectionsOnPort(pid: number, port: number): { localPort: number; remotePort: number }[] {
  const mine = socketInodes(pid);
  const found = [];
  for (const table of ['tcp', 'tcp6']) {
    const path = `/proc/${pid}/net/${table}`;
    if (!existsSync(path)) continue;
    for (const row of readFileSync(path, 'utf8').trim().split('\n').slice(1)) {
      const [, local, remote, state, , , , , , inode] = row.trim().split(/\s+/);
      const portOf = (address = '') => parseInt(address.split(':')[1] ?? '', 16);
      const LISTEN = '0A';
      if (state !== LISTEN && mine.has(inode ?? '') && (portOf(local) === port || portOf(remote) === port))
        found.push({ localPort: portOf(local), remotePort: portOf(remote) });
    }
  }
  return found;
}

/** How many TCP connections process `pid` holds open with `port` at either end (see tcpConnectionsOnPort). */
export const openTcpConnectionsOnPort = (pid: number, port: number): number => tcpConnectionsOnPort(pid, port).length;
