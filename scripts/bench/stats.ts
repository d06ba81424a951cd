// Medians and spreads of repeated runs: the figure a run reports, and how
// far apart its repeats were (a machine shared with other work is noisy).
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, n: sorted.length };
}

const round = (value: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** `12.3 (11.9-12.8)`: the median, then the lowest and highest repeat */
export function formatSpread(s: Spread, digits = 1, unit = ''): string {
  if (s.n === 0) return '-';
  const text = `${round(s.median, digits)}${unit}`;
  return s.n === 1 ? text : `${text} (${round(s.min, digits)}-${round(s.max, digits)})`;
}
