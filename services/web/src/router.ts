/** The app's three screens, by path. History API only: no router library for three routes. */
import { useSyncExternalStore } from 'react';

export type Route = { page: 'home' } | { page: 'session'; id: string } | { page: 'test' } | { page: 'not-found' };

export function parseRoute(path: string): Route {
  if (path === '/' || path === '') return { page: 'home' };
  if (path === '/test' || path === '/test/') return { page: 'test' };
  const session = /^\/session\/([A-Za-z0-9][A-Za-z0-9_-]{0,100})\/?$/.exec(path);
  if (session !== null) return { page: 'session', id: session[1]! };
  return { page: 'not-found' };
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function navigate(path: string): void {
  history.pushState(null, '', path);
  listeners.forEach((l) => l());
}

export function usePath(): string {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => location.pathname,
  );
}

/** The room of a session page. */
export const sessionRoom = (id: string): string => `session_${id}`;
