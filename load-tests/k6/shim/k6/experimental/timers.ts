import { hold } from '../runtime.js';
const releases = new Map<unknown, () => void>();
export function setTimeout(fn: () => void, ms: number): unknown {
  const release = hold();
  const id = globalThis.setTimeout(() => {
    releases.delete(id);
    try {
      fn();
    } finally {
      release();
    }
  }, ms);
  releases.set(id, release);
  return id;
}
export function clearTimeout(id: unknown): void {
  globalThis.clearTimeout(id as NodeJS.Timeout);
  releases.get(id)?.();
  releases.delete(id);
}
export function setInterval(fn: () => void, ms: number): unknown {
  const id = globalThis.setInterval(fn, ms);
  releases.set(id, hold());
  return id;
}
export function clearInterval(id: unknown): void {
  globalThis.clearInterval(id as NodeJS.Timeout);
  releases.get(id)?.();
  releases.delete(id);
}
