// Quick starts for the test files and the processes they start.
//
// The test command starts about 250 lesson servers and clients. Through tsx's loader each one
// spends about 0.65 s of CPU before it is listening, most of it resolving and loading the SDK,
// express and zod module by module; from one file esbuild has bundled it spends about 0.17 s. On
// a 2-core machine that was half the suite's time. So the test command (scripts/run-tests.ts)
// bundles every test file, and the test setup every lesson's server and client, with esbuild (the
// compiler tsx itself runs), and `startTs` runs a bundle instead of the source, but only while it
// is newer than every file of ours it was made from. It is the same source and the same SDK code:
// each file keeps its own `import.meta.dirname` and `import.meta.url`, class names are kept,
// `process.argv[1]` names the source file, and a test's stack trace points at its source.
//
// Nothing else changes: the README's commands, the one-terminal runner and anything started
// outside the test command run through tsx, as written.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '../..');
const folder = join(root, 'node_modules/.cache/mcp-cancellation-lessons/quick-starts');
/** Set by prepareQuickStarts in the test process, and so inherited by what it starts (the soak). */
const ON = 'LESSON_QUICK_STARTS';
/** The namespace of the made-up entry points (see bundleAll). */
const QUICK_START = 'quick-start';

/** A lesson's files that run as processes: its servers and clients, 1.x and 2.x, and its exercise's. */
const STARTED = /^(exercise-)?(stdio-)?(server|client)(-v2)?\.ts$/;

/** Every file the tests start as a process of its own. */
function entries(): string[] {
  const lessons = join(root, 'lessons');
  const found = readdirSync(lessons)
    .filter((name) => /^\d\d-/.test(name))
    .flatMap((name) =>
      readdirSync(join(lessons, name))
        .filter((file) => STARTED.test(file))
        .map((file) => join(lessons, name, file)),
    );
  return [
    ...found,
    join(lessons, '08-backpressure/slow-reader.ts'),
    join(root, 'scripts/reliability/soak.ts'),
    join(root, 'scripts/learn.ts'),
    join(root, 'scripts/check-server.ts'),
  ];
}

interface BundleRecord {
  /** The checkout it was made in: a bundle holds absolute paths, so a moved checkout makes new ones. */
  root: string;
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
  let record: BundleRecord;
  try {
    record = JSON.parse(readFileSync(recordFile(entry), 'utf8')) as BundleRecord;
  } catch {
    return undefined;
  }
  if (record.root !== root) return undefined;
  for (const [file, mtime] of Object.entries(record.inputs)) if (modified(join(root, file)) !== mtime) return undefined;
  return record.bundle;
}

/**
 * Node flags for the processes the test command starts, its test files' included. PGlite is 9 MB
 * of WebAssembly: by default V8 compiles its busy functions a second time, optimised, on background
 * threads, about 0.6 s of CPU per start that a test's few dozen queries never earn back (lesson 05's
 * test file: a quarter less CPU without it). The code and its results are the same.
 */
export const QUICK_START_FLAGS = ['--liftoff-only'];

/** The bundle to run for `file`, when the test command made one and no source has changed since. */
export function quickStartFor(file: string): string | undefined {
  return process.env[ON] ? freshBundle(file) : undefined;
}

/** Bundles every entry whose bundle is missing or older than its sources. Called by the test setup. */
export async function prepareQuickStarts(): Promise<void> {
  process.env[ON] = '1';
  await bundleAll(entries().map((file) => ({ file })));
}

/**
 * Test files, bundled the same way, each with the test setup (test-setup.ts) ahead of it: the
 * paths to give `node --test`. Each file's process then loads one file, not five hundred through
 * tsx's loader, and its stack traces point back at the sources (--enable-source-maps).
 */
export async function testBundles(files: string[]): Promise<string[]> {
  const setup = join(import.meta.dirname, 'test-setup.ts');
  // The lessons' own bundles too, in the same pass: made once here, not by each test file's
  // process at the same moment on a fresh clone.
  // A source saved while the build ran makes its bundle stale at once: build it again, once.
  for (let attempt = 1; ; attempt++) {
    await bundleAll([...files.map((file) => ({ file, setup })), ...entries().map((file) => ({ file }))]);
    const bundles = files.map((file) => freshBundle(file));
    const stale = files.filter((_, i) => bundles[i] === undefined);
    if (stale.length === 0) return bundles as string[];
    if (attempt === 2)
      throw new Error(`these changed while they were being bundled, run the tests again: ${stale.join(', ')}`);
  }
}

