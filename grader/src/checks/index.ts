import type { ExerciseDefinition } from './define.ts';
import sockets from './01-sockets.ts';
import http from './02-http.ts';
import urls from './03-urls.ts';
import gateway from './04-gateway.ts';
import fork from './05-fork.ts';
import prefork from './06-prefork.ts';
import threads from './07-threads.ts';
import eventLoop from './08-event-loop.ts';
import proxy from './09-proxy.ts';

// Every exercise's checks, by exercise id. A test ties each list to the exercise's exercise.json.
export const EXERCISE_CHECKS: Record<string, ExerciseDefinition> = {
  [sockets.id]: sockets,
  [http.id]: http,
  [urls.id]: urls,
  [gateway.id]: gateway,
  [fork.id]: fork,
  [prefork.id]: prefork,
  [threads.id]: threads,
  [eventLoop.id]: eventLoop,
  [proxy.id]: proxy,
};
