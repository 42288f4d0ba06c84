// The shim's shared state: which VU is running (AsyncLocalStorage follows it into socket and
// timer callbacks), what keeps it alive, and every metric sample.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface VuContext {
  vu: number;
  scenario: string;
  iterationInTest: number;
  pending: number;
  done: () => void;
}

export const als = new AsyncLocalStorage<VuContext>();
export const samples: Array<{ metric: string; type: string; value: number; tags: Record<string, string> }> = [];
export const declared = new Map<string, string>();

/** Something that keeps the current VU's iteration running until released (a socket, a timer). */
export function hold(): () => void {
  const context = als.getStore();
  if (!context) return () => undefined;
  context.pending++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--context.pending === 0) context.done();
  };
}

export function current(): VuContext {
  const context = als.getStore();
  if (!context) throw new Error('k6 shim: not inside a VU');
  return context;
}
