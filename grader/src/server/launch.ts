import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Track } from '../report/model.ts';

export interface LaunchCommand {
  file: string;
  args: string[];
  /** The file the student wrote, for messages. */
  entry: string;
}

export const ENTRY_FILE: Record<Track, string> = { ts: 'server.ts', py: 'server.py' };

// `node --import tsx` makes the spawned PID the listener itself (the tsx CLI would add a wrapper
// process) and starts in about half the time. The loader is resolved from the grader's own
// node_modules so a target outside the repo works too.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export function launchCommand(track: Track, dir: string): LaunchCommand {
  const entry = path.join(dir, ENTRY_FILE[track]);
  if (track === 'ts') return { file: process.execPath, args: ['--import', tsxLoader, entry], entry };
  return { file: process.env.SERVERLAB_PYTHON ?? 'python3', args: ['-u', entry], entry };
}

export function hasEntry(track: Track, dir: string): boolean {
  return existsSync(path.join(dir, ENTRY_FILE[track]));
}
