import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Resident memory and CPU time of server processes, read from /proc (Linux only). */

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** VmRSS in bytes; undefined when the process is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds the process has used so far; undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name.
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

export interface ProcessSample {
  at: number;
  rssBytes: number;
  cpuSeconds: number;
  /** Pids that could not be read (exited). */
  missing: number[];
}

/** One reading summed over several pids (a gateway and a rooms process, say). */
export function sample(pids: readonly number[]): ProcessSample {
  let rssBytes = 0;
  let cpu = 0;
  const missing: number[] = [];
  for (const pid of pids) {
    const rss = residentBytes(pid);
    const seconds = cpuSeconds(pid);
    if (rss === undefined || seconds === undefined) missing.push(pid);
    rssBytes += rss ?? 0;
    cpu += seconds ?? 0;
  }
  return { at: Date.now(), rssBytes, cpuSeconds: cpu, missing };
}

/** Every live process in process group `pgid` (what `--spawn-server` started, shell included). */
export function processGroupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // pgrp is field 5 of stat, 3rd after the name.
      if (Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}
