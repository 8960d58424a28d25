// Preloaded with tsx into a TypeScript server: on Node versions where tsx registers its hooks in the
// main thread only (before 22.22.3, 24.11.1 and 25.1.0), a worker_threads Worker started from a .ts
// file could not load .ts files. It registers them in each worker thread there.
import { isMainThread } from 'node:worker_threads';

const [major, minor, patch] = process.versions.node.split('.').map(Number);
const atLeast = (mi, pa) => minor > mi || (minor === mi && patch >= pa);
const tsxDoesIt = major >= 26 || (major === 25 && atLeast(1, 0)) || (major === 24 && atLeast(11, 1)) || (major === 22 && atLeast(22, 3));
if (!isMainThread && !tsxDoesIt) (await import('tsx/esm/api')).register();
