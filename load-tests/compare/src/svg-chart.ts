/**
 * A grouped bar chart as a standalone SVG: one group per category, one bar per series,
 * a labelled y axis with round ticks. Enough for RESULTS.md, with no dependency.
 */
export interface BarChart {
  title: string;
  yLabel: string;
  categories: string[];
  series: Array<{ name: string; color: string; values: Array<number | undefined> }>;
  /** A horizontal reference line (a target), with its label. */
  line?: { value: number; label: string };
  /** Logarithmic y axis (for values spanning orders of magnitude). */
  log?: boolean;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceStep(max: number): number {
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const n = raw / power;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * power;
}

const format = (v: number) =>
  v >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : v >= 1e4 ? `${+(v / 1e3).toFixed(0)}k` : v >= 1000 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toPrecision(3)}`;

export function barChartSvg(chart: BarChart): string {
  const width = 760;
  const height = 360;
  const left = 70;
  const right = 20;
  const top = 40;
  const bottom = 80;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = chart.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  if (chart.line) all.push(chart.line.value);
  const max = Math.max(...all, 0) || 1;
  let y: (v: number) => number;
  const ticks: number[] = [];
  if (chart.log) {
    const positive = all.filter((v) => v > 0);
    const lo = 10 ** Math.floor(Math.log10(Math.min(...positive, max)));
    const hi = 10 ** Math.ceil(Math.log10(max));
    for (let t = lo; t <= hi; t *= 10) ticks.push(t);
    y = (v) => top + plotH - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) * plotH;
  } else {
    const step = niceStep(max);
    const hi = Math.ceil(max / step) * step;
    for (let t = 0; t <= hi + step / 2; t += step) ticks.push(t);
    y = (v) => top + plotH - (v / hi) * plotH;
  }
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(chart.title)}</text>`);
  for (const t of ticks) {
    const ty = y(t);
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${ty + 4}" text-anchor="end" fill="#444">${format(t)}</text>`);
  }
  parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#444">${escape(chart.yLabel)}</text>`);
  const groupW = plotW / Math.max(1, chart.categories.length);
  const barW = Math.min(40, (groupW * 0.8) / Math.max(1, chart.series.length));
  chart.categories.forEach((category, c) => {
    const x0 = left + c * groupW + (groupW - barW * chart.series.length) / 2;
    chart.series.forEach((series, s) => {
      const value = series.values[c];
      const x = x0 + s * barW;
      if (value === undefined || !Number.isFinite(value)) {
        parts.push(`<text x="${x + barW / 2}" y="${top + plotH - 4}" text-anchor="middle" font-size="10" fill="#999">n/a</text>`);
        return;
      }
      const by = y(value);
      parts.push(`<rect x="${x + 1}" y="${by}" width="${barW - 2}" height="${Math.max(0, top + plotH - by)}" fill="${series.color}"><title>${escape(`${series.name}, ${category}: ${value}`)}</title></rect>`);
      parts.push(`<text x="${x + barW / 2}" y="${by - 3}" text-anchor="middle" font-size="9" fill="#222">${format(value)}</text>`);
    });
    parts.push(`<text x="${left + c * groupW + groupW / 2}" y="${top + plotH + 16}" text-anchor="middle">${escape(category)}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#444"/>`);
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#444"/>`);
  if (chart.line) {
    const ly = y(chart.line.value);
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${ly}" y2="${ly}" stroke="#c00" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${width - right}" y="${ly - 4}" text-anchor="end" fill="#c00">${escape(chart.line.label)}</text>`);
  }
  // Legend under the axis.
  let lx = left;
  const ly = height - 24;
  for (const series of chart.series) {
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${series.color}"/>`);
    parts.push(`<text x="${lx + 16}" y="${ly}">${escape(series.name)}</text>`);
    lx += 24 + series.name.length * 6.5;
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
