/**
 * A small HDR-style histogram of non-negative integers (the harness records microseconds).
 * Values below 2048 are exact; above, each power of two is split into 1024 buckets, so any
 * recorded value is within 0.1% of the truth. Fixed buckets make histograms from different
 * worker processes mergeable by adding counts, which sorted samples are not, cheaply.
 */

const SUB_BITS = 10;
const SUB = 1 << SUB_BITS;
const MAX_VALUE = 0xffff_ffff; // ~71 minutes in microseconds
const BUCKETS = 2 * SUB + (32 - SUB_BITS - 1) * SUB;

function bucketOf(value: number): number {
  if (value < 2 * SUB) return value;
  const exponent = 31 - Math.clz32(value) - SUB_BITS;
  return 2 * SUB + (exponent - 1) * SUB + ((value >>> exponent) - SUB);
}

/** The middle of a bucket's range: the value reported for anything that fell into it. */
function valueOf(bucket: number): number {
  if (bucket < 2 * SUB) return bucket;
  const exponent = Math.floor((bucket - 2 * SUB) / SUB) + 1;
  const mantissa = ((bucket - 2 * SUB) % SUB) + SUB;
  return mantissa * 2 ** exponent + (2 ** exponent - 1) / 2;
}

/** Sparse wire form: [bucket, count] pairs plus exact extremes, small enough for IPC. */
export interface HistogramSnapshot {
  count: number;
  sum: number;
  min: number;
  max: number;
  buckets: Array<[number, number]>;
}

export interface Percentiles {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  min: number;
  max: number;
}

export class Histogram {
  private counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(value: number): void {
    const v = value <= 0 ? 0 : value >= MAX_VALUE ? MAX_VALUE : Math.round(value);
    this.counts[bucketOf(v)]! += 1;
    this.count += 1;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(snapshot: HistogramSnapshot): void {
    if (snapshot.count === 0) return;
    for (const [bucket, count] of snapshot.buckets) this.counts[bucket]! += count;
    this.count += snapshot.count;
    this.sum += snapshot.sum;
    this.min = Math.min(this.min, snapshot.min);
    this.max = Math.max(this.max, snapshot.max);
  }

  snapshot(): HistogramSnapshot {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!]);
    return { count: this.count, sum: this.sum, min: this.count ? this.min : 0, max: this.max, buckets };
  }

  /** The smallest recorded value v such that a fraction q of the values are <= v. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(Math.max(valueOf(i), this.min), this.max);
    }
    return this.max;
  }

  /** Percentiles with every value divided by `scale` (1000 turns microseconds into milliseconds). */
  percentiles(scale = 1): Percentiles {
    const round = (v: number) => Math.round((v / scale) * 1000) / 1000;
    return {
      count: this.count,
      mean: this.count ? round(this.sum / this.count) : 0,
      p50: round(this.quantile(0.5)),
      p90: round(this.quantile(0.9)),
      p99: round(this.quantile(0.99)),
      p999: round(this.quantile(0.999)),
      min: this.count ? round(this.min) : 0,
      max: round(this.max),
    };
  }
}
