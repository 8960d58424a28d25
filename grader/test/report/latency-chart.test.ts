import { describe, expect, it } from 'vitest';
import { renderLatencyChart } from '../../src/report/latency-chart.ts';
import type { LatencySummary, RunResult } from '../../src/report/model.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import { assertValidResult } from '../../src/report/validate.ts';

const SUMMARY: LatencySummary = {
  count: 1000,
  p50: 0.731,
  p90: 1.52,
  p99: 12.3,
  max: 41.7,
  mean: 1.04,
  buckets: [
    { fromMs: 0.2, toMs: 0.5, count: 120 },
    { fromMs: 0.5, toMs: 1, count: 600 },
    { fromMs: 1, toMs: 2, count: 240 },
    { fromMs: 2, toMs: 5, count: 25 },
    { fromMs: 5, toMs: 10, count: 0 },
    { fromMs: 10, toMs: 20, count: 13 },
    { fromMs: 20, toMs: 50, count: 2 },
  ],
};

/** One exercise, one passing check, whose one measurement carries `latency`. */
function resultWith(latency: LatencySummary): RunResult {
  return {
    tool: { name: 'serverlab', version: '0.1.0' },
    target: 'solutions',
    seed: '1a2b3c4d',
    startedAt: '2025-01-01T00:00:00.000Z',
    durationMs: 1000,
    platform: 'linux',
    score: 1,
    maxScore: 1,
    passPercent: 100,
    passMark: 1,
    passed: true,
    graderErrors: 0,
    unfinished: 0,
    bailed: false,
    hints: {},
    exercises: [
      {
        id: '08-event-loop',
        title: 'One thread, many clients',
        track: 'ts',
        score: 1,
        maxScore: 1,
        durationMs: 900,
        checks: [
          {
            id: 'throughput',
            title: 'keeps up under load',
            points: 1,
            score: 1,
            status: 'pass',
            durationMs: 800,
            evidence: { message: 'ok', measurements: [{ label: 'requests per second', value: 5000, unit: 'req/s', headline: true, latency }] },
          },
        ],
      },
    ],
  };
}

describe('renderLatencyChart', () => {
  it('draws one bar per range, scaled to the largest, with the ranges of p50 and p99 marked', () => {
    expect(renderLatencyChart(SUMMARY, 20)).toEqual([
      'latency of 1000 responses: p50 0.731 ms, p90 1.52 ms, p99 12.3 ms, max 41.7 ms',
      '  0.2–0.5 ms  ████                  120',
      '    0.5–1 ms  ████████████████████  600  ← p50',
      '      1–2 ms  ████████              240',
      '      2–5 ms  ▉                      25',
      '     5–10 ms                          0',
      '    10–20 ms  ▍                      13  ← p99',
      '    20–50 ms  ▏                       2',
    ]);
  });

  it('puts both marks on one range when it holds both percentiles', () => {
    const one: LatencySummary = { count: 10, p50: 0.3, p90: 0.3, p99: 0.4, max: 0.4, mean: 0.3, buckets: [{ fromMs: 0.2, toMs: 0.5, count: 10 }] };
    expect(renderLatencyChart(one, 10)).toEqual(['latency of 10 responses: p50 0.3 ms, p90 0.3 ms, p99 0.4 ms, max 0.4 ms', '  0.2–0.5 ms  ██████████  10  ← p50, p99']);
  });

  it('says so when no response was timed', () => {
    expect(renderLatencyChart({ count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0, buckets: [] })).toEqual(['latency: no response was timed']);
  });
});

describe('a measurement with a latency summary', () => {
  it('fits the result schema', () => {
    expect(() => assertValidResult(resultWith(SUMMARY))).not.toThrow();
    const bad = resultWith({ ...SUMMARY, buckets: [{ fromMs: 0.2, toMs: 0.5, count: -1 }] });
    expect(() => assertValidResult(bad)).toThrow(/count/);
  });

  it('is drawn under its figure in the terminal report', () => {
    const text = renderTerminal(resultWith(SUMMARY), { color: false });
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.includes('measured: requests per second 5000 req/s'));
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1, at + 3)).toEqual(['      latency of 1000 responses: p50 0.731 ms, p90 1.52 ms, p99 12.3 ms, max 41.7 ms', `        0.2–0.5 ms  ${'█'.repeat(6)}${' '.repeat(24)}  120`]);
  });
});
