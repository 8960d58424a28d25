import type { ChalkInstance } from 'chalk';
import type { ProcessNode, ProcessTree } from './model.ts';

// A process check's evidence drawn as a small tree, the way `ps --forest` would show it: each
// process with its state, threads and the fds that matter, and the check's marks (a zombie, a
// leaked listening socket) in red, so the student sees what the grader saw, not only a sentence.

const STATE: Record<string, string> = { R: 'running', S: 'sleeping', D: 'waiting on disk', Z: 'zombie', T: 'stopped', t: 'traced', I: 'idle' };

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function fdText(p: ProcessNode): string {
  if (!p.fds) return '';
  const parts = [`${plural(p.fds.total, 'fd')}`];
  const sockets = [p.fds.listener ? 'the listening socket' : '', p.fds.clients ? plural(p.fds.clients, 'client') : ''].filter(Boolean);
  if (sockets.length) parts.push(sockets.join(' + '));
  return parts.join(': ');
}

function line(p: ProcessNode, c: ChalkInstance): string {
  const facts = [STATE[p.state] ?? p.state, p.threads !== undefined ? plural(p.threads, 'thread') : '', fdText(p)].filter(Boolean).join(', ');
  const marks = p.marks?.length ? `  ${c.red(`← ${p.marks.join(', ')}`)}` : '';
  return `pid ${p.pid}  ${c.dim(facts)}  ${p.state === 'Z' ? c.dim('(exited, not collected)') : p.command}${marks}`;
}

/** Siblings past the first of a kind that look the same (forty zombies, say), as one line. */
interface Group {
  more: ProcessNode[];
}

const looks = (p: ProcessNode) => JSON.stringify([p.state, p.state === 'Z' ? '' : p.command, p.threads, p.fds, p.marks]);

function collapse(kids: ProcessNode[]): (ProcessNode | Group)[] {
  const out: (ProcessNode | Group)[] = [];
  const seen = new Map<string, Group>();
  for (const k of kids) {
    const key = looks(k);
    const group = seen.get(key);
    if (group) group.more.push(k);
    else {
      const g: Group = { more: [] };
      seen.set(key, g);
      out.push(k, g);
    }
  }
  // A group of one is shown as the process itself.
  return out.flatMap((x): (ProcessNode | Group)[] => ('more' in x ? (x.more.length > 1 ? [x] : x.more) : [x]));
}

/** "pids 10-14, 20": runs of consecutive pids as ranges, at most a line's worth. */
function pidList(ps: ProcessNode[]): string {
  const pids = ps.map((p) => p.pid).sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < pids.length; ) {
    let j = i;
    while (j + 1 < pids.length && pids[j + 1] === pids[j]! + 1) j++;
    runs.push(j > i ? `${pids[i]}-${pids[j]}` : `${pids[i]}`);
    i = j + 1;
  }
  const shown = runs.slice(0, 6).join(', ');
  return `pid${pids.length > 1 ? 's' : ''} ${shown}${runs.length > 6 ? `, and ${runs.length - 6} more runs` : ''}`;
}

/** The tree as lines, indented by `ind`; processes whose parent is not in the tree start trees of their own. */
export function renderProcessTree(tree: ProcessTree, c: ChalkInstance, ind: string): string[] {
  const pids = new Set(tree.processes.map((p) => p.pid));
  const children = new Map<number, ProcessNode[]>();
  for (const p of tree.processes) if (pids.has(p.ppid) && p.pid !== tree.rootPid) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const tops = tree.processes.filter((p) => p.pid === tree.rootPid || !pids.has(p.ppid));
  const lines = [c.dim(`${ind}${tree.caption}:`)];
  const walk = (p: ProcessNode | Group, prefix: string, branch: string) => {
    if ('more' in p) {
      lines.push(`${ind}  ${c.dim(`${prefix + branch}… ${p.more.length} more the same: ${pidList(p.more)}`)}`);
      return;
    }
    lines.push(`${ind}  ${c.dim(prefix + branch)}${line(p, c)}`);
    const kids = collapse(children.get(p.pid) ?? []);
    const next = prefix + (branch === '├─ ' ? '│  ' : branch ? '   ' : '');
    kids.forEach((k, i) => walk(k, next, i === kids.length - 1 ? '└─ ' : '├─ '));
  };
  for (const t of tops) {
    if (t.pid !== tree.rootPid) lines.push(c.dim(`${ind}  (parent ${t.ppid}, outside the server's tree:)`));
    walk(t, '', '');
  }
  if (!tree.processes.length) lines.push(c.dim(`${ind}  (no process left)`));
  const port: string[] = [];
  if (tree.acceptQueue !== undefined) port.push(`accept queue ${tree.acceptQueue}${tree.backlog !== undefined ? ` of ${tree.backlog}` : ''}`);
  const states = Object.entries(tree.connections ?? {});
  if (states.length) port.push(`connections ${states.map(([s, n]) => `${s} ${n}`).join(', ')}`);
  if (port.length) lines.push(c.dim(`${ind}  port: ${port.join('; ')}`));
  return lines;
}
