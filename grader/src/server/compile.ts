import * as esbuild from 'esbuild';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// A TypeScript server is compiled once per run into one ES module (esbuild, inline source map)
// and started as `node --enable-source-maps bundle.mjs`. A server is started several times per
// exercise, and each start of the bundle takes about a fifth of what `node --import tsx` takes on
// Node 20 (some 40 ms against 200 ms until listening) and about half on Node 24 (40 against 90);
// compiling costs about 10 ms per server, once. What the student's code can see stays as under tsx:
//
// - stack traces name the student's files and lines (the source map, with the sources inlined);
// - process.argv[1] is the student's server.ts, the working directory their exercise folder;
// - import.meta.url, import.meta.filename, import.meta.dirname, __filename and __dirname are each
//   file's own (a virtual module per file provides them), so lookups relative to a file work;
// - relative imports of other .ts files (`./util.ts`, `./util.js`) are bundled in;
// - `require` is there for CommonJS-style code (created for server.ts).
//
// Whatever could behave differently from one bundled file runs under tsx as before:
// code that fails to compile (tsx then prints the error with file and line, and exits before
// listening), code that starts further processes or threads (child_process, worker_threads,
// cluster: those would run .ts files without the tsx loader), imports or requires of a computed
// path, require.main, and import.meta members other than the three above.
//
// The bundle is never written into the student's folder. Each start writes its own copy to
// os.tmpdir() as serverlab-server-<uuid>.mjs, and the server deletes that file as its first
// statement (Node has read it by then, source map included); the copies a grader wrote are also
// removed when it exits, in case a server never got that far.

/** A server ready to start as one file, or why it has to run under tsx. */
export type Compiled = { ok: true; code: Uint8Array } | { ok: false; reason: string };

interface Built {
  compiled: Compiled;
  /** The files it was compiled from, as they were; none when it did not compile. */
  inputs: InputStamp[];
}

interface InputStamp {
  file: string;
  mtimeMs: number;
  size: number;
}

