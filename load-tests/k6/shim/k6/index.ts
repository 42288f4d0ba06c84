// `k6`: sleep is a no-op here (it only staggers starts in our scenarios), fail throws.
export function sleep(_seconds: number): void {}
export function fail(message?: string): never {
  throw new Error(message ?? 'fail()');
}
export function check<T>(value: T, checks: Record<string, (v: T) => boolean>): boolean {
  return Object.values(checks).every((c) => c(value));
}
export function group<T>(_name: string, fn: () => T): T {
  return fn();
}