async function bundleAll(wanted: { file: string; setup?: string }[]) {
  const stale = wanted.filter(({ file }) => !freshBundle(file));
  if (stale.length === 0) return;
  const { build, stop } = await import('esbuild');
  mkdirSync(folder, { recursive: true });
  const outName = (entry: string) => relative(root, entry).replaceAll('/', '__');
  // One build for all of them: esbuild reads and parses the SDK, express and zod once, not once
  // per bundle. Each entry point is a made-up module that sets process.argv[1] to its source's
  // path, then imports the test setup (for a test file) and the source, in that order.
  const made = new Map(stale.map(({ file, setup }) => [`${QUICK_START}:${file}`, { file, setup }]));
  // Each source's modification time as it was read: a file edited while the build runs then looks
  // changed next time, and its bundle is made again, instead of passing for fresh with old code.
  const readAt = new Map<string, number>();
  let result;
  try {
    result = await build({
      entryPoints: [...made.keys()].map((id) => ({ in: id, out: outName(made.get(id)!.file) })),
      outdir: folder,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      keepNames: true, // an error's class name is part of what a client prints
      sourcemap: 'linked', // read only by processes run with --enable-source-maps: the test files
      sourcesContent: false,
      write: false,
      absWorkingDir: root,
      metafile: true,
      logLevel: 'silent',
      // PGlite finds its WebAssembly and data files next to its own module: leave it where it is.
      // esbuild runs its own binary from its package, and playwright-core finds its files by
      // __dirname: they stay where they are too.
      external: ['@electric-sql/pglite', '@electric-sql/pglite/*', 'esbuild', 'playwright-core'],
      banner: {
        js: [
          `import { createRequire as __createRequire } from 'node:module';`,
          `const require = __createRequire(import.meta.url);`,
        ].join('\n'),
      },
      plugins: [
        {
          name: 'one entry point per file, which says which file it is',
          setup(build) {
            build.onResolve({ filter: new RegExp(`^${QUICK_START}(-argv)?:`) }, (args) => ({
              path: args.path,
              namespace: QUICK_START,
            }));
            build.onLoad({ filter: /.*/, namespace: QUICK_START }, (args) => {
              const argv = `${QUICK_START}-argv:`;
              if (args.path.startsWith(argv)) {
                return { contents: `process.argv[1] = ${JSON.stringify(args.path.slice(argv.length))};`, loader: 'js' };
              }
              const { file, setup } = made.get(args.path)!;
              // Static imports run in the order written, before anything in the file that imports them.
              const contents = [`${argv}${file}`, ...(setup ? [setup] : []), file]
                .map((spec) => `import ${JSON.stringify(spec)};`)
                .join('\n');
              return { contents, loader: 'js', resolveDir: root };
            });
          },
        },
        {
          name: 'each file keeps its own import.meta',
          setup(build) {
            build.onLoad({ filter: /\.(ts|mts|mjs|js)$/ }, async (args) => {
              if (args.path.includes('/node_modules/')) return undefined;
              readAt.set(relative(root, args.path), modified(args.path));
              const { code } = await build.esbuild.transform(readFileSync(args.path, 'utf8'), {
                loader: args.path.endsWith('ts') ? 'ts' : 'js',
                format: 'esm',
                sourcefile: args.path,
                sourcemap: 'inline', // so the bundle's map reaches back to this file
                tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } }, // as tsconfig.json says
                define: {
                  'import.meta.dirname': JSON.stringify(dirname(args.path)),
                  'import.meta.filename': JSON.stringify(args.path),
                  'import.meta.url': JSON.stringify(pathToFileURL(args.path).href),
                },
              });
              return { contents: code, loader: 'js' };
            });
          },
        },
      ],
    });
  } finally {
    await stop(); // esbuild's service process: it must not outlive this one
  }
  // Written aside and renamed: another test file's process may be reading it at this moment.
  const write = (file: string, contents: string | Uint8Array) => {
    writeFileSync(`${file}.${process.pid}`, contents);
    renameSync(`${file}.${process.pid}`, file);
  };
  const files = new Map(result.outputFiles.map((output) => [output.path, output.contents]));
  for (const { file } of made.values()) {
    const out = join(folder, `${outName(file)}.mjs`);
    const inputs: BundleRecord['inputs'] = {
      'package-lock.json': modified(join(root, 'package-lock.json')),
      [relative(root, import.meta.filename)]: modified(import.meta.filename), // how bundles are made
    };
    for (const input of Object.keys(result.metafile.outputs[relative(root, out)]!.inputs))
      if (!input.includes('node_modules/') && !input.includes(':'))
        inputs[input] = readAt.get(input) ?? modified(join(root, input));
    write(`${out}.map`, files.get(`${out}.map`)!);
    write(out, files.get(out)!);
    write(recordFile(file), JSON.stringify({ root, bundle: out, inputs } satisfies BundleRecord));
  }
}
