import { createRequire } from 'node:module';
import type int32 from 'hdr-histogram-js/dist/Int32Histogram.js';
import type { LatencyBucket, LatencySummary } from '../../report/model.ts';

// Latencies go into an HdrHistogram in whole microseconds, 3 significant digits. Its pure-JS build:
// the wasm build records a value about four times faster (~50 ns against ~200 ns on a busy 2-core
// machine, Node 20 and 24 alike) but takes 65-200 ms to compile first, more than it saves over a
// run of a few seconds at 65k requests a second. The class comes from its own file, since the
// package's index loads the wasm and zlib code too (~40 ms more at start), and through require,
// since loaders disagree on what a default import of CommonJS is (vitest's and Node's differ).

const { default: Int32Histogram } = createRequire(import.meta.url)('hdr-histogram-js/dist/Int32Histogram.js') as typeof int32;

/** Anything slower is counted as this: an hour, far past any per-request timeout. */
const HIGHEST_US = 3_600_000_000;

const STEPS = [1, 2, 5] as const;

/** Edge k of the 1-2-5 scale, in µs: 1, 2, 5, 10, 20, 50, ... */
const edge = (k: number): number => STEPS[k % 3]! * 10 ** Math.floor(k / 3);

/** The range a latency falls in: k where edge(k) ≤ us < edge(k + 1), or -1 below 1 µs. */
function rangeOf(us: number): number {
  if (us < 1) return -1;
  let k = 0;
  while (edge(k + 1) <= us) k++;
  return k;
}

const ms = (us: number): number => Math.round(us) / 1000;

/** Records one run's latencies and sums them up as plain JSON with fixed percentile keys. */
export class LatencyRecorder {
  private readonly histogram = new Int32Histogram(1, HIGHEST_US, 3);

  record(us: number): void {
    this.histogram.recordValue(us < HIGHEST_US ? us : HIGHEST_US);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary {
    const h = this.histogram;
    if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0, buckets: [] };
    return {
      count: h.totalCount,
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      max: ms(h.maxValue),
      mean: ms(h.mean),
      buckets: this.buckets(),
    };
  }

  private buckets(): LatencyBucket[] {
    const counts = new Map<number, number>();
    const it = this.histogram.recordedValuesIterator;
    it.reset();
    while (it.hasNext()) {
      const v = it.next();
      const k = rangeOf(this.histogram.lowestEquivalentValue(v.valueIteratedTo));
      counts.set(k, (counts.get(k) ?? 0) + v.countAtValueIteratedTo);
    }
    const buckets: LatencyBucket[] = [];
    // Every range from the first with a count to the last, empty ones too, so the scale has no gaps.
    for (let k = Math.min(...counts.keys()), top = Math.max(...counts.keys()); k <= top; k++) {
      buckets.push({ fromMs: k < 0 ? 0 : ms(edge(k)), toMs: ms(edge(k + 1)), count: counts.get(k) ?? 0 });
    }
    return buckets;
  }
}
