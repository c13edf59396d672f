// What `npm run soak` reads and how it judges: the server process's figures, read from outside
// through /proc (so measuring adds no request, socket or timer to the server), and the rule that
// calls a series flat or growing.
import { readdirSync, readFileSync } from 'node:fs';
import { establishedConnections } from '../../lessons/09-disconnects-and-shutdown/held-resources.ts';
import { openDescriptorsTo } from '../../lessons/shared/testing.ts';

export interface ProcessReading {
  /** Resident set size (VmRSS), in MB. */
  rssMb: number;
  /** Open file descriptors: files, sockets, pipes, epoll. */
  fds: number;
  /** Established TCP connections on the server's port. */
  tcp: number;
  threads: number;
  /** Descriptors open on the lesson's sample.txt: one per handler still reading it. */
  sampleFileFds: number;
}

export type Metric = keyof ProcessReading;

/** The server's figures now, or undefined once the process is gone. Linux only. */
export function readProcess(pid: number, port: number, sampleFileSuffix: string): ProcessReading | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return {
      rssMb: Math.round((field('VmRSS') / 1024) * 10) / 10,
      fds: readdirSync(`/proc/${pid}/fd`).length,
      tcp: establishedConnections(pid, port) ?? NaN,
      threads: field('Threads'),
      sampleFileFds: openDescriptorsTo(pid, sampleFileSuffix),
    };
  } catch {
    return undefined;
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** How much a metric may rise over the judged stretch of a run before it counts as growth. */
export interface Limit {
  metric: Metric;
  label: string;
  /** In the metric's unit: the most its median may rise, and the most its fitted line may rise. */
  maxRise: number;
}

export interface MetricTrend extends Limit {
  firstThirdMedian: number;
  lastThirdMedian: number;
  /** Median of the last third minus median of the first third. */
  rise: number;
  /** Least-squares slope over every judged sample. */
  slopePerMinute: number;
  /** The slope times the judged stretch: how much the fitted line rose. */
  fittedRise: number;
  flat: boolean;
}

export type Trend =
  | { judged: false; why: string }
  | { judged: true; flat: boolean; samples: number; fromS: number; toS: number; metrics: MetricTrend[] };

export interface JudgeOptions {
  /** Samples before this (seconds into the load) are left out: the heap is still growing into its working size. */
  warmUpS: number;
  /** Too short a stretch after the warm-up says nothing about a trend. */
  minJudgedS: number;
  minSamples: number;
}

/**
 * The rule: leave out the warm-up; split what is left into thirds by sample count; a metric is
 * flat when the median of its last third is at most `maxRise` above the median of its first
 * third, and the least-squares line through every judged sample rises by at most `maxRise` over
 * the judged stretch. The second test uses every sample, so it catches a slow leak that the
 * medians' noise could hide; the same limit in both keeps it one number per metric, and makes a
 * longer run stricter per minute.
 */
export function judgeTrend(
  samples: { t: number; server: ProcessReading }[],
  limits: Limit[],
  { warmUpS, minJudgedS, minSamples }: JudgeOptions,
): Trend {
  const judged = samples.filter((s) => s.t >= warmUpS);
  const span = judged.length > 0 ? judged.at(-1)!.t - judged[0]!.t : 0;
  if (judged.length < minSamples || span < minJudgedS) {
    return {
      judged: false,
      why:
        `${judged.length} samples over ${Math.round(span)} s after a ${warmUpS} s warm-up; ` +
        `a trend needs ${minSamples} over ${minJudgedS} s`,
    };
  }
  const third = Math.floor(judged.length / 3);
  const minutes = judged.map((s) => s.t / 60);
  const metrics = limits.map((limit) => {
    const values = judged.map((s) => s.server[limit.metric]);
    const firstThirdMedian = median(values.slice(0, third));
    const lastThirdMedian = median(values.slice(-third));
    const rise = lastThirdMedian - firstThirdMedian;
    const slopePerMinute = slope(minutes, values);
    const fittedRise = slopePerMinute * (span / 60);
    const flat = rise <= limit.maxRise && fittedRise <= limit.maxRise;
    return { ...limit, firstThirdMedian, lastThirdMedian, rise, slopePerMinute, fittedRise, flat };
  });
  return {
    judged: true,
    flat: metrics.every((m) => m.flat),
    samples: judged.length,
    fromS: judged[0]!.t,
    toS: judged.at(-1)!.t,
    metrics,
  };
}
