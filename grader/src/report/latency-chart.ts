import type { LatencySummary } from './model.ts';

// A load run's latencies as a small horizontal bar chart, one line per range of the 1-2-5 scale,
// with the ranges that hold the median and the 99th percentile marked: a long tail or two humps
// show at a glance, where p50 and p99 alone would hide them.

/** Eighths of a cell, so short bars still differ. */
const PARTS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** Three significant digits, whole ms from 100 up. */
const fmt = (ms: number): string => (ms >= 100 ? String(Math.round(ms)) : String(Number(ms.toPrecision(3))));

function bar(count: number, most: number, width: number): string {
  const eighths = Math.round((count / most) * width * 8);
  if (count > 0 && eighths === 0) return PARTS[1]!;
  return '█'.repeat(Math.floor(eighths / 8)) + PARTS[eighths % 8]!;
}

/** The chart as lines of plain text, without indentation or color; pure, for snapshot tests. */
export function renderLatencyChart(latency: LatencySummary, width = 30): string[] {
  if (latency.count === 0 || !latency.buckets.length) return ['latency: no response was timed'];
  const head = `latency of ${latency.count} responses: p50 ${fmt(latency.p50)} ms, p90 ${fmt(latency.p90)} ms, p99 ${fmt(latency.p99)} ms, max ${fmt(latency.max)} ms`;
  const most = Math.max(...latency.buckets.map((b) => b.count));
  const total = latency.buckets.reduce((n, b) => n + b.count, 0);
  // Each mark goes on the first range where the count so far reaches its share, so it sits where the bars say.
  const marks = latency.buckets.map(() => [] as string[]);
  const pending = [{ name: 'p50', share: 0.5 }, { name: 'p99', share: 0.99 }];
  let below = 0;
  latency.buckets.forEach((b, i) => {
    below += b.count;
    while (pending.length && below >= total * pending[0]!.share) marks[i]!.push(pending.shift()!.name);
  });
  const labels = latency.buckets.map((b) => `${fmt(b.fromMs)}–${fmt(b.toMs)} ms`);
  const labelWidth = Math.max(...labels.map((l) => l.length));
  const countWidth = Math.max(...latency.buckets.map((b) => String(b.count).length));
  const lines = latency.buckets.map((b, i) => {
    const mark = marks[i]!.length ? `  ← ${marks[i]!.join(', ')}` : '';
    return `  ${labels[i]!.padStart(labelWidth)}  ${bar(b.count, most, width).padEnd(width)}  ${String(b.count).padStart(countWidth)}${mark}`;
  });
  return [head, ...lines];
}
