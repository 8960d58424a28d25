// Process groups of servers that are still running. If the grader itself is interrupted, these
// are killed on the way out, so no student server outlives the grader.
export const liveGroups = new Set<number>();

let installed = false;

export function killLiveGroupsOnExit(): void {
  if (installed) return;
  installed = true;
  const killAll = () => {
    for (const pgid of liveGroups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    liveGroups.clear();
  };
  process.on('exit', killAll);
  for (const [sig, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + number);
    });
  }
}
