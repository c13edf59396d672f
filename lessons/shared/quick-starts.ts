// Quick starts for the tests' child processes.
//
// The test command starts about 250 lesson servers and clients. Through tsx's loader each one
// spends about 0.65 s of CPU before it is listening, most of it resolving and loading the SDK,
// express and zod module by module; from one file esbuild has bundled it spends about 0.17 s. On
// a 2-core machine that is half the suite's time. So the test command bundles every lesson's
// server and client once, with esbuild (the compiler tsx itself runs), and `startTs` runs the
// bundle instead of the source, but only while the bundle is newer than every file of ours it was
// made from. It is the same source and the same SDK code: each file keeps its own
// `import.meta.dirname` and `import.meta.url`, and `process.argv[1]` names the source file.
//
// Nothing else changes: the README's commands, the one-terminal runner and anything started
// outside the test command run through tsx, as written.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '../..');
const folder = join(root, 'node_modules/.cache/mcp-cancellation-lessons/quick-starts');
/** Set by prepareQuickStarts in the test process, and so inherited by what it starts (the soak). */
const ON = 'LESSON_QUICK_STARTS';

/** Every file the tests start as a process of its own. */
function entries(): string[] {
  const lessons = join(root, 'lessons');
  const found = readdirSync(lessons)
    .filter((name) => /^\d\d-/.test(name))
    .flatMap((name) => ['server.ts', 'client.ts'].map((file) => join(lessons, name, file)))
    .filter((file) => existsSync(file));
  return [...found, join(lessons, '08-backpressure/slow-reader.ts'), join(root, 'scripts/reliability/soak.ts')];
}

interface Record {
  bundle: string;
  /** Our files in the bundle and their modification times; also the lock file's and this file's. */
  inputs: { [file: string]: number };
}

const recordFile = (entry: string) => join(folder, `${relative(root, entry).replaceAll('/', '__')}.json`);
const modified = (file: string) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
};

function freshBundle(entry: string): string | undefined {
  let record: Record;
  try {
    record = JSON.parse(readFileSync(recordFile(entry), 'utf8')) as Record;
  } catch {
    return undefined;
  }
  for (const [file, mtime] of Object.entries(record.inputs)) if (modified(join(root, file)) !== mtime) return undefined;
  return record.bundle;
}

/** The bundle to run for `file`, when the test command made one and no source has changed since. */
export function quickStartFor(file: string): string | undefined {
  return process.env[ON] ? freshBundle(file) : undefined;
}

/** Bundles every entry whose bundle is missing or older than its sources. Called by the test setup. */
export async function prepareQuickStarts(): Promise<void> {
  process.env[ON] = '1';
  const stale = entries().filter((entry) => !freshBundle(entry));
  if (stale.length === 0) return;
  const { build } = await import('esbuild');
  mkdirSync(folder, { recursive: true });
  await Promise.all(stale.map(bundle));

  async function bundle(entry: string) {
    const out = join(folder, `${relative(root, entry).replaceAll('/', '__')}.mjs`);
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      keepNames: true, // an error's class name is part of what a client prints
      write: false,
      absWorkingDir: root,
      metafile: true,
      logLevel: 'silent',
      // PGlite finds its WebAssembly and data files next to its own module: leave it where it is.
      external: ['@electric-sql/pglite', '@electric-sql/pglite/*'],
      banner: {
        js: [
          `import { createRequire as __createRequire } from 'node:module';`,
          `const require = __createRequire(${JSON.stringify(pathToFileURL(entry).href)});`,
          `process.argv[1] = ${JSON.stringify(entry)};`,
        ].join('\n'),
      },
      plugins: [
        {
          name: 'each file keeps its own import.meta',
          setup(build) {
            build.onLoad({ filter: /\.(ts|mts|mjs|js)$/ }, (args) => {
              if (args.path.includes('/node_modules/')) return undefined;
              const source = readFileSync(args.path, 'utf8')
                .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
                .replaceAll('import.meta.filename', JSON.stringify(args.path))
                .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href));
              return { contents: source, loader: args.path.endsWith('ts') ? 'ts' : 'js' };
            });
          },
        },
      ],
    });
    const inputs: Record['inputs'] = {
      'package-lock.json': modified(join(root, 'package-lock.json')),
      [relative(root, import.meta.filename)]: modified(import.meta.filename), // how bundles are made
    };
    for (const input of Object.keys(result.metafile.inputs))
      if (!input.includes('node_modules/')) inputs[input] = modified(join(root, input));
    // Written aside and renamed: another test file's process may be reading it at this moment.
    const write = (file: string, contents: string | Uint8Array) => {
      writeFileSync(`${file}.${process.pid}`, contents);
      renameSync(`${file}.${process.pid}`, file);
    };
    write(out, result.outputFiles[0]!.contents);
    write(recordFile(entry), JSON.stringify({ bundle: out, inputs } satisfies Record));
  }
}
