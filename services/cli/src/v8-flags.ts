/**
 * V8 settings for the `lectern` services, applied before any service code runs.
 *
 * Allocation-site pretenuring off. V8 watches where objects are allocated, and when most
 * objects from one place survived their first garbage collections it allocates the next ones
 * from there directly in the old generation. In a server that is a trap: during start-up and the
 * join ramp (actors loaded from the log, thousands of joins in flight) objects from the hot path
 * do survive, V8 pretenures those sites, and from then on every short-lived object they create
 * (the flush's parameters and result rows, decoded commands) is old-generation garbage that only
 * a mark-compact frees. Sampling what reached the old generation in a W2 run of the rooms process
 * showed a third of it coming from the Postgres flush path alone, objects that live ~1 ms. With
 * pretenuring off, in interleaved W2 runs the rooms process ran fewer mark-compacts and the p99
 * fell (README, Benchmarks, has the figures).
 *
 * The flag is read when V8 decides, not at start-up, so setting it here, before the services'
 * modules load, covers all their code; worker threads share the process's V8 flags. Node's own
 * `--allocation-site-pretenuring` on the command line keeps V8's default.
 */
import { setFlagsFromString } from 'node:v8';

export function applyServiceV8Flags(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => arg.includes('allocation-site-pretenuring'))) return false;
  setFlagsFromString('--no-allocation-site-pretenuring');
  return true;
}
