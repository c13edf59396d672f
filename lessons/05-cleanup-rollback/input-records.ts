// Lesson 05's input: text lines "record 0000025 <sha256 of "25">". Processing a record checks its
// digest, so a corrupt file (broken.txt) fails mid-run, after the lock was taken.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureSampleFile } from '../shared/data-folder.ts';

const RECORDS = 40;

/** Creates records.txt, broken.txt and the temp area in the data folder, when they are missing. */
export function prepareDataFolder(dataFolder: string, tempFolder: string): void {
  ensureSampleFile(dataFolder, 'records.txt', RECORDS * 80); // 80 bytes per line
  ensureBrokenFile(dataFolder);
  mkdirSync(tempFolder, { recursive: true });
}

/** broken.txt: records.txt with a bad digest on line 26, so a run fails in batch 3, after the lock was taken. */
function ensureBrokenFile(dataFolder: string) {
  const path = join(dataFolder, 'broken.txt');
  if (existsSync(path)) return;
  const lines = readFileSync(join(dataFolder, 'records.txt'), 'utf8').split('\n');
  lines[25] = lines[25]!.replace(/[0-9a-f]{64}$/, '0'.repeat(64));
  writeFileSync(path, lines.join('\n'));
}

/** The lines of `file`, and the same lines cut into batches of `batchSize`. */
export async function readBatches(file: string, batchSize: number): Promise<{ lines: string[]; batches: string[][] }> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
  const batches = Array.from({ length: Math.ceil(lines.length / batchSize) }, (_, i) =>
    lines.slice(i * batchSize, (i + 1) * batchSize),
  );
  return { lines, batches };
}

export interface ParsedRecord {
  line: number;
  id: number;
}

export function parseRecord(text: string, line: number, file: string): ParsedRecord {
  const match = /^record (\d{7}) ([0-9a-f]{64})$/.exec(text);
  if (!match) throw new Error(`line ${line} of ${file} is not a record: ${JSON.stringify(text.slice(0, 40))}`);
  const id = Number(match[1]);
  if (createHash('sha256').update(String(id)).digest('hex') !== match[2]) {
    throw new Error(`line ${line} of ${file}: record ${match[1]} fails its checksum`);
  }
  return { line, id };
}
