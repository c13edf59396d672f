// A lesson's data folder: the only place its tools may read, and the sample file they read.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';

/**
 * Writes `name` into `folder` on first use (it is generated, not kept in git): deterministic
 * text lines, so every reader's file hashes the same.
 */
export function ensureSampleFile(folder: string, name: string, bytes: number): string {
  const path = join(folder, name);
  if (existsSync(path)) return path;
  mkdirSync(folder, { recursive: true });
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const digest = createHash('sha256').update(String(i)).digest('hex');
    const line = `record ${String(i).padStart(7, '0')} ${digest}\n`;
    lines.push(line);
    size += line.length;
  }
  // Written aside and renamed into place, so a process that starts meanwhile never reads half a file.
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, lines.join('').slice(0, bytes));
  renameSync(partial, path);
  return path;
}

/**
 * A lesson's `data` folder (beside its server.ts, passed as `lessonDir`) with its sample file in
 * place, and the folder as messages name it: relative to the repo, never the reader's absolute path.
 */
export function lessonDataFolder(lessonDir: string, sample: string, bytes: number): { folder: string; label: string } {
  const folder = join(lessonDir, 'data');
  ensureSampleFile(folder, sample, bytes);
  return { folder, label: relative(join(lessonDir, '../..'), folder) };
}

export class OutsideDataFolderError extends Error {
  override name = 'OutsideDataFolderError';
}

/**
 * Resolves `requested` (relative to `folder`) and returns its real path, or throws a message a
 * person can act on (naming the folder as `label`) when it names anything outside `folder`:
 * `../../etc/passwd`, an absolute path, or a symlink that leads out.
 */
export function resolveInDataFolder(folder: string, requested: string, label = folder): string {
  const root = realpathSync(folder);
  const inside = (path: string) => {
    const rel = relative(root, path);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  const outside = () =>
    new OutsideDataFolderError(
      `path "${requested}" is outside the data folder; name a file inside ${label}, e.g. "sample.txt"`,
    );
  if (requested.includes('\0')) {
    throw new Error(
      `path ${JSON.stringify(requested)} holds a NUL byte, which no file name can; name a file inside ${label}`,
    );
  }
  const candidate = resolve(root, requested);
  if (!inside(candidate)) throw outside();
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch {
    throw new Error(`no such file: "${requested}" in the data folder ${label}`);
  }
  if (!inside(real)) throw outside();
  return real;
}
