// The READMEs as a reader meets them: every lesson has its parts and a place in the index, every
// link and every command's file exists, and every sequence diagram parses the way it reads.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..');
const lessons = readdirSync(join(root, 'lessons')).filter((name) => /^\d\d-/.test(name));
const readmes = [
  'README.md',
  'docs/check-server.md',
  'postman/README.md',
  'scripts/bench/README.md',
  'scripts/reliability/README.md',
  ...lessons.map((lesson) => `lessons/${lesson}/README.md`),
].map((path) => ({ path, text: readFileSync(join(root, path), 'utf8') }));

test('every lesson has a README, a server, a client and a test, and a row in the index', () => {
  const index = readFileSync(join(root, 'README.md'), 'utf8');
  for (const lesson of lessons) {
    for (const part of ['README.md', 'server.ts', 'client.ts', 'lesson.test.ts']) {
      assert.ok(existsSync(join(root, 'lessons', lesson, part)), `lessons/${lesson}/${part} is missing`);
    }
    assert.match(index, new RegExp(`\\]\\(lessons/${lesson}/README\\.md\\)`), `the index has no row for ${lesson}`);
  }
});

test('every relative link points at a file that exists', () => {
  for (const { path, text } of readmes) {
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!) || target!.startsWith('#')) continue;
      const file = resolve(root, dirname(path), target!.split('#')[0]!);
      assert.ok(existsSync(file), `${path} links to ${target}, which does not exist`);
    }
  }
});

test('every file a README tells you to run exists, and every lesson number and npm script it names', () => {
  const scripts = Object.keys(
    (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: object }).scripts,
  );
  for (const { path, text } of readmes) {
    for (const [, script] of text.matchAll(/npm run ([\w:-]+)/g)) {
      assert.ok(scripts.includes(script!), `${path} runs npm run ${script}, which package.json does not define`);
    }
    for (const [, file] of text.matchAll(/npx tsx ((?:lessons|scripts)\/\S+\.ts)/g)) {
      assert.ok(existsSync(join(root, file!)), `${path} runs ${file}, which does not exist`);
    }
    for (const [, number] of text.matchAll(/npm run lesson -- (\d+)/g)) {
      assert.ok(
        lessons.some((lesson) => lesson.startsWith(number!.padStart(2, '0'))),
        `${path} runs lesson ${number}, which does not exist`,
      );
    }
  }
});

test('every lesson README has a sequence diagram whose messages hold no ";" or "#"', () => {
  for (const { path, text } of readmes.filter((readme) => readme.path.startsWith('lessons/'))) {
    const diagrams = [...text.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((match) => match[1]!);
    assert.ok(
      diagrams.some((diagram) => diagram.trimStart().startsWith('sequenceDiagram')),
      `${path} has no sequenceDiagram`,
    );
    // Mermaid's sequence grammar ends message text at ";" (a statement end) and at "#".
    for (const line of diagrams.flatMap((diagram) => diagram.split('\n'))) {
      assert.doesNotMatch(line, /[;#]/, `${path}: a diagram line Mermaid will cut short: ${line.trim()}`);
    }
  }
});

test('every lesson README says what changes in SDK 2.x, a test of that lesson shows it, and lesson 12 lists them all', () => {
  const table = /## Which lessons change in SDK 2\.x\n([\s\S]*?)(?=\n## )/.exec(
    readFileSync(join(root, 'lessons/12-two-eras/README.md'), 'utf8'),
  )?.[1];
  assert.ok(table, 'lessons/12-two-eras/README.md has no "## Which lessons change in SDK 2.x" section');
  for (const lesson of lessons) {
    const number = lesson.slice(0, 2);
    const folder = join(root, 'lessons', lesson);
    const story = ['server-v2.ts', 'client-v2.ts'].filter((file) => existsSync(join(folder, file)));
    const row = table.split('\n').find((line) => line.startsWith(`| [${number}]`));
    assert.ok(row, `lesson 12's table has no row for lesson ${number}`);
    for (const file of story)
      assert.ok(row.includes(`${lesson}/${file}`), `lesson 12's row for ${number} does not link ${file}`);
    if (number === '12') continue; // the SDK 2.x lesson: its whole README is the 2.x story
    const readme = readFileSync(join(folder, 'README.md'), 'utf8');
    const section = /\n## In SDK 2\.x\n([\s\S]*?)(?=\n## |$)/.exec(readme)?.[1];
    assert.ok(section, `lessons/${lesson}/README.md has no "## In SDK 2.x" section`);
    const tests = readdirSync(folder)
      .filter((name) => name.endsWith('.test.ts'))
      .map((name) => readFileSync(join(folder, name), 'utf8'))
      .join('\n');
    assert.match(
      tests,
      new RegExp(`describe\\(\\s*['\`]lesson ${number} in SDK 2\\.x`),
      `no describe('lesson ${number} in SDK 2.x: ...') in lessons/${lesson}: the section's claims need a test`,
    );
    // A lesson with a 2.x story of its own runs it from the section, in one terminal and in two
    // (a stdio lesson's client spawns its server: only the client is run by hand).
    for (const file of lesson.includes('stdio') ? story.filter((name) => name.startsWith('client')) : story)
      assert.ok(
        section.includes(`lessons/${lesson}/${file}`),
        `lessons/${lesson}/README.md: its "In SDK 2.x" never runs ${file}`,
      );
    if (story.length && !lesson.includes('stdio')) assert.ok(section.includes(`npm run lesson -- ${number} --v2`));
  }
});