const META = 'serverlab-meta';
const META_NAMES = { url: '__serverlab_url', filename: '__serverlab_filename', dirname: '__serverlab_dirname' } as const;
/** Builtins that start other processes or threads, which would run .ts files without the tsx loader. */
const SPAWNING_BUILTINS = new Set(['child_process', 'worker_threads', 'cluster']);
const SOURCE_FILE = /\.[cm]?[jt]sx?$/;
const MENTIONS_META = /\bimport\.meta\b|\b__dirname\b|\b__filename\b/;
const NOT_BUNDLEABLE: Array<[RegExp, string]> = [
  [/\bimport\.meta\b(?!\.(?:url|filename|dirname)\b)/, 'uses import.meta beyond url, filename and dirname'],
  // A string literal without ${...} is bundled; anything else would be resolved at run time.
  [/\b(?:import|require)\s*\((?!\s*[`'"][^`'"$]*[`'"]\s*[,)])/, 'imports or requires a computed path'],
  [/\brequire\.main\b/, 'uses require.main'],
];

const cache = new Map<string, Promise<Built>>();
let tmp: string | undefined;
const written = new Set<string>();
let removesOnExit = false;

/**
 * The compiled server for `entry`: compiled on first use, and again only when one of its files
 * changed (or it did not compile, since the fix may be in a file that was never reached).
 */
export async function compileServer(entry: string): Promise<Compiled> {
  const cached = await cache.get(entry);
  if (cached?.inputs.length && cached.inputs.every(unchanged)) return cached.compiled;
  const built = build(entry).catch((e: Error): Built => ({ compiled: { ok: false, reason: `could not be compiled: ${e.message}` }, inputs: [] }));
  cache.set(entry, built);
  return (await built).compiled;
}

/** A fresh copy of the compiled server for one start, or undefined when it has to run under tsx. */
export async function bundleFor(entry: string): Promise<string | undefined> {
  const compiled = await compileServer(entry);
  if (!compiled.ok) return undefined;
  try {
    return writeBundle(compiled.code);
  } catch {
    return undefined; // the temp folder cannot be written: run it under tsx instead
  }
}

function writeBundle(code: Uint8Array): string {
  if (!removesOnExit) process.once('exit', removeWritten);
  removesOnExit = true;
  const file = path.join(tempDir(), `serverlab-server-${randomUUID()}.mjs`);
  written.add(file);
  writeFileSync(file, code);
  return file;
}

function removeWritten(): void {
  for (const file of written) rmSync(file, { force: true });
  written.clear();
}

/** os.tmpdir() as Node will see the bundle's URL (resolved symlinks), so the source map's relative paths resolve. */
function tempDir(): string {
  tmp ??= realpathSync(os.tmpdir());
  return tmp;
}

function unchanged(input: InputStamp): boolean {
  try {
    const s = statSync(input.file);
    return s.mtimeMs === input.mtimeMs && s.size === input.size;
  } catch {
    return false;
  }
}

async function build(entry: string): Promise<Built> {
  const dir = path.dirname(entry);
  let notBundleable: string | undefined;
  const plugin: esbuild.Plugin = {
    name: 'serverlab-per-file-meta',
    setup(b) {
      // `import { url as __serverlab_url, ... } from "serverlab-meta:/abs/file.ts"`: that file's values.
      b.onResolve({ filter: new RegExp(`^${META}:`) }, (args) => ({ path: args.path.slice(META.length + 1), namespace: META }));
      b.onLoad({ filter: /.*/, namespace: META }, (args) => ({
        loader: 'js',
        contents: `export const url = ${JSON.stringify(pathToFileURL(args.path).href)}, filename = ${JSON.stringify(args.path)}, dirname = ${JSON.stringify(path.dirname(args.path))};`,
      }));
      b.onLoad({ filter: SOURCE_FILE }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        for (const [pattern, why] of NOT_BUNDLEABLE) if (!notBundleable && pattern.test(source)) notBundleable = `${path.relative(dir, args.path)} ${why}`;
        if (!MENTIONS_META.test(source)) return undefined;
        // Appended, not prepended, so every line keeps its number; imports are hoisted anyway.
        const names = Object.entries(META_NAMES).map(([name, local]) => `${name} as ${local}`).join(', ');
        return { contents: `${source}\n;import { ${names} } from ${JSON.stringify(`${META}:${args.path}`)};\n`, loader: loaderFor(args.path) };
      });
    },
  };
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: dir,
      outfile: path.join(tempDir(), 'serverlab-server.mjs'),
      write: false,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node}`,
      sourcemap: 'inline',
      metafile: true,
      logLevel: 'silent',
      plugins: [plugin],
      define: {
        'import.meta.url': META_NAMES.url,
        'import.meta.filename': META_NAMES.filename,
        'import.meta.dirname': META_NAMES.dirname,
        __filename: META_NAMES.filename,
        __dirname: META_NAMES.dirname,
      },
      banner: { js: banner(entry) },
    });
  } catch (e) {
    const first = (e as { errors?: esbuild.Message[] }).errors?.[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : '';
    return { compiled: { ok: false, reason: `does not compile: ${where}${first?.text ?? (e as Error).message}` }, inputs: [] };
  }
  const inputs = Object.keys(result.metafile.inputs)
    .filter((f) => !f.startsWith(`${META}:`))
    .map((f) => {
      const file = path.resolve(dir, f);
      const s = statSync(file);
      return { file, mtimeMs: s.mtimeMs, size: s.size };
    });
  const spawning = Object.values(result.metafile.inputs)
    .flatMap((i) => i.imports)
    .find((i) => i.external && SPAWNING_BUILTINS.has(i.path.replace(/^node:/, '')));
  if (spawning) notBundleable ??= `imports ${spawning.path}`;
  if (notBundleable) return { compiled: { ok: false, reason: notBundleable }, inputs };
  return { compiled: { ok: true, code: result.outputFiles[0]!.contents }, inputs };
}

function loaderFor(file: string): esbuild.Loader {
  const ext = path.extname(file).replace(/^\.[cm]/, '.');
  return ({ '.ts': 'ts', '.tsx': 'tsx', '.jsx': 'jsx' } as Record<string, esbuild.Loader>)[ext] ?? 'js';
}

/** First in the bundle: delete this copy, then give the code the argv and require it would have under tsx. */
function banner(entry: string): string {
  return [
    'import { createRequire as __serverlabCreateRequire } from "node:module";',
    'import { rmSync as __serverlabRmSync } from "node:fs";',
    'try { __serverlabRmSync(new URL(import.meta.url)); } catch {}',
    `const require = __serverlabCreateRequire(${JSON.stringify(entry)});`,
    `process.argv[1] = ${JSON.stringify(entry)};`,
  ].join('\n');
}
