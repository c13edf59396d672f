// A Node release line's binary, for the scripts that run on several (npm run test:matrix, the
// bench's --node): this process's own when it is that line, else the `node` package on npm
// (`npx -p node@22 -- node`), so nothing is installed system-wide.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** The node binary of release line `line` ("22"), or undefined when npx could not get it. */
export function nodeFor(line: string): string | undefined {
  if (process.versions.node.split('.')[0] === line) return process.execPath;
  const found = spawnSync('npx', ['-y', '-p', `node@${line}`, '--', 'node', '-p', 'process.execPath'], {
    encoding: 'utf8',
    cwd: root,
  });
  return found.status === 0 ? found.stdout.trim().split('\n').at(-1) : undefined;
}
