/**
 * Coalesces store notifications to at most one per animation frame. `useSyncExternalStore`
 * renders synchronously on every notification; a lecture can deliver hundreds of events a
 * second, and rendering more often than the screen refreshes is wasted work. The store's
 * snapshot is always current; only how often React is told to look is limited.
 */
export type Subscribe = (listener: () => void) => () => void;

export function throttleToFrames(subscribe: Subscribe): Subscribe {
  const frame: (fn: () => void) => unknown =
    typeof requestAnimationFrame === 'function' ? (fn) => requestAnimationFrame(fn) : (fn) => setTimeout(fn, 16);
  return (listener) => {
    let scheduled = false;
    let active = true;
    const unsubscribe = subscribe(() => {
      if (scheduled) return;
      scheduled = true;
      frame(() => {
        scheduled = false;
        if (active) listener();
      });
    });
    return () => {
      active = false;
      unsubscribe();
    };
  };
}
