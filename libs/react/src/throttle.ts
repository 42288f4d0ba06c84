/**
 * Coalesces store notifications. `useSyncExternalStore` renders synchronously on every
 * notification; a lecture can deliver hundreds of events a second, and rendering more often
 * than the screen refreshes, or than a reader can follow, is wasted work. The first change
 * after a quiet period renders on the next animation frame; while changes keep coming, at
 * most one render per `minIntervalMs`. The snapshot is always current; only how often React
 * is told to look is limited.
 */
export type Subscribe = (listener: () => void) => () => void;

export function throttleToFrames(subscribe: Subscribe, minIntervalMs = 0): Subscribe {
  const frame: (fn: () => void) => unknown =
    typeof requestAnimationFrame === 'function' ? (fn) => requestAnimationFrame(fn) : (fn) => setTimeout(fn, 16);
  return (listener) => {
    let scheduled = false;
    let active = true;
    let lastRender = -Infinity;
    const render = () => {
      scheduled = false;
      lastRender = Date.now();
      if (active) listener();
    };
    const unsubscribe = subscribe(() => {
      if (scheduled) return;
      scheduled = true;
      const wait = lastRender + minIntervalMs - Date.now();
      if (wait <= 0) frame(render);
      else setTimeout(() => frame(render), wait);
    });
    return () => {
      active = false;
      unsubscribe();
    };
  };
}
