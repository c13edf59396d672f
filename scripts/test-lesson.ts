// One lesson's tests, on their own:
//
//   npm run test:lesson -- 01                     every test file in lessons/01-cancel-by-id/
//   npm run test:lesson -- 12 --test-name-pattern=era
//
// Flags after the lesson number go to `node --test`.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runTests } from './run-tests.ts';

const [lesson, ...testFlags] = process.argv.slice(2);
const lessonsDir = join(import.meta.dirname, '..', 'lessons');
const folders = readdirSync(lessonsDir).filter((name) => /^\d\d-/.test(name));
const folder = folders.find((name) => lesson !== undefined && name.startsWith(lesson.padStart(2, '0')));
if (!folder) {
  console.error(`usage: npm run test:lesson -- <number> [node --test flags]\nlessons: ${folders.join(', ')}`);
  process.exit(2);
}
const files = readdirSync(join(lessonsDir, folder))
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => `lessons/${folder}/${name}`);
process.exit(await runTests(files, testFlags));
