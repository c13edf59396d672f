// One lesson's tests, on their own:
//
//   npm run test:lesson -- 01                     every test file in lessons/01-cancel-by-id/
//   npm run test:lesson -- 12 --test-name-pattern=era
//
// Flags after the lesson number go to `node --test`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const [lesson, ...testFlags] = process.argv.slice(2);
const root = join(import.meta.dirname, '..');
const lessonsDir = join(root, 'lessons');
const folders = readdirSync(lessonsDir).filter((name) => /^\d\d-/.test(name));
const folder = folders.find((name) => lesson !== undefined && name.startsWith(lesson.padStart(2, '0')));
if (!folder) {
  console.error(`usage: npm run test:lesson -- <number> [node --test flags]\nlessons: ${folders.join(', ')}`);
  process.exit(2);
}
const files = readdirSync(join(lessonsDir, folder))
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => relative(root, join(lessonsDir, folder, name)));
const { status } = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-reporter=spec',
    '--import',
    'tsx',
    '--import',
    './lessons/shared/test-setup.ts',
    ...testFlags,
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(status ?? 1);
