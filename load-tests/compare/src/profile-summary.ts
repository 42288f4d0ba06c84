import { readFileSync } from 'node:fs';

/**
 * Where a `node --cpu-prof` profile's time went: self time per function and per area
 * (our packages, each dependency, Node internals, GC), largest first.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Busy time: total minus `(idle)`. */
  busyMs: number;
  byArea: Array<{ area: string; ms: number; share: number }>;
  topFunctions: Array<{ function: string; area: string; ms: number; share: number }>;
}

/** The package or part of the process a script URL belongs to. */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'native (program)';
    return functionName.startsWith('(') ? functionName : 'native';
  }
  if (url.startsWith('node:')) return 'node internals';
  // The only WebAssembly in Lectern's process is PGlite's Postgres.
  if (url.startsWith('wasm://')) return 'WebAssembly (PGlite)';
  const ours = /\/(services|libs)\/([^/]+)\//.exec(url);
  if (ours && !url.includes('/node_modules/')) return `@lectern/${ours[2]}`;
  const dependency = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url.slice(url.lastIndexOf('/node_modules/')));
  if (dependency) return dependency[1]!;
  return url.replace(/^file:\/\//, '');
}

/**
 * `window`: only the samples taken between `fromMs` and `toMs` (epoch ms), given that the
 * process exited (the profile's `endTime`) at `exitedAtMs`, give or take a few ms.
 */
export function summarizeProfile(file: string, window?: { fromMs: number; toMs: number; exitedAtMs: number }, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    startTime: number;
    endTime: number;
    samples?: number[];
    timeDeltas?: number[];
  };
  if (window && profile.samples && profile.timeDeltas) {
    // Recount hits from the samples inside the window (profile clock: µs, ending at endTime).
    const offsetUs = window.exitedAtMs * 1000 - profile.endTime;
    const from = window.fromMs * 1000 - offsetUs;
    const to = window.toMs * 1000 - offsetUs;
    const hits = new Map<number, number>();
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      t += profile.timeDeltas[i] ?? 0;
      if (t >= from && t <= to) hits.set(profile.samples[i]!, (hits.get(profile.samples[i]!) ?? 0) + 1);
    }
    for (const node of profile.nodes) node.hitCount = hits.get(node.id) ?? 0;
    profile.startTime = Math.max(profile.startTime, from);
    profile.endTime = Math.min(profile.endTime, to);
  }
  const totalSamples = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0);
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerSample = totalSamples > 0 ? totalMs / totalSamples : 0;
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, { area: string; ms: number }>();
  let idleMs = 0;
  for (const node of profile.nodes) {
    const ms = (node.hitCount ?? 0) * msPerSample;
    if (ms === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    if (area === 'idle') {
      idleMs += ms;
      continue;
    }
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
    const where = url ? `${url.replace(/^.*\/(node_modules|services|libs)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    const entry = byFunction.get(key) ?? { area, ms: 0 };
    entry.ms += ms;
    byFunction.set(key, entry);
  }
  const busyMs = totalMs - idleMs;
  const share = (ms: number) => Math.round((ms / Math.max(busyMs, 1)) * 1000) / 10;
  const r = (ms: number) => Math.round(ms);
  return {
    file,
    totalMs: r(totalMs),
    busyMs: r(busyMs),
    byArea: [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([area, ms]) => ({ area, ms: r(ms), share: share(ms) })),
    topFunctions: [...byFunction.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, top)
      .map(([fn, { area, ms }]) => ({ function: fn, area, ms: r(ms), share: share(ms) })),
  };
}
