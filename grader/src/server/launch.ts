import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Track } from '../report/model.ts';
import { bundleFor } from './compile.ts';

export interface LaunchCommand {
  file: string;
  args: string[];
  /** The file the student wrote, for messages. */
  entry: string;
  /** The command as reports show it, where the real one names a temporary file. */
  display?: string;
}

export const ENTRY_FILE: Record<Track, string> = { ts: 'server.ts', py: 'server.py' };

// A TypeScript server runs as its compiled bundle (compile.ts), or under `node --import tsx` where
// a bundle could behave differently. Either way the spawned PID is the listener itself (the tsx
// CLI would add a wrapper process, and take about twice as long to start). The loader is resolved
// from the grader's own node_modules so a target outside the repo works too.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** Registers tsx in worker threads too, where tsx itself does not (tsx-workers.mjs). */
const tsxInWorkers = new URL('./tsx-workers.mjs', import.meta.url).href;

let python: Promise<string> | undefined;

/**
 * The interpreter `python3` on PATH really is, asked once per run: version-manager shims (pyenv,
 * asdf) are scripts that cost ~80 ms on every start. SERVERLAB_PYTHON overrides the choice.
 */
function pythonInterpreter(): Promise<string> {
  python ??= execa(process.env.SERVERLAB_PYTHON ?? 'python3', ['-c', 'import sys; print(sys.executable)'], { reject: false }).then((r) =>
    r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : (process.env.SERVERLAB_PYTHON ?? 'python3'),
  );
  return python;
}

export async function launchCommand(track: Track, dir: string): Promise<LaunchCommand> {
  const entry = path.join(dir, ENTRY_FILE[track]);
  if (track === 'ts') {
    const bundle = await bundleFor(entry);
    if (!bundle) return { file: process.execPath, args: ['--import', tsxLoader, '--import', tsxInWorkers, entry], entry, display: `node --import tsx ${entry}` };
    return { file: process.execPath, args: ['--enable-source-maps', bundle], entry, display: `node --enable-source-maps ${entry} (bundled by esbuild)` };
  }
  return { file: await pythonInterpreter(), args: ['-u', entry], entry };
}

export function hasEntry(track: Track, dir: string): boolean {
  return existsSync(path.join(dir, ENTRY_FILE[track]));
}
